"""``RobotEnv``: one Gymnasium env for the twin, virtual hardware and real hardware.

Only the ``Robot`` differs between them. Each step: map the action to a joint command
through the task, let the robot clip and send it, wait for the next control tick on the
robot's clock (the twin steps its physics, hardware waits), read the state, and let the task
build the observation and the reward. A hardware fault ends the episode.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from drivers.robot import JointState, Robot
from robot_rl.envs.reset_motion import ResetFailedError, move_to
from robot_rl.envs.workspace_guard import WorkspaceGuard
from robot_rl.tasks.task import Task

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

    control_rate_hz: steps per second (default: the robot's). reset_timeout_s: how long a
    scripted reset on hardware may take. workspace: the arm's workspace box (safety layer,
    applied before the robot's own joint-range and per-step limits). The robot is opened on
    the first reset and closed by :meth:`close`.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, robot: Robot, task: Task, *, control_rate_hz: float | None = None,
                 render_mode: str | None = None, reset_timeout_s: float = 10.0,
                 workspace: WorkspaceGuard | None = None) -> None:
        self.robot = robot
        self.task = task
        self.workspace = workspace
        self.period_s = 1.0 / (control_rate_hz or robot.spec.control_rate_hz)
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
        if hasattr(self.robot, "set_state"):  # the twin: set the state directly
            self.robot.set_state(initial.joint_position_rad, initial.sensor_position_rad, self.np_random)
        elif not getattr(self.robot, "read_only", False):  # hardware: a scripted, timed motion to the start pose
            move_to(self.robot, initial.joint_position_rad, self.period_s, self.reset_timeout_s)
        # (a dry run writes nothing, so the robot stays where it is)
        # The schedule's first tick is this read's start, as each step's tick precedes its read
        # (anchored after the read, the first period would be longer by a bus read, ~2 ms).
        first_tick_s = self.robot.now_s()
        self.timing.read_start_s = time.monotonic()
        self._state = self.robot.read()
        self.timing.read_end_s = time.monotonic()
        self.timing.late_s = 0.0
        self._last_command = self._state.position_rad.copy()
        self.task.sent_command = self._last_command
        self._next_tick_s = first_tick_s + self.period_s
        return self.task.observe(self._state), {"success": False}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._state is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        timing = self.timing
        timing.write_start_s = time.monotonic()
        command = self.task.command(action, self._state, self._last_command)
        if self.workspace is not None:
            command = self.workspace(command, self._last_command)
        self._last_command = self.task.sent_command = self.robot.write(command)
        timing.write_end_s = time.monotonic()
        self._wait_and_read()
        return self._finish_step(action)

    def hold_step(self) -> tuple[np.ndarray, float, bool, bool, dict]:
        """A step that repeats the last command instead of acting (the overrun policy "hold");
        the reward is that of holding."""
        if self._state is None or self._last_command is None:
            raise gym.error.ResetNeeded("call reset() before hold_step()")
        self.timing.write_start_s = time.monotonic()
        self._last_command = self.task.sent_command = self.robot.write(self._last_command)
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
        outcome = self.task.evaluate(self._state, np.asarray(action))
        info: dict[str, Any] = {"success": outcome.success, **outcome.info}
        terminated = outcome.terminated
        if self._state.has_fault:
            info["fault"] = self._state.fault_summary(self.robot.spec.joint_names)
            log.warning("hardware fault, episode ends: %s", info["fault"])
            terminated = True
        return self.task.observe(self._state), float(outcome.reward), terminated, False, info

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        render = getattr(self.robot, "render", None)
        if render is None:
            raise NotImplementedError(f"{type(self.robot).__name__} cannot render; only the twin can")
        return render(self.task.goal_markers())

    def close(self) -> None:
        if self._open:
            self._open = False
            self.robot.close()

    @property
    def state(self) -> JointState | None:
        """The last joint state read."""
        return self._state


__all__ = ["RobotEnv", "ResetFailedError"]
