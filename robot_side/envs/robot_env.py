"""``RobotEnv``: one Gymnasium env for the twin, virtual hardware and real hardware.

Only the ``Robot`` differs between them, and the env drives it through the safety stack
(``robot_side.safety.SafeRobot``), sized from the control rate the env really steps at. Each
step: check the action, map it to a joint command through the task, let the safety stack
limit and send it, wait for the next control tick on the robot's clock (the twin steps its
physics, hardware waits), read the state, and let the task build the observation and the
reward. A hardware fault ends the episode; a period whose state read failed holds the last
command (``info["stale_state"]``).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from drivers.robot import JointState, Robot
from drivers.robot_config import SafetyConfig
from robot_side.envs.reset_motion import ResetFailedError, move_to
from robot_side.errors import EnvOptionError, InvalidActionError
from robot_side.safety.safe_robot import SafeRobot
from robot_side.safety.workspace_guard import WorkspaceGuard
from robot_side.tasks.task import Task

log = logging.getLogger(__name__)


@dataclass
class StepTiming:
    """Wall-clock (``time.monotonic``) marks of the last step, for the control loop's report
    (after a reset, its read marks are those of the reset's read: the schedule's first tick)."""

    write_start_s: float = 0.0
    write_end_s: float = 0.0
    read_start_s: float = 0.0
    read_end_s: float = 0.0
    late_s: float = 0.0


class RobotEnv(gym.Env):
    """A Gymnasium env of ``task`` on ``robot``.

    control_rate_hz: steps per second (default: the robot's), within the robot's
    ``control_rate_min_hz`` .. ``control_rate_max_hz`` (else ``EnvOptionError``); the safety
    stack's per-step limits are sized from it. reset_timeout_s: how long a scripted reset on
    hardware may take. workspace: the arm's workspace box. safety: the robot config's
    ``safety`` section. ``self.robot`` is the ``SafeRobot`` around ``robot``; it is opened on
    the first reset and closed (torque off) by :meth:`close`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, robot: Robot, task: Task, *, control_rate_hz: float | None = None,
                 render_mode: str | None = None, reset_timeout_s: float = 10.0,
                 workspace: WorkspaceGuard | None = None, safety: SafetyConfig = SafetyConfig()) -> None:
        self.task = task
        self.period_s = 1.0 / checked_rate(robot, control_rate_hz)
        self.robot = SafeRobot(robot, self.period_s, safety, workspace)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.period_s))}
        self.observation_space = task.observation_space
        self.action_space = task.action_space
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode {render_mode!r} is not supported; use 'rgb_array'")
        self.render_mode = render_mode
        self.reset_timeout_s = reset_timeout_s
        self._open = False
        self._next_tick_s = 0.0
        self._state: JointState | None = None
        self._last_command: np.ndarray | None = None
        self.late_steps = 0
        self.timing = StepTiming()

    # -- gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if not self._open:
            self.robot.open()
            self._open = True
        initial = self.task.reset(self.np_random)
        if self.robot.simulated:  # the twin: set the state directly
            self.robot.set_state(initial.joint_position_rad, initial.sensor_position_rad, self.np_random)
        elif not self.robot.read_only:  # hardware: a scripted, timed motion to the start pose
            with self.robot.commands_paused():
                move_to(self.robot, initial.joint_position_rad, self.period_s, self.reset_timeout_s)
        # (a dry run writes nothing, so the robot stays where it is)
        # The schedule's first tick is this read's start, as each step's tick precedes its read
        # (anchored after the read, the first period would be longer by a bus read, ~2 ms).
        first_tick_s = self.robot.now_s()
        self.timing.read_start_s = time.monotonic()
        self._state = self.robot.read()
        self.timing.read_end_s = time.monotonic()
        self.timing.late_s = 0.0
        self._last_command = self.robot.restart_from(self._state.position_rad)
        self._next_tick_s = first_tick_s + self.period_s
        return self.task.observe(self._state, self._last_command), {"success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """One control period. Raises ``InvalidActionError`` for an action of the wrong shape or
        with a NaN or infinite entry (nothing is sent; the motors hold their last command)."""
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        action = self._checked(action)
        timing = self.timing
        timing.write_start_s = time.monotonic()
        if self._state.stale:  # no fresh state to act on: hold
            command = self._last_command
        else:
            command = self.task.command(action, self._state, self._last_command)
        self._last_command = self.robot.write(command)
        timing.write_end_s = time.monotonic()
        self._wait_and_read()
        return self._finish_step(action)

    def action_toward(self, goal_rad: np.ndarray) -> np.ndarray:
        """The action that moves the robot's command toward the joint pose ``goal_rad`` (a
        leader arm's) as far as one step allows (``Task.action_toward``); ``step`` it to
        execute it like any action."""
        if self._last_command is None:
            raise gym.error.ResetNeeded("call reset() before action_toward()")
        return self.task.action_toward(goal_rad, self._last_command).astype(np.float32)

    def _checked(self, action: np.ndarray) -> np.ndarray:
        action = np.asarray(action)
        if action.shape != self.action_space.shape:
            raise InvalidActionError(f"action has shape {action.shape}, expected {self.action_space.shape} "
                                     f"({', '.join(self.task.action_names)})")
        # As in SafeRobot.write: the dot product is finite unless an entry is not (or overflows).
        if not math.isfinite(float(action.dot(action))) and not np.isfinite(action).all():
            bad = [f"{name}={value}" for name, value in zip(self.task.action_names, action.tolist())
                   if not math.isfinite(value)]
            raise InvalidActionError(f"action has non-finite values ({', '.join(bad)}); nothing was sent, "
                                     f"the motors hold their last command")
        return action

    def hold_step(self) -> tuple[np.ndarray, float, bool, bool, dict]:
        """A step that repeats the last command instead of acting (the overrun policy "hold");
        the reward is that of holding."""
        if self._state is None or self._last_command is None:
            raise gym.error.ResetNeeded("call reset() before hold_step()")
        self.timing.write_start_s = time.monotonic()
        self._last_command = self.robot.write(self._last_command)
        self.timing.write_end_s = time.monotonic()
        self._wait_and_read()
        return self._finish_step(np.zeros(self.action_space.shape))

    def _wait_and_read(self) -> None:
        late_s = self.robot.sleep_until(self._next_tick_s)
        self.timing.late_s = late_s
        if late_s > self.period_s:
            self.late_steps += 1
            self._next_tick_s = self.robot.now_s()  # do not try to catch up a lost period
        self._next_tick_s += self.period_s
        self.timing.read_start_s = time.monotonic()
        self._state = self.robot.read()
        self.timing.read_end_s = time.monotonic()

    def _finish_step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        state = self._state
        outcome = self.task.evaluate(state, np.asarray(action))
        info: dict[str, Any] = {"success": outcome.success, **outcome.info}
        terminated = outcome.terminated
        fault = self.robot.fault_summary(state)
        if fault is not None:
            info["fault"] = fault
            log.warning("hardware fault, episode ends: %s", fault)
            terminated = True
        if state.stale:
            info["stale_state"] = True
        return self.task.observe(state, self._last_command), float(outcome.reward), terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.robot.render(self.task.goal_markers())

    def close(self) -> None:
        if self._open:
            self._open = False
            self.robot.close()

    @property
    def state(self) -> JointState | None:
        """The last joint state read."""
        return self._state


def checked_rate(robot: Robot, control_rate_hz: float | None) -> float:
    """The control rate the env steps at: ``control_rate_hz``, else the robot's default.
    Raises ``EnvOptionError`` unless it is a number within the robot's rate bounds."""
    spec = robot.spec
    if control_rate_hz is None:
        return float(spec.control_rate_hz)
    if isinstance(control_rate_hz, bool) or not isinstance(control_rate_hz, (int, float)):
        raise EnvOptionError(f"control_rate_hz must be a number (Hz), got {control_rate_hz!r}")
    if not spec.control_rate_min_hz <= control_rate_hz <= spec.control_rate_max_hz:
        raise EnvOptionError(f"control_rate_hz {control_rate_hz!r} is outside robot {spec.name}'s range "
                             f"{spec.control_rate_min_hz:g}..{spec.control_rate_max_hz:g} Hz")
    return float(control_rate_hz)


__all__ = ["RobotEnv", "ResetFailedError"]
