"""The env drives the twin as it will in training: reset through ``set_state``, steps on
simulated time, renders through ``render``."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mujoco")
pytest.importorskip("gymnasium")

from drivers.robot_config import RobotConfig  # noqa: E402
from robot_side.envs.robot_env import RobotEnv  # noqa: E402
from robot_side.tasks.dclaw_turn import DClawTurn  # noqa: E402
from robot_side.tasks.so101_reach import SO101Reach  # noqa: E402
from sim.sim_config import DomainRandomization, SimConfig  # noqa: E402
from sim.sim_robot import SimRobot  # noqa: E402

TASKS = {"so101": SO101Reach, "dclaw": DClawTurn}


def test_env_steps_on_simulated_time(robot_config: RobotConfig) -> None:
    sim = SimConfig(observation_latency_s=0.004, action_latency_s=0.002, position_noise_std_rad=0.001,
                    randomization=DomainRandomization(mass_scale=(0.9, 1.1)))
    robot = SimRobot(robot_config, sim, seed=0)
    env = RobotEnv(robot, TASKS[robot_config.name](robot.spec))
    try:
        observation, _ = env.reset(seed=0)
        start_s = robot.now_s()
        assert env.observation_space.contains(observation)
        for _ in range(10):
            observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert np.isfinite(reward) and not truncated
        assert robot.now_s() == pytest.approx(start_s + 10 / robot_config.control_rate_hz)
        assert env.late_steps == 0
    finally:
        env.close()
