"""``SafeRobot``: the one object every path that moves a motor goes through.

The env, the real-time control loop, the deploy runner and a fleet's robots all drive their
robot (the twin, virtual hardware or the real arm) through it, so no path can skip a layer
and none re-implements one (docs/safety.md):

1. limits from the robot config, sized from the control period actually used: each joint's
   range, and a largest change per step of ``min(max_step_rad, velocity_max_rad_s *
   period_s)``; for an arm, the workspace box its gripper must stay in;
2. the robot's own ``write`` clips to the joint range again, and ``BusRobot`` programs the
   servos' own limits;
3. a watchdog, while commands are due (the real-time loop, the deploy runner): no command for
   ``safety.watchdog_hold_periods`` periods and the robot holds its position, then torque off;
4. torque off on every exit: ``close`` (called in a ``finally`` by every path, and by
   ``robot_side.safety.StopSignals`` users on SIGINT, SIGTERM and SIGHUP), a driver error
   that cannot be retried, a fault that persists;
5. hardware fault flags end the episode (``fault_summary``, which the env checks).

Also here: a command with a NaN or infinite entry is refused before anything is sent, and a
state read that fails transiently is retried within the period, then stood in for by the
last good state (marked ``stale``; the env holds its command), and only a fault that
persists for ``safety.max_missed_reads`` periods ends the run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import TracebackType

import numpy as np

from drivers.errors import DriverError, TransientBusError
from drivers.robot import JointState, Robot, RobotSpec
from drivers.robot_config import SafetyConfig
from drivers.safety import CommandLimiter
from robot_side.errors import BusFaultPersistsError, InvalidCommandError, WatchdogTrippedError
from robot_side.safety.watchdog import Watchdog
from robot_side.safety.workspace_guard import WorkspaceGuard

log = logging.getLogger(__name__)


class SafeRobot:
    """``robot`` behind the safety stack, stepping every ``period_s`` seconds.

    settings: the robot config's ``safety`` section. workspace: the arm's workspace guard (it
    shares this object's limiter), or None. A ``Robot`` itself: the same interface, plus
    :meth:`restart_from`, the watchdog's :meth:`start_watchdog` / :meth:`commands_paused`,
    :meth:`fault_summary` and ``stats`` (read retries, stale reads, faults).
    """

    def __init__(self, robot: Robot, period_s: float, settings: SafetyConfig = SafetyConfig(),
                 workspace: WorkspaceGuard | None = None) -> None:
        if not (math.isfinite(period_s) and period_s > 0):
            raise ValueError(f"control period must be a positive number of seconds, got {period_s!r}")
        self.robot = robot
        self.spec: RobotSpec = robot.spec
        self.period_s = period_s
        self.settings = settings
        self.limiter = CommandLimiter(self.spec, self.spec.max_step_rad, period_s)
        self.workspace = workspace
        if workspace is not None:
            workspace.use_limiter(self.limiter)
        self.watchdog: Watchdog | None = None
        self.stats: Counter[str] = Counter()
        self._shape = self.limiter.low.shape
        self._last_state: JointState | None = None
        self._missed = 0

    @property
    def read_only(self) -> bool:
        return self.robot.read_only

    @property
    def simulated(self) -> bool:
        return self.robot.simulated

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> "SafeRobot":
        """Open the robot (torque on, holding its pose) and start the limits from that pose."""
        self.robot.open()
        try:
            state = self.robot.read()
        except BaseException:
            self.robot.close()
            raise
        self._last_state = state
        self.limiter.reset(state.position_rad)
        return self

    def close(self) -> None:
        """Stop the watchdog and close the robot: torque off. Idempotent."""
        try:
            if self.watchdog is not None:
                self.watchdog.stop()
                self.watchdog = None
        finally:
            self.robot.close()

    def __enter__(self) -> "SafeRobot":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- Robot interface -------------------------------------------------------------------------
    def read(self) -> JointState:
        """A fresh state; after a transient bus error, retried while less than
        ``read_retry_fraction`` of the period has passed, then the last good state marked
        ``stale``. Raises ``BusFaultPersistsError`` (torque off) after ``max_missed_reads``
        periods in a row without a fresh state, and any other driver error at once (torque
        off where the bus still answers)."""
        started = time.monotonic()
        while True:
            try:
                state = self.robot.read()
            except TransientBusError as exc:
                if time.monotonic() - started < self.settings.read_retry_fraction * self.period_s:
                    self.stats["read_retries"] += 1
                    continue
                return self._stand_in(exc)
            except DriverError:
                self.torque_off()
                raise
            self._missed = 0
            self._last_state = state
            return state

    def _stand_in(self, exc: TransientBusError) -> JointState:
        """The last good state, marked stale, for a period whose read failed; or the end."""
        self._missed += 1
        self.stats["stale_reads"] += 1
        limit = self.settings.max_missed_reads
        if self._last_state is None or self._missed >= limit:
            self.torque_off()
            raise BusFaultPersistsError(
                f"robot {self.spec.name}: no fresh state for {self._missed} period(s) in a row "
                f"(safety.max_missed_reads: {limit}); torque turned off. Last error: {exc}") from exc
        log.warning("robot %s: state read failed (%s); holding the last command with the last good state "
                    "(%d of %d periods in a row)", self.spec.name, exc, self._missed, limit)
        return dataclasses.replace(self._last_state, stale=True)

    def write(self, position_rad: np.ndarray) -> np.ndarray:
        """Limit ``position_rad`` (workspace, per-step change sized from the period, range) and
        send it; returns what was sent. Raises ``InvalidCommandError`` for a wrong shape or a
        non-finite entry (nothing sent) and ``WatchdogTrippedError`` once the watchdog has
        turned torque off (a limp robot is never commanded again)."""
        command = np.asarray(position_rad, dtype=np.float64)
        if command.shape != self._shape:
            raise InvalidCommandError(f"joint command has shape {command.shape}, expected {self._shape} "
                                      f"(joints {list(self.spec.joint_names)})")
        # A dot product costs a third of np.isfinite(...).all(); it is finite unless an entry
        # is not, or the squares overflow (an entry over 1e154), which the exact test settles.
        if not math.isfinite(command.dot(command)) and not np.isfinite(command).all():
            bad = [f"{name}={value}" for name, value in zip(self.spec.joint_names, command.tolist())
                   if not math.isfinite(value)]
            raise InvalidCommandError(f"joint command has non-finite values ({', '.join(bad)}); nothing was sent")
        watchdog = self.watchdog
        if watchdog is not None and watchdog.torque_cut:
            raise WatchdogTrippedError("the watchdog turned torque off: nothing had commanded the robot for "
                                       f"{watchdog.hold_after_s + watchdog.torque_off_after_s:.2f} s")
        last = self.limiter.last
        if last is None:  # not opened through this stack: start the limits from where the robot is
            last = self.restart_from(self.robot.read().position_rad)
        if self.workspace is not None:
            command = self.workspace(command, last)
        command = self.limiter(command)
        try:
            sent = self.robot.write(command)
        except DriverError:
            self.torque_off()
            raise
        if watchdog is not None:
            watchdog.kick()
        return sent

    def now_s(self) -> float:
        return self.robot.now_s()

    def sleep_until(self, t_s: float) -> float:
        return self.robot.sleep_until(t_s)

    def hold(self) -> np.ndarray:
        """Hold the present position (the watchdog's first stage); the limits restart from it."""
        command = self.robot.hold()
        self.limiter.reset(command)
        return command

    def torque_off(self) -> None:
        """Torque off on every motor that answers; never raises."""
        try:
            self.robot.torque_off()
        except Exception as exc:  # noqa: BLE001 - every exit path calls this; it must not fail
            log.error("robot %s: torque off failed: %s", self.spec.name, exc)

    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> None:
        """The twin: start an episode in this state; the limits restart from it."""
        self.robot.set_state(joint_position_rad, sensor_position_rad, rng)
        self.limiter.reset(joint_position_rad)

    def render(self, markers: dict[str, np.ndarray] | None = None) -> np.ndarray:
        return self.robot.render(markers)

    # -- the rest of the stack -------------------------------------------------------------------
    def restart_from(self, position_rad: np.ndarray) -> np.ndarray:
        """Start the limits from a measured pose (an episode's first state); returns the
        command that stands for it (the pose clipped into the joint range)."""
        self.limiter.reset(position_rad)
        return self.limiter.last  # type: ignore[return-value]

    def fault_summary(self, state: JointState) -> str | None:
        """The hardware faults ``state`` carries (``"elbow: OVERLOAD"``), counted; None when healthy."""
        if not state.has_fault:
            return None
        self.stats["faults"] += 1
        return state.fault_summary(self.spec.joint_names)

    def start_watchdog(self, on_fire: Callable[[str], None] | None = None, hold_after_s: float | None = None,
                       torque_off_after_s: float | None = None) -> Watchdog:
        """Watch for commands from now on (defaults: the ``safety`` settings at this period)."""
        if self.watchdog is not None:
            raise RuntimeError("the watchdog is already running")
        hold_after = hold_after_s if hold_after_s is not None else \
            self.settings.watchdog_hold_periods * self.period_s
        torque_off_after = torque_off_after_s if torque_off_after_s is not None else \
            self.settings.watchdog_torque_off_s
        self.watchdog = Watchdog(self.hold, self.torque_off, hold_after, torque_off_after, on_fire).start()
        return self.watchdog

    @contextlib.contextmanager
    def commands_paused(self) -> Iterator[None]:
        """No commands are due inside (between episodes, a scripted reset): the watchdog waits."""
        if self.watchdog is None:
            yield
            return
        with self.watchdog.suspended():
            yield
