"""robot_rl: reinforcement learning on serial-bus servo robots and their MuJoCo twins.

This package is the training side (algorithms, replay, trainers, the real-time learner, the
fleet) and the ``robot-rl`` command; the robot side it trains on is ``robot_side``.
Importing it registers the Gymnasium ids (``robot_rl/SO101Reach-v0``, ...) as
``import robot_side`` does.
"""

from robot_side import __version__  # also registers the ids

__all__ = ["__version__"]
