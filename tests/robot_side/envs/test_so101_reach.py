"""The reach task's gripper terms (observation and reward) are those of MuJoCo's own site
position, step after step, with the workspace guard sharing the robot's limiter."""

from __future__ import annotations

import math

import gymnasium as gym
import mujoco
import numpy as np

import robot_rl  # noqa: F401  (registers the ids)
from robot_side.tasks.so101_reach import SUCCESS_RADIUS_M


def test_observation_and_reward_follow_the_twins_gripper_site() -> None:
    # Without quantisation the measured pose is the physics' own, so MuJoCo's site is the reference.
    env = gym.make("robot_rl/SO101Reach-v0", sim={"quantize": False})
    inner = env.unwrapped
    task, model, data = inner.task, inner.robot.robot.model, inner.robot.robot.data
    site = model.site("gripper_site").id
    scratch = mujoco.MjData(model)  # the site of the present pose (data's is of the last step's start)
    assert inner.robot.workspace._limiter is inner.robot.limiter  # shared: bounds computed once a step
    rng = np.random.default_rng(0)
    try:
        for episode in range(3):
            observation, _ = env.reset(seed=episode)
            for _ in range(40):
                action = rng.uniform(-1, 1, env.action_space.shape)
                observation, reward, _, _, info = env.step(action)
                scratch.qpos[:] = data.qpos
                mujoco.mj_kinematics(model, scratch)
                gripper = scratch.site_xpos[site]
                target = task.target
                np.testing.assert_allclose(observation[12:15], gripper, rtol=0, atol=1e-6)  # float32
                np.testing.assert_array_equal(observation[15:18], target.astype(np.float32))
                np.testing.assert_allclose(observation[18:21], target - gripper, rtol=0, atol=1e-6)
                distance = math.dist(gripper, target)
                assert info["distance_m"] == task.distance
                assert abs(info["distance_m"] - distance) < 1e-9
                expected = (-10.0 * distance + 5.0 * (distance < SUCCESS_RADIUS_M)
                            - 0.01 * float(np.dot(action, action)))
                assert abs(reward - expected) < 1e-8
    finally:
        env.close()


def test_cartesian_actions_move_the_commanded_gripper_point() -> None:
    """A Cartesian action (x, y, z) moves the commanded gripper point that far in that direction
    (within the damping's small shortfall), changes no joint by more than max_delta_rad, and
    the observation's last terms are the vector from the commanded point to the target."""
    env = gym.make("robot_rl/SO101Reach-v0", task={"action_mode": "cartesian"})
    task = env.unwrapped.task
    step_m, max_delta = task.config.max_step_m, task.config.max_delta_rad
    rng = np.random.default_rng(0)
    assert env.action_space.shape == (3,)
    assert task.observation_names[-3:] == ("command_to_target_x", "command_to_target_y", "command_to_target_z")
    try:
        observation, _ = env.reset(seed=0)
        command = env.unwrapped._last_command.copy()
        moved = []
        for _ in range(30):
            action = rng.uniform(-0.5, 0.5, 3)
            observation, *_ = env.step(action)
            new_command = env.unwrapped._last_command.copy()
            assert np.abs(new_command - command).max() <= max_delta + 1e-12
            before, after = task.chain.site_position(command), task.chain.site_position(new_command)
            moved.append(np.linalg.norm(after - before - action * step_m) / np.linalg.norm(action * step_m))
            np.testing.assert_allclose(observation[-3:], task.target - after, rtol=0, atol=1e-6)
            command = new_command
        assert np.median(moved) < 0.05  # the move is what was asked, to a few per cent
    finally:
        env.close()
