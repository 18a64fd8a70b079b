"""A leader's pose becomes the task's own action (``action_toward``): executed, it takes the
robot's command to the pose when one step can, and otherwise a full step toward it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the ids)


@pytest.mark.parametrize("mode", ["delta", "absolute", "cartesian"])
def test_the_reach_action_moves_the_command_to_a_near_leader_pose(mode: str) -> None:
    env = gym.make("robot_rl/SO101Reach-v0", task={"action_mode": mode})
    inner = env.unwrapped
    try:
        env.reset(seed=0)
        start = inner._last_command.copy()
        act = inner.task._act_index
        goal = start.copy()
        goal[act] += np.array([0.03, -0.04, 0.02, 0.01])  # within one step of every mode
        env.step(inner.action_toward(goal))
        sent = inner._last_command
        if mode == "cartesian":  # the gripper point, not each joint, is the action's
            task = inner.task
            np.testing.assert_allclose(task.chain.site_xyz(sent), task.chain.site_xyz(goal), atol=2e-3)
        else:
            np.testing.assert_allclose(sent[act], goal[act], atol=1e-4)
        # A far pose: one full step toward it, the largest the action allows.
        far = sent.copy()
        far[act] += 1.0
        action = inner.action_toward(far)
        if mode != "absolute":
            assert np.max(np.abs(action)) == pytest.approx(1.0)
        before = inner.task.chain.site_xyz(sent)
        env.step(action)
        after = inner.task.chain.site_xyz(inner._last_command)
        target = inner.task.chain.site_xyz(far)
        assert np.linalg.norm(np.subtract(target, after)) < np.linalg.norm(np.subtract(target, before))
    finally:
        env.close()


def test_the_dclaw_action_is_the_inverse_of_its_command() -> None:
    env = gym.make("robot_rl/DClawTurn-v0")
    inner = env.unwrapped
    try:
        env.reset(seed=0)
        goal = inner._last_command + np.linspace(-0.05, 0.05, 9)
        env.step(inner.action_toward(goal))
        np.testing.assert_allclose(inner._last_command, goal, atol=1e-5)
    finally:
        env.close()
