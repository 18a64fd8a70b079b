"""Strict config loading: every bad key or value names the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.config import ConfigError
from drivers.robot_config import load_robot_config

GOOD = """
robot:
  name: arm
  protocol: feetech
  backend: serial
  port: /dev/ttyUSB0
  calibration: arm_calibration.yaml
  joints:
    - {name: a, id: 1, model: STS3215, position_min_rad: -1.0, position_max_rad: 1.0}
    - {name: b, id: 2, model: STS3215, position_min_rad: -2.0, position_max_rad: 0.5, velocity_max_rad_s: 3}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(text)
    return path


def test_good_config(tmp_path: Path) -> None:
    config = load_robot_config(write(tmp_path, GOOD))
    assert config.joint_names == ("a", "b")
    assert config.joints[1].velocity_max_rad_s == 3.0
    assert config.calibration == str(tmp_path / "arm_calibration.yaml")
    assert list(config.home_rad) == [0.0, -0.75]


@pytest.mark.parametrize("old,new,message", [
    ("backend: serial", "backnd: serial", r"unknown key 'backnd'; did you mean 'backend'\?"),
    ("protocol: feetech", "protocol: canbus", r"protocol: 'canbus' is not one of 'dynamixel', 'feetech'"),
    ("velocity_max_rad_s: 3}", "velocity_max_rad_s: fast}", r"joints\[1\].velocity_max_rad_s: expected a number"),
    ("id: 2,", "id: 1,", r"duplicate servo ids \[1, 1\]"),
    ("position_min_rad: -2.0, position_max_rad: 0.5", "position_min_rad: 1.0, position_max_rad: 0.5",
     r"joint b: position_min_rad 1.0 must be below"),
    ("  port: /dev/ttyUSB0\n", "", r"backend 'serial' needs 'port'"),
    ("id: 1, model", "idd: 1, model", r"unknown key 'joints\[0\].idd'"),
])
def test_bad_config_names_file_and_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(ConfigError, match=message) as info:
        load_robot_config(path)
    assert str(path) in str(info.value)


def test_invalid_yaml_gives_line(tmp_path: Path) -> None:
    path = write(tmp_path, "robot:\n  name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_robot_config(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config"):
        load_robot_config(tmp_path / "nope.yaml")
