"""Command limits in SI units, applied by every ``Robot`` before anything is sent."""

from __future__ import annotations

import math

import numpy as np

from drivers.robot import RobotSpec


def clip(values: np.ndarray, low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray:
    """What ``np.clip(values, low, high)`` computes (NaN included), at under half its cost on
    a few joints, where its Python dispatch dominates: the tasks clip actions and commands, and
    the limits below are applied in the workspace guard and in the robot, every control step."""
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
        """The spec's step limit at its default control rate."""
        return cls(spec, spec.max_step_rad, 1.0 / spec.control_rate_hz)

    @classmethod
    def range_only(cls, spec: RobotSpec) -> "CommandLimiter":
        """Clips to the joint range only (what a robot's own ``write`` applies; the per-step
        limits are the safety stack's, sized from the control period it runs at)."""
        return cls(spec, math.inf, math.inf)

    def __init__(self, spec: RobotSpec, max_step_rad: float, period_s: float) -> None:
        self.low = np.asarray(spec.position_min_rad, dtype=np.float64)
        self.high = np.asarray(spec.position_max_rad, dtype=np.float64)
        self.max_step = np.minimum(max_step_rad, np.asarray(spec.velocity_max_rad_s) * period_s)
        self._last: np.ndarray | None = None
        self._next_low, self._next_high = self.low, self.high

    @property
    def last(self) -> np.ndarray | None:
        """The last command sent (or the pose after ``reset``); None before either."""
        return self._last

    def reset(self, position_rad: np.ndarray) -> None:
        """Start from the measured pose (clipped into range)."""
        self._set_last(np.clip(np.asarray(position_rad, dtype=np.float64), self.low, self.high))

    def limit(self, command_rad: np.ndarray, last_rad: np.ndarray | None) -> np.ndarray:
        """``command_rad`` limited as a command following ``last_rad`` (float64, not checked);
        what the robot will send when ``last_rad`` is its last command. Changes nothing."""
        if last_rad is self._last:  # the bounds were computed when it was sent
            return np.minimum(np.maximum(command_rad, self._next_low), self._next_high)
        return limit_command(command_rad, last_rad, self.low, self.high, self.max_step)

    def __call__(self, command_rad: np.ndarray) -> np.ndarray:
        """The command to send: ``command_rad`` limited; it becomes the last command. Raises
        ``ValueError`` for a wrong shape or a non-finite entry."""
        command = np.asarray(command_rad, dtype=np.float64)
        if command.shape != self.low.shape:
            raise ValueError(f"command has shape {command.shape}, expected {self.low.shape}")
        # A dot product costs a third of np.isfinite(...).all(); it is finite unless an entry
        # is not, or the squares overflow (an entry over 1e154), which the exact test settles.
        if not math.isfinite(command.dot(command)) and not np.isfinite(command).all():
            raise ValueError(f"command has non-finite values: {command}")
        command = np.minimum(np.maximum(command, self._next_low), self._next_high)
        self._set_last(command)
        return command

    def _set_last(self, command: np.ndarray) -> None:
        """Record the command sent and the bounds of the next one, computed once here for the
        robot and for a workspace guard sharing this limiter.

        Clipping to ``[max(last - step, low), min(last + step, high)]`` is clipping to ``last
        +/- step`` then to [low, high] (the same values, as min and max only select), because
        ``last`` is in [low, high] (clipped or limited into it), so the two ranges overlap."""
        self._last = command
        self._next_low = np.maximum(command - self.max_step, self.low)
        self._next_high = np.minimum(command + self.max_step, self.high)
