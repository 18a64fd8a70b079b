"""Build the learner (SAC or TD3) a training config names."""

from __future__ import annotations

from typing import Any

import numpy as np

from drivers.config import build
from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.algos.td3 import TD3, TD3Config
from robot_rl.train.config import TrainConfig

Learner = SAC | TD3


def learner_config(config: TrainConfig, source: str) -> SACConfig | TD3Config:
    """The algorithm's hyper-parameters, checked key by key; the loop's seed is the default seed."""
    algo = config.algo
    cls, values = (SACConfig, algo.sac) if algo.name == "sac" else (TD3Config, algo.td3)
    values = {"seed": config.loop.seed, **values}
    return build(cls, values, source, f"algo.{algo.name}")


def make_learner(config: TrainConfig, obs_dim: int, action_low: np.ndarray, action_high: np.ndarray,
                 source: str = "<config>") -> Learner:
    normalizer = ObservationNormalizer(obs_dim) if config.loop.normalize_observations else None
    hyper = learner_config(config, source)
    if isinstance(hyper, SACConfig):
        return SAC(obs_dim, action_low, action_high, hyper, normalizer)
    return TD3(obs_dim, action_low, action_high, hyper, normalizer)


def describe(learner: Learner) -> dict[str, Any]:
    return {"algo": type(learner).__name__, "updates": learner.num_updates}
