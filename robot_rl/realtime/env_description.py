"""What the learner and the control loop must agree on before either starts: the env's
observation size, action bounds and the policy's metadata. Torch-free, so that a fleet's robot
computer can describe its robot without the learner's dependencies."""

from __future__ import annotations

from typing import Any

import numpy as np

from robot_rl.errors import TrainingError
from robot_rl.realtime.control_loop import make_realtime_env
from robot_rl.train.config import TrainConfig
from robot_rl.train.policy_metadata import policy_metadata
from robot_side.envs.robot_env import RobotEnv


class AsyncModeError(TrainingError, ValueError):
    """The config cannot run in the asynchronous mode; the message says why."""


def describe_env(config: TrainConfig) -> tuple[int, np.ndarray, np.ndarray, dict[str, Any]]:
    """Observation size, action bounds and policy metadata of the config's env (made once and
    closed). Raises AsyncModeError when it is not a robot env (no real-time loop to run)."""
    env = make_realtime_env(config)
    try:
        if not isinstance(env.unwrapped, RobotEnv):
            raise AsyncModeError(f"a real-time control loop runs on a robot (the twin, virtual hardware or a serial "
                                 f"port); {config.env.id} is not a robot_rl env: use loop.mode sync")
        low, high = env.action_space.low.astype(np.float64), env.action_space.high.astype(np.float64)
        return int(env.observation_space.shape[0]), low, high, policy_metadata(config, env)
    finally:
        env.close()

