"""A scripted operator for a virtual leader: every joint swept slowly about its home pose.

What a person testing teleoperation does first, move each joint a little: joint ``j`` follows
``home + a_j sin(2 pi t / period + j)``, ramped in over the first period so that it starts at
home, with ``a_j`` a fraction of the joint's half-range. ``robot-rl teleop`` uses it when the
leader is virtual; tests use it to move the leader through known poses.
"""

from __future__ import annotations

import numpy as np

from drivers.robot_config import RobotConfig


class SweepOperator:
    """Poses of ``config``'s joints (leader order) over time ``t_s``; see the module docstring."""

    def __init__(self, config: RobotConfig, period_s: float = 6.0, amplitude_fraction: float = 0.25) -> None:
        if not period_s > 0 or not 0 < amplitude_fraction <= 1:
            raise ValueError(f"a sweep needs period_s > 0 and amplitude_fraction in (0, 1], got "
                             f"{period_s!r}, {amplitude_fraction!r}")
        self.home = config.home_rad
        half_range = (config.position_max_rad - config.position_min_rad) / 2
        self.amplitude = amplitude_fraction * half_range
        self.period_s = period_s
        self.phase = np.arange(len(self.home), dtype=np.float64)

    def pose(self, t_s: float) -> np.ndarray:
        ramp = min(1.0, t_s / self.period_s)
        return self.home + ramp * self.amplitude * np.sin(2 * np.pi * t_s / self.period_s + self.phase)
