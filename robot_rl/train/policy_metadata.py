"""What a checkpoint records about its policy, for the export's metadata and the runner's
compatibility check: task and robot ids, control rate, observation and action names/bounds."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from robot_rl.train.config import TrainConfig
from robot_side.envs.robot_env import RobotEnv


def policy_metadata(config: TrainConfig, env: gym.Env) -> dict[str, Any]:
    space = env.observation_space
    meta: dict[str, Any] = {"task_id": config.env.id, "config_hash": config.hash(), "algorithm": config.algo.name,
                            "observation_low": np.asarray(space.low, dtype=np.float64).tolist(),
                            "observation_high": np.asarray(space.high, dtype=np.float64).tolist()}
    inner = env.unwrapped
    if isinstance(inner, RobotEnv):
        meta["robot_id"] = inner.robot.spec.name
        meta["control_rate_hz"] = 1.0 / inner.period_s
        meta["action_names"] = list(inner.task.action_names)
        meta["observation_names"] = list(inner.task.observation_names)
    elif env.metadata.get("render_fps"):
        meta["control_rate_hz"] = float(env.metadata["render_fps"])
    return meta
