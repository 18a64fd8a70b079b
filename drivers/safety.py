"""Command limits in SI units, applied by every ``Robot`` before anything is sent."""

from __future__ import annotations

import numpy as np

from drivers.robot import RobotSpec


def clip(values: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """What ``np.clip(values, low, high)`` computes (NaN included), at under half its cost on
    a few joints, where its Python dispatch dominates: the tasks clip actions and commands, and
    :func:`limit_command` (the same two ufuncs, inlined) limits them again in the workspace
    guard and in the robot, every control step."""
    return np.minimum(np.maximum(values, low), high)


def limit_command(command: np.ndarray, last: np.ndarray | None, low: np.ndarray, high: np.ndarray,
                  max_step: np.ndarray) -> np.ndarray:
    """``command`` clipped to ``last +/- max_step`` (when ``last`` is known), then to [low, high]."""
    if last is not None:
        command = np.minimum(np.maximum(command, last - max_step), last + max_step)
    return np.minimum(np.maximum(command, low), high)


class CommandLimiter:
    """Clips position commands to the joint range and to a largest change per step.

    The step limit is the smaller of ``max_step_rad`` and ``velocity_max_rad_s * period_s``,
    measured from the last command sent (or from the measured position after ``reset``).
    """

    @classmethod
    def for_spec(cls, spec: RobotSpec) -> "CommandLimiter":
        """The limiter every backend applies: the spec's step limit at its control rate."""
        return cls(spec, spec.max_step_rad, 1.0 / spec.control_rate_hz)

    def __init__(self, spec: RobotSpec, max_step_rad: float, period_s: float) -> None:
        self.low = np.asarray(spec.position_min_rad, dtype=np.float64)
        self.high = np.asarray(spec.position_max_rad, dtype=np.float64)
        self.max_step = np.minimum(max_step_rad, np.asarray(spec.velocity_max_rad_s) * period_s)
        self.last: np.ndarray | None = None

    def reset(self, position_rad: np.ndarray) -> None:
        """Start from the measured pose (clipped into range)."""
        self.last = np.clip(np.asarray(position_rad, dtype=np.float64), self.low, self.high)

    def __call__(self, command_rad: np.ndarray) -> np.ndarray:
        command = np.asarray(command_rad, dtype=np.float64)
        if command.shape != self.low.shape:
            raise ValueError(f"command has shape {command.shape}, expected {self.low.shape}")
        if not np.isfinite(command).all():
            raise ValueError(f"command has non-finite values: {command}")
        command = limit_command(command, self.last, self.low, self.high, self.max_step)
        self.last = command
        return command
