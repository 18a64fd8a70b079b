"""Calibration maths and its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.calibration import (CENTER_TICKS, Calibration, MotorCalibration, homing_offset_for,
                                 joint_rad_to_ticks, load_calibration, save_calibration, ticks_to_joint_rad)
from drivers.config import ConfigError
from drivers.errors import ConfigurationError


def test_offset_makes_zero_pose_read_center() -> None:
    actual = 3000
    dxl = homing_offset_for(actual, +1)  # present = actual + offset
    assert actual + dxl == CENTER_TICKS
    feetech = homing_offset_for(actual, -1)  # present = actual - offset
    assert actual - feetech == CENTER_TICKS


def test_joint_frame_round_trip_with_direction() -> None:
    direction = np.array([1.0, -1.0])
    q = np.array([0.5, 0.5])
    ticks = joint_rad_to_ticks(q, direction)
    assert ticks[0] > CENTER_TICKS > ticks[1]
    assert np.allclose(ticks_to_joint_rad(ticks, direction), q, atol=2 * np.pi / 4096)


def test_file_round_trip_and_atomic_replace(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    cal = Calibration({"a": MotorCalibration(1, -120, -1, -1.5, 1.4)})
    save_calibration(path, cal)
    assert load_calibration(path) == cal
    assert [p.name for p in tmp_path.iterdir()] == ["cal.yaml"]  # no temporary left behind


def test_bad_calibration_file(tmp_path: Path) -> None:
    path = tmp_path / "cal.yaml"
    path.write_text("motors:\n  a: {id: 1, homing_offset_ticks: 3, direction: 2}\n")
    with pytest.raises(ConfigError, match=r"motors.a.direction: 2 is not one of 1, -1"):
        load_calibration(path)
    with pytest.raises(ConfigurationError, match="no entry for joint"):
        Calibration({}).arrays(["a"])
