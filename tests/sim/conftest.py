"""Shared fixtures of the twin's tests: the robot configs that ship with the package.

Rendering needs a headless OpenGL backend chosen before MuJoCo is first imported; EGL is
the one that works on machines without a display, so it is the default here (an explicit
``MUJOCO_GL`` wins). If another test module imported MuJoCo first, the render test skips
with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from drivers.robot_config import RobotConfig, load_robot_config  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[2] / "robot_side" / "robot_configs"


@pytest.fixture(scope="session")
def so101_config() -> RobotConfig:
    return load_robot_config(CONFIGS / "so101.yaml")


@pytest.fixture(scope="session")
def dclaw_config() -> RobotConfig:
    return load_robot_config(CONFIGS / "dclaw.yaml")


@pytest.fixture(params=["so101", "dclaw"])
def robot_config(request: pytest.FixtureRequest) -> RobotConfig:
    return load_robot_config(CONFIGS / f"{request.param}.yaml")
