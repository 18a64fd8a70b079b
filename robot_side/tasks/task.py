"""The ``Task`` interface: what the env asks of a job, independent of the robot backend.

Tasks are pure numpy (no torch, no mujoco) so that the on-device runner can use them.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from drivers.robot import JointState, RobotSpec
from drivers.safety import clip


@dataclass(frozen=True)
class Outcome:
    """The result of one step: reward, whether the episode ended (success or failure),
    whether the goal is reached, and scalar diagnostics for logging."""

    reward: float
    terminated: bool
    success: bool
    info: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class InitialState:
    """Where an episode starts: joint positions (rad) and passive-joint (sensor) positions."""

    joint_position_rad: np.ndarray
    sensor_position_rad: np.ndarray


class Task(abc.ABC):
    """A job on a robot. Actions are normalised to [-1, 1] per joint; the task maps them
    to joint position commands in rad. Subclasses keep their per-episode goal in attributes
    set by :meth:`reset`."""

    #: Registered name stem, e.g. ``"SO101Reach"``.
    name: str = "task"

    def __init__(self, spec: RobotSpec) -> None:
        self.spec = spec
        n = spec.n_joints
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n,), dtype=np.float32)
        self.low = np.asarray(spec.position_min_rad, dtype=np.float64)
        self.high = np.asarray(spec.position_max_rad, dtype=np.float64)
        self.last_action = np.zeros(n)

    @property
    @abc.abstractmethod
    def observation_space(self) -> gym.spaces.Box:
        """A float32 Box."""

    @property
    def action_names(self) -> tuple[str, ...]:
        """One name per action entry: the joint each one moves."""
        return tuple(f"{j}_action" for j in self.spec.joint_names)

    @property
    def observation_names(self) -> tuple[str, ...]:
        """One name per observation entry (exports record them)."""
        return tuple(f"obs[{i}]" for i in range(self.observation_space.shape[0]))

    @abc.abstractmethod
    def reset(self, rng: np.random.Generator) -> InitialState:
        """Sample this episode's goal; return where the robot should start."""

    @abc.abstractmethod
    def observe(self, state: JointState, sent_command: np.ndarray) -> np.ndarray:
        """The observation (float32, ``observation_space.shape``). ``sent_command``: the joint
        command the robot actually sent last (after every safety layer), for tasks whose
        actions change the command step by step."""

    @abc.abstractmethod
    def evaluate(self, state: JointState, action: np.ndarray) -> Outcome:
        """Reward and termination after ``action`` led to ``state``."""

    def command(self, action: np.ndarray, state: JointState, last_command: np.ndarray) -> np.ndarray:
        """Joint position command for ``action``: by default the action spans each joint's range."""
        action = clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.last_action = action
        return self.low + (action + 1.0) * 0.5 * (self.high - self.low)

    def action_toward(self, goal_rad: np.ndarray, last_command: np.ndarray) -> np.ndarray:
        """The action that moves the joint command from ``last_command`` toward the joint pose
        ``goal_rad`` as far as one step allows: how a leader arm's pose (teleoperation,
        demonstrations, interventions) becomes an action that the task then executes as any
        other, so the stored transition holds exactly what was done. Default: the action
        spanning each joint's range (the inverse of :meth:`command`)."""
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        return np.clip(2.0 * (np.asarray(goal_rad, dtype=np.float64) - self.low) / span - 1.0, -1.0, 1.0)

    def goal_markers(self) -> dict[str, np.ndarray]:
        """Positions to draw in a rendering (e.g. ``{"target": xyz}``); none by default."""
        return {}


def wrap_angle(angle: np.ndarray | float) -> np.ndarray | float:
    """Angle wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2 * np.pi) - np.pi
