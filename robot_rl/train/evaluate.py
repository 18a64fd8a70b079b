"""Deterministic evaluation episodes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class Evaluation:
    mean_return: float
    std_return: float
    success_rate: float | None  # None when the env reports no success
    mean_length: float
    returns: tuple[float, ...]


def evaluate(env: gym.Env, policy: Callable[[np.ndarray], np.ndarray], episodes: int, seed: int) -> Evaluation:
    """Run ``episodes`` episodes with ``policy`` (deterministic); success is the env's
    ``info["success"]`` at the last step where it reports one."""
    returns, lengths, successes = [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        total, length, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs))
            total += float(reward)
            length += 1
            done = terminated or truncated
        returns.append(total)
        lengths.append(length)
        if "success" in info:
            successes.append(bool(info["success"]))
    return Evaluation(float(np.mean(returns)), float(np.std(returns)),
                      float(np.mean(successes)) if successes else None, float(np.mean(lengths)), tuple(returns))
