"""A scripted operator who watches the policy at SO-101 reach and steps in when it stalls.

What a person supervising real-robot training does (HIL-SERL): most of the time the leader
rests; every ``check_every`` steps the operator looks at the follower's gripper, and when it
is farther than ``far_m`` from the target and has come no closer than ``progress_m`` since the
last look, they take the leader and guide the gripper to the target
(:class:`~robot_side.teleop.reach_operator.ReachOperator`, from the follower's pose) until the
episode ends. They step in only while their share of the steps taken over stays under
``budget``. ``intervening`` is their foot on the pedal: the control loop reads it to know.
"""

from __future__ import annotations

import math

import numpy as np

from robot_side.tasks.so101_reach import SO101Reach
from robot_side.teleop.reach_operator import ReachOperator


class WatchingOperator:
    """Hand poses for a virtual leader over ``task``'s episodes; see the module docstring."""

    def __init__(self, task: SO101Reach, rate_hz: float, rest_rad: np.ndarray, *, budget: float = 0.2,
                 check_every: int = 10, far_m: float = 0.03, progress_m: float = 0.01, seed: int = 0) -> None:
        self.task = task
        self.guide = ReachOperator(task, rate_hz, seed=seed)
        self.rest = np.array(rest_rad, dtype=np.float64)
        self.budget, self.check_every, self.far_m, self.progress_m = budget, check_every, far_m, progress_m
        self.intervening = False
        self.steps = 0
        self.taken_over = 0
        self._episode_step = 0
        self._last_distance = math.inf

    def begin(self, follower_rad: np.ndarray) -> None:
        """A new episode: hands off the leader, which rests."""
        self.intervening = False
        self._episode_step = 0
        self._last_distance = math.inf

    def next_pose(self, follower_rad: np.ndarray) -> np.ndarray:
        """The hand's pose for this period (the rest pose while not intervening)."""
        self.steps += 1
        self._episode_step += 1
        if not self.intervening and self._episode_step % self.check_every == 0:
            distance = math.dist(self.task.chain.site_xyz(follower_rad), self.task.target)
            stalled = distance > self.far_m and distance > self._last_distance - self.progress_m
            if stalled and self.taken_over < self.budget * self.steps:
                self.intervening = True
                self.guide.begin(follower_rad)
            self._last_distance = distance
        if not self.intervening:
            return self.rest.copy()
        self.taken_over += 1
        return self.guide.next_pose(follower_rad)
