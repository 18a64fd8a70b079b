"""Teleoperation: the follower follows the leader at the control rate, through the safety stack.

Each period: read the follower, take the leader's newest pose (never waiting on the leader's
bus), write it through :class:`~robot_side.safety.safe_robot.SafeRobot` (joint range, per-step
and velocity limits, the workspace box, the watchdog), sleep to the next period. Until the
follower has reached the leader once, it moves toward it at ``engage_speed_fraction`` of the
slowest joint's velocity limit (a leader put down anywhere does not make the follower jump);
from the period its command is within ``engage_tolerance_rad`` of the leader it follows at full
speed, the safety stack's limits still applying.

A leader that stops answering ends the run safely: the follower holds where it is for
``hold_s`` (commands keep coming, so the watchdog stays quiet) and the caller then closes it
(torque off). A hardware fault on the follower ends the run the same way. The report gives
the loop's period error, the leader's age when used and how far the follower's command was
from the leader.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from robot_side.safety.safe_robot import SafeRobot
from robot_side.teleop.leader_arm import LeaderArm, LeaderLostError, LeaderReading


@dataclass(frozen=True)
class FollowSettings:
    """rate_hz: the follower's control rate. hold_s: how long the follower holds after the
    leader is lost (then torque off). engage_speed_fraction / engage_tolerance_rad: the first
    approach to the leader's pose, and when the command counts as there."""

    rate_hz: float
    hold_s: float = 1.0
    engage_speed_fraction: float = 0.25
    engage_tolerance_rad: float = 0.05

    def __post_init__(self) -> None:
        if not self.rate_hz > 0:
            raise ValueError(f"rate_hz must be positive, got {self.rate_hz!r}")
        if self.hold_s < 0:
            raise ValueError(f"hold_s must be >= 0, got {self.hold_s!r}")
        if not 0 < self.engage_speed_fraction <= 1:
            raise ValueError(f"engage_speed_fraction must be in (0, 1], got {self.engage_speed_fraction!r}")


@dataclass
class FollowReport:
    """What a teleoperation run did; :meth:`summary` is its JSON form."""

    steps: int = 0
    seconds: float = 0.0
    ended_by: str = ""
    engaged_after_s: float | None = None
    lateness_s: list[float] = field(default_factory=list)       # sleep overshoot of each period
    leader_age_s: list[float] = field(default_factory=list)     # age of the leader pose used
    tracking_rad: list[float] = field(default_factory=list)     # max |command sent - leader| while following
    leader_reads: int = 0
    failed_leader_reads: int = 0
    paused_steps: int = 0

    def summary(self) -> dict[str, Any]:
        def ms(values: list[float], q: float) -> float | None:
            return float(np.percentile(np.abs(values), q) * 1e3) if values else None

        return {"steps": self.steps, "seconds": round(self.seconds, 3), "ended_by": self.ended_by,
                "engaged_after_s": self.engaged_after_s,
                "period_error_ms": {"p50": ms(self.lateness_s, 50), "p99": ms(self.lateness_s, 99),
                                    "max": ms(self.lateness_s, 100)},
                "leader_age_ms": {"p50": ms(self.leader_age_s, 50), "p99": ms(self.leader_age_s, 99)},
                "tracking_error_rad": {"p50": _q(self.tracking_rad, 50), "p99": _q(self.tracking_rad, 99)},
                "leader_reads": self.leader_reads, "failed_leader_reads": self.failed_leader_reads,
                "paused_steps": self.paused_steps}


def _q(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


class Follower:
    """Drives ``robot`` (an open :class:`SafeRobot` stepping at ``settings.rate_hz``) after
    ``leader`` (an open :class:`LeaderArm` for the same joints)."""

    def __init__(self, robot: SafeRobot, leader: LeaderArm, settings: FollowSettings) -> None:
        if abs(robot.period_s * settings.rate_hz - 1.0) > 1e-9:
            raise ValueError(f"the safety stack steps every {robot.period_s * 1e3:g} ms, teleop at "
                             f"{settings.rate_hz:g} Hz")
        self.robot, self.leader, self.settings = robot, leader, settings
        spec = robot.spec
        self._engage_step_rad = (settings.engage_speed_fraction * float(np.min(spec.velocity_max_rad_s))
                                 / settings.rate_hz)

    def run(self, seconds: float | None = None, should_stop: Callable[[], str | None] = lambda: None,
            before_step: Callable[[float], None] | None = None,
            on_step: Callable[[np.ndarray, LeaderReading], None] | None = None,
            paused: Callable[[], bool] = lambda: False) -> FollowReport:
        """Follow until ``seconds`` have passed, ``should_stop()`` gives a reason, the leader
        is lost or the follower faults. ``before_step(t_s)`` runs first in each period (a
        scripted operator moving a virtual leader); ``on_step(sent, reading)`` after the write.
        While ``paused()`` the follower holds its command and the leader is not followed;
        afterwards it engages again (slowly, to wherever the leader went meanwhile)."""
        robot, settings = self.robot, self.settings
        report = FollowReport()
        period = 1.0 / settings.rate_hz
        start = robot.now_s()
        if robot.watchdog is None and not robot.simulated:
            robot.start_watchdog()
        command = robot.restart_from(robot.read().position_rad)
        engaged = False
        k = 0
        while True:
            if seconds is not None and k * period >= seconds:
                report.ended_by = "time"
                break
            reason = should_stop()
            if reason:
                report.ended_by = reason
                break
            if before_step is not None:
                before_step(k * period)
            state = robot.read()
            fault = robot.fault_summary(state)
            if fault:
                report.ended_by = f"follower fault: {fault}"
                self._hold(report)
                break
            try:
                reading = self.leader.latest()
            except LeaderLostError as exc:
                report.ended_by = f"leader lost: {exc}"
                self._hold(report)
                break
            if paused():
                report.paused_steps += 1
                engaged = False
                robot.write(command)
                k += 1
                report.lateness_s.append(robot.sleep_until(start + k * period))
                continue
            goal = reading.position_rad
            following = engaged
            if following:
                command = goal
            else:
                command = command + np.clip(goal - command, -self._engage_step_rad, self._engage_step_rad)
                if float(np.max(np.abs(goal - command))) < settings.engage_tolerance_rad:
                    engaged = True
                    if report.engaged_after_s is None:
                        report.engaged_after_s = round(k * period, 3)
            sent = robot.write(command)
            command = sent  # the limits decide where the next step starts
            report.leader_age_s.append(reading.age_s)
            if following:
                report.tracking_rad.append(float(np.max(np.abs(sent - goal))))
            if on_step is not None:
                on_step(sent, reading)
            k += 1
            report.lateness_s.append(robot.sleep_until(start + k * period))
        report.steps = k
        report.seconds = robot.now_s() - start
        report.leader_reads = self._reads()
        report.failed_leader_reads = self.leader.failed_reads
        return report

    def _reads(self) -> int:
        try:
            return self.leader.latest().reads
        except LeaderLostError:
            return 0

    def _hold(self, report: FollowReport) -> None:
        """Hold the present pose for ``hold_s``, commanding it every period."""
        robot = self.robot
        held = robot.hold()
        period = 1.0 / self.settings.rate_hz
        until = time.monotonic() + self.settings.hold_s
        next_s = robot.now_s()
        while time.monotonic() < until:
            robot.read()
            robot.write(held)
            next_s += period
            robot.sleep_until(next_s)
