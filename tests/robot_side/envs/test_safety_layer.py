"""The safety layer on the twin: a policy of extremes never gets a command past any limit."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401


@pytest.mark.parametrize("mode", ["delta", "cartesian"])
def test_extreme_policy_on_the_arm_respects_every_limit(mode: str) -> None:
    """Joint changes of +-1 at random (delta), or one Cartesian direction of +-1 per axis held for
    a whole episode (which drives the gripper into the workspace box's walls and floor)."""
    env = gym.make("robot_rl/SO101Reach-v0", task={"action_mode": mode})
    inner = env.unwrapped
    robot = inner.robot
    spec = robot.spec
    config_step = 0.25
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    last = inner._last_command.copy()
    period = inner.period_s
    direction = rng.choice([-1.0, 1.0], size=env.action_space.shape)
    for step in range(600):
        action = direction if mode == "cartesian" else rng.choice([-1.0, 1.0], size=env.action_space.shape)
        _, _, terminated, truncated, _ = env.step(action)
        sent = inner._last_command
        assert np.all(sent >= spec.position_min_rad - 1e-12) and np.all(sent <= spec.position_max_rad + 1e-12)
        assert np.all(np.abs(sent - last) <= np.minimum(config_step, spec.velocity_max_rad_s * period) + 1e-9)
        assert inner.robot.workspace.inside(sent) or np.array_equal(sent, last)
        last = sent.copy()
        if terminated or truncated:
            env.reset()
            last = inner._last_command.copy()
            direction = rng.choice([-1.0, 1.0], size=env.action_space.shape)
    assert inner.robot.workspace.clipped > 0  # the box was really exercised
    env.close()
