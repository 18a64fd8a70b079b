"""The robot side: what runs on the robot's own computer, between a policy and the motors.

The Gymnasium env over any ``Robot``, the tasks, the arm's kinematics, the factory that
builds the twin, virtual hardware or the real robot from a robot config, and the safety
stack (``robot_side.safety``) that every path moving a motor goes through. It imports
numpy, gymnasium and ``drivers``; never torch, and mujoco only when the twin is chosen.
Training (``robot_rl``) sits above it; nothing here imports training.

Importing the package registers its Gymnasium ids (``robot_rl/SO101Reach-v0``, ...) when
gymnasium is installed (the bus tools work without it).
"""

import importlib.util

__version__ = "0.1.0"
"""The version of the robot_rl distribution (pyproject.toml), stamped into every export."""

if importlib.util.find_spec("gymnasium") is not None:
    from robot_side.envs.registration import register_envs

    register_envs()
