"""Drive an excitation plan through the safety stack and log every period.

Each period: read the state, write the plan's command through :class:`SafeRobot` (range,
step and velocity limits, the workspace box, the watchdog), log both with their times, sleep
to the next period. Before the plan the robot is brought from wherever it stands to the
plan's first pose by a smooth move, logged like the rest (from the nearest pose inside the
joints' ranges: a joint found outside its range is brought in by the step limits). A failure or a stop request ends
the run where it is: the rows taken so far stay in :meth:`ExcitationRecorder.log` (marked
incomplete), and the caller closes the robot (torque off).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import numpy as np

from robot_side.errors import RobotSideError
from robot_side.safety.safe_robot import SafeRobot
from robot_side.sysid.excitation import REST, ExcitationConfig, ExcitationPlan
from robot_side.sysid.log_file import FORMAT, SysidLog

APPROACH_SPEED_FRACTION = 0.25
"""The move to the plan's first pose runs at this fraction of the slowest joint's velocity limit."""


class HardwareFaultError(RobotSideError):
    """A servo raised a fault flag (overload, overheat, voltage) during the excitation."""


class ExcitationRecorder:
    """Runs ``plan`` on ``robot`` (an open :class:`SafeRobot` stepping at the plan's rate)."""

    def __init__(self, robot: SafeRobot, plan: ExcitationPlan, excitation: ExcitationConfig, backend: str) -> None:
        if abs(robot.period_s * plan.rate_hz - 1.0) > 1e-9:
            raise ValueError(f"the safety stack steps every {robot.period_s * 1e3:g} ms, the plan at "
                             f"{plan.rate_hz:g} Hz")
        self.robot, self.plan = robot, plan
        spec = robot.spec
        self.meta: dict[str, Any] = {
            "format": FORMAT, "robot": spec.name, "joint_names": list(spec.joint_names),
            "sensor_names": list(spec.sensor_names), "rate_hz": plan.rate_hz, "backend": backend,
            "effort_unit": "A", "started_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "complete": False, "stopped_by": None, "excitation": asdict(excitation),
            "amplitude_rad": plan.amplitude_rad.tolist(), "chirp_end_hz": plan.chirp_end_hz.tolist(),
            "period_error_ms_p99": None}
        self._rows: list[tuple] = []
        self._lateness: list[float] = []

    def run(self, should_stop: Callable[[], str | None] = lambda: None,
            on_progress: Callable[[int, int], None] | None = None) -> SysidLog:
        """Run the plan; ``should_stop()`` returning a reason ends it early (a signal). Raises
        what the robot raises (after keeping the rows so far); a hardware fault raises
        :class:`HardwareFaultError`. Returns :meth:`log`."""
        robot, spec = self.robot, self.robot.spec
        first = robot.read()
        inside = np.clip(first.position_rad, spec.position_min_rad, spec.position_max_rad)
        approach = _approach(inside, self.plan.commands_rad[0],
                             APPROACH_SPEED_FRACTION * float(np.min(spec.velocity_max_rad_s)), self.plan.rate_hz)
        commands = np.concatenate([approach, self.plan.commands_rad])
        segment = np.concatenate([np.full(len(approach), REST), self.plan.segment])
        period = 1.0 / self.plan.rate_hz
        start = robot.now_s()
        self.meta["time_origin_s"] = start
        if robot.watchdog is None and not robot.simulated:
            robot.start_watchdog()
        try:
            for k, (planned, part) in enumerate(zip(commands, segment)):
                reason = should_stop()
                if reason:
                    self.meta["stopped_by"] = reason
                    return self.log()
                state = robot.read()
                fault = robot.fault_summary(state)
                if fault:
                    raise HardwareFaultError(f"hardware fault during the excitation of "
                                             f"{self._joint(part)}: {fault}")
                written_at = robot.now_s()
                sent = robot.write(planned)
                self._rows.append((state.timestamp_s - start, state.position_rad.copy(),
                                   state.velocity_rad_s.copy(), state.effort.copy(),
                                   state.sensor_position_rad.copy(), state.stale, written_at - start,
                                   np.array(sent, dtype=np.float64), planned.copy(), int(part)))
                if on_progress is not None:
                    on_progress(k + 1, len(commands))
                self._lateness.append(robot.sleep_until(start + (k + 1) * period))
        except BaseException as exc:
            self.meta["stopped_by"] = f"{type(exc).__name__}: {exc}"
            raise
        self.meta["complete"] = True
        return self.log()

    def log(self) -> SysidLog:
        """The rows taken so far as a :class:`SysidLog` (``meta["complete"]`` says whether all)."""
        spec = self.robot.spec
        n_joints, n_sensors = len(spec.joint_names), len(spec.sensor_names)
        columns = list(zip(*self._rows)) if self._rows else [()] * 10

        def stack(i: int, width: int, dtype: type = np.float64) -> np.ndarray:
            return np.array(columns[i], dtype=dtype).reshape(len(self._rows), width)

        if self._lateness:
            self.meta["period_error_ms_p99"] = float(np.percentile(np.abs(self._lateness), 99) * 1e3)
        return SysidLog(read_time_s=np.array(columns[0], dtype=np.float64), position_rad=stack(1, n_joints),
                        velocity_rad_s=stack(2, n_joints), effort=stack(3, n_joints),
                        sensor_position_rad=stack(4, n_sensors), stale=np.array(columns[5], dtype=bool),
                        command_time_s=np.array(columns[6], dtype=np.float64), command_rad=stack(7, n_joints),
                        planned_rad=stack(8, n_joints), segment=np.array(columns[9], dtype=np.int64),
                        meta=dict(self.meta))

    def _joint(self, part: int) -> str:
        return "the rest pose" if part == REST else f"joint {self.robot.spec.joint_names[part]}"


def _approach(start: np.ndarray, end: np.ndarray, speed_rad_s: float, rate_hz: float) -> np.ndarray:
    """A half-cosine move from ``start`` to ``end`` whose peak speed is ``speed_rad_s``
    (at least one period)."""
    distance = float(np.max(np.abs(end - start)))
    seconds = np.pi * distance / (2 * speed_rad_s)
    n = max(1, int(np.ceil(seconds * rate_hz)))
    s = (1 - np.cos(np.pi * np.arange(1, n + 1) / n)) / 2
    return start + (end - start) * s[:, None]

