"""Test-only fault injection for processes a test starts with this folder first on PYTHONPATH
(Python imports ``sitecustomize`` at start-up, in spawned child processes too).

``ROBOT_RL_TEST_FREEZE=STEP:SECONDS``: the env's step number STEP (counted in each process)
blocks for SECONDS before it runs, as a hung bus call would, so that a test can prove the
watchdog acts. It lives here so that the product's control step and its configs know
nothing of it.
"""

import os

_FREEZE = os.environ.get("ROBOT_RL_TEST_FREEZE")
if _FREEZE:
    import sys
    import time
    from pathlib import Path

    sys.path.append(str(Path(__file__).resolve().parents[2]))  # the checkout, when not installed
    from robot_side.envs.robot_env import RobotEnv

    _after, _seconds = (float(part) for part in _FREEZE.split(":"))
    _step = RobotEnv.step
    _count = [0]

    def _freezing_step(self, action):  # noqa: ANN001, ANN202 - a stand-in with the same signature
        _count[0] += 1
        if _count[0] == int(_after):
            print(f"test hook: the env's step {_count[0]} freezes for {_seconds} s", file=sys.stderr, flush=True)
            time.sleep(_seconds)
        return _step(self, action)

    RobotEnv.step = _freezing_step
