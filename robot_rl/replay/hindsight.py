"""Hindsight relabelling (Andrychowicz et al., 2017, the "future" strategy): a share of each
sampled batch is given, as its goal, a position that the same episode reached later, with the
observation's goal terms and the reward recomputed by the task for that goal.

A random target teaches the learner about one goal an episode; relabelled, every episode
teaches it about the places it passed through. The relabelled transitions are ones the robot
could have produced with the same actions (the goal does not change the physics), so nothing
is invented about the robot. Success is not redefined: the task's own reward, for another goal.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from robot_rl.replay.buffer import ReplayBuffer, ReplaySample


class GoalTask(Protocol):
    """What a task offers for relabelling (robot_side's goal tasks, e.g. SO101Reach)."""

    def achieved_goals(self, obs: np.ndarray) -> np.ndarray:
        """The goal each observation ``(B, obs_dim)`` has reached, ``(B, goal_dim)``."""

    def relabel(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, goals: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(obs, next_obs, reward)`` of the same transitions pursuing ``goals`` instead."""


class HindsightRelabeler:
    """Relabels ``fraction`` of each sample (``fraction`` in [0, 1]) with goals reached later
    in the same episode, at most ``horizon`` rows on (the episode length)."""

    def __init__(self, task: GoalTask, fraction: float, horizon: int, seed: int = 0) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"hindsight fraction must be in [0, 1], got {fraction}")
        if horizon < 1:
            raise ValueError(f"hindsight horizon must be at least 1, got {horizon}")
        self.task, self.fraction, self.horizon = task, float(fraction), int(horizon)
        self._rng = np.random.default_rng(seed)

    def __call__(self, replay: ReplayBuffer, sample: ReplaySample) -> ReplaySample:
        """The sample with its first ``round(fraction x B)`` rows relabelled (the sample is
        drawn uniformly, so the first rows are as random as any)."""
        count = int(round(self.fraction * len(sample.indices)))
        if count == 0:
            return sample
        rows = sample.indices[:count]
        goals = self.task.achieved_goals(replay.future_next_obs(rows, self.horizon))
        obs, next_obs, reward = self.task.relabel(sample.obs[:count], sample.action[:count],
                                                  sample.next_obs[:count], goals)
        new_obs, new_next, new_reward = sample.obs.copy(), sample.next_obs.copy(), sample.reward.copy()
        new_obs[:count], new_next[:count], new_reward[:count] = obs, next_obs, reward
        return sample._replace(obs=new_obs, next_obs=new_next, reward=new_reward)
