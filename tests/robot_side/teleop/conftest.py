"""A calibrated leader (offsets and a reversed joint: its frame is not the encoders') and an
SO-101 follower on an emulated bus in this process."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import yaml

from drivers.emulator import ServoSpec, VirtualBus
from drivers.robot_config import RobotConfig, load_robot_config
from robot_side.robots import robot_config_path

OFFSETS = (120, -340, 0, 75, -600, 210)
DIRECTIONS = (1, -1, 1, -1, 1, 1)
RAD_PER_TICK = 2 * np.pi / 4096


@pytest.fixture
def leader_config(tmp_path: Path) -> RobotConfig:
    config = load_robot_config(robot_config_path("so101_leader"))
    motors = {j.name: {"id": j.id, "homing_offset_ticks": o, "direction": d, "range_min_rad": j.position_min_rad,
                       "range_max_rad": j.position_max_rad}
              for j, o, d in zip(config.joints, OFFSETS, DIRECTIONS)}
    path = tmp_path / "leader_calibration.yaml"
    path.write_text(yaml.safe_dump({"motors": motors}))
    return dataclasses.replace(config, calibration=str(path))


@pytest.fixture
def follower_bus():
    config = load_robot_config(robot_config_path("so101"))
    specs = [ServoSpec(id=j.id, model=j.model, initial_position_rad=np.pi + q)
             for j, q in zip(config.joints, config.home_rad)]
    with VirtualBus("feetech", specs) as bus:
        yield bus, dataclasses.replace(config, backend="serial", port=bus.port)


def goal_ticks(bus: VirtualBus, ids: list[int]) -> np.ndarray:
    bus.wait_idle()
    return np.array([bus.read_register(i, "goal_position") for i in ids])
