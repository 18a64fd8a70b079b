"""robot_rl: reinforcement learning on serial-bus servo robots and their MuJoCo twins.

Importing the package registers its Gymnasium ids (``robot_rl/SO101Reach-v0``, ...) when
gymnasium is installed (the bus tools work without it).
"""

import importlib.util

__version__ = "0.1.0"

if importlib.util.find_spec("gymnasium") is not None:
    from robot_rl.envs.registration import register_envs

    register_envs()
