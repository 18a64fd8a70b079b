"""Gymnasium envs over any ``Robot`` and ``Task``."""

from robot_side.envs.robot_env import RobotEnv

__all__ = ["RobotEnv"]
