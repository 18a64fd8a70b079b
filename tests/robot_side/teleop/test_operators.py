"""The scripted operators that stand in for a person at a virtual leader: the reach operator
brings the gripper to the target, the watching one steps in only when the policy stalls and
within its budget."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

import robot_side  # noqa: F401  (registers the ids)
from robot_side.teleop.reach_operator import ReachOperator
from robot_side.teleop.watching_operator import WatchingOperator


def test_the_reach_operator_brings_the_gripper_to_the_target() -> None:
    env = gym.make("robot_rl/SO101Reach-v0", backend="sim")
    inner = env.unwrapped
    operator = ReachOperator(inner.task, 20, seed=0)
    successes = 0
    try:
        for episode in range(10):
            env.reset(seed=episode)
            operator.begin(inner.state.position_rad)
            for _ in range(50):
                _, _, _, _, info = env.step(inner.action_toward(operator.next_pose(inner.state.position_rad)))
            successes += bool(info["success"])
    finally:
        env.close()
    assert successes >= 7  # 9 here; MuJoCo's floats differ a little between processors


def test_the_watching_operator_steps_in_when_the_policy_stalls_within_its_budget() -> None:
    env = gym.make("robot_rl/SO101Reach-v0", backend="sim")
    inner = env.unwrapped
    operator = WatchingOperator(inner.task, 20, inner.task.home, budget=0.3, seed=0)
    taken, first = 0, []
    try:
        for episode in range(12):
            env.reset(seed=episode)
            operator.begin(inner.state.position_rad)
            start = math.dist(inner.task.chain.site_xyz(inner.state.position_rad), inner.task.target)
            stepped_in = None
            for step in range(50):
                pose = operator.next_pose(inner.state.position_rad)
                if operator.intervening:
                    stepped_in = step if stepped_in is None else stepped_in
                    env.step(inner.action_toward(pose))
                    taken += 1
                else:
                    np.testing.assert_array_equal(pose, inner.task.home)  # the leader rests
                    env.step(np.zeros(3, np.float32))  # a policy that does nothing: it stalls
            if stepped_in is not None:
                first.append(stepped_in)
                assert start > operator.far_m
    finally:
        env.close()
    assert first and all(s == 2 * operator.check_every - 1 for s in first)  # its second look: no progress
    assert taken <= 0.3 * 12 * 50 + 50  # the budget, plus the episode it stepped in last
    assert taken == operator.taken_over and len(first) < 12  # it stopped stepping in once over budget
