"""robot_rl: reinforcement learning on serial-bus servo robots and their MuJoCo twins."""

__version__ = "0.1.0"
