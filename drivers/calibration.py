"""Per-motor calibration: homing offset, direction and range, kept in YAML beside the robot
config and checked against what the motors hold.

Joint frame: ``joint_rad = direction * (present_ticks - center_ticks) * 2 pi / ticks_per_turn``,
where the motor's own homing offset register has been programmed so that the joint's zero
pose reads ``center_ticks`` (2048 of 4096).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import yaml

from drivers.atomic_file import atomic_write
from drivers.config import build, load_yaml, to_dict
from drivers.errors import ConfigurationError

CENTER_TICKS = 2048
TICKS_PER_TURN = 4096
RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN


class CalibrationMismatchError(ConfigurationError):
    """A motor holds another homing offset than the calibration file says."""


@dataclass(frozen=True)
class MotorCalibration:
    """id: bus id when calibrated. homing_offset_ticks: the value programmed into the motor's
    homing offset register. direction: +1, or -1 when the joint turns against the motor.
    range_min_rad / range_max_rad: the joint's mechanical range found at calibration."""

    id: int
    homing_offset_ticks: int
    direction: Literal[1, -1] = 1
    range_min_rad: float = -math.pi
    range_max_rad: float = math.pi


@dataclass(frozen=True)
class Calibration:
    """motors: calibration by joint name."""

    motors: dict[str, MotorCalibration]

    def arrays(self, names: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """(direction, homing_offset_ticks) for ``names``; raises naming a missing joint."""
        missing = [n for n in names if n not in self.motors]
        if missing:
            raise ConfigurationError(f"calibration has no entry for joint(s) {missing}; run robot-rl motors calibrate")
        return (np.array([self.motors[n].direction for n in names], dtype=np.float64),
                np.array([self.motors[n].homing_offset_ticks for n in names], dtype=np.int64))


def ticks_to_joint_rad(ticks: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return direction * (np.asarray(ticks, dtype=np.float64) - CENTER_TICKS) * RAD_PER_TICK


def joint_rad_to_ticks(position_rad: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return np.rint(np.asarray(position_rad) * direction / RAD_PER_TICK + CENTER_TICKS).astype(np.int64)


def homing_offset_for(actual_ticks: int, homing_offset_sign: int) -> int:
    """The homing offset that makes a motor whose raw reading is ``actual_ticks`` (with a zero
    offset) read ``CENTER_TICKS``. Dynamixel adds the offset (+1), Feetech subtracts it (-1)."""
    return homing_offset_sign * (CENTER_TICKS - int(actual_ticks))


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    if not path.exists():
        raise ConfigurationError(f"calibration file {path} does not exist; run robot-rl motors calibrate")
    return build(Calibration, load_yaml(path), str(path))


def save_calibration(path: str | Path, calibration: Calibration) -> None:
    """Write atomically: a crash mid-write leaves the old file intact."""
    text = ("# Written by `robot-rl motors calibrate`. homing_offset_ticks is programmed into each\n"
            "# motor; the drivers refuse to run if a motor holds another value.\n"
            + yaml.safe_dump(to_dict(calibration), sort_keys=False))
    with atomic_write(path) as f:
        f.write(text)
