"""Safety layer for arms: keep a site (the gripper) inside a box.

Joint commands are checked with the forward kinematics of the robot's MJCF, after the same
joint-range and per-step limits the robot applies (so what the robot finally sends is what
was checked). A command whose limited pose leaves the box is shortened along the way from
the last command (inside) to the largest fraction whose limited pose stays inside, found by
bisection.
"""

from __future__ import annotations

import numpy as np

from drivers.robot import RobotSpec
from drivers.robot_config import RobotConfig
from drivers.safety import CommandLimiter
from robot_side.kinematics import Chain
from sim.assets import model_path

BISECTION_STEPS = 12


class WorkspaceGuard:
    """Keeps ``chain``'s site inside the box [``low_m``, ``high_m``] (m, base frame).

    limiter: the safety stack's (``SafeRobot`` hands over its own with :meth:`use_limiter`), or
    None for one of ``spec``'s at its default rate. Shared, it holds the bounds of the command
    after the last one sent, computed when that one was sent, so the guard limits with one clip
    instead of computing them a second time each step. After a last command that is not the
    limiter's own, the bounds are computed from it, as without sharing.
    """

    def __init__(self, chain: Chain, spec: RobotSpec, low_m: np.ndarray, high_m: np.ndarray,
                 limiter: CommandLimiter | None = None) -> None:
        self.chain = chain.with_joint_order(spec.joint_names)  # takes whole commands
        self._limiter = CommandLimiter.for_spec(spec) if limiter is None else limiter
        self.low = np.asarray(low_m, dtype=np.float64)
        self.high = np.asarray(high_m, dtype=np.float64)
        self._low, self._high = tuple(self.low.tolist()), tuple(self.high.tolist())
        self.clipped = 0  # commands shortened so far

    @classmethod
    def from_config(cls, config: RobotConfig, limiter: CommandLimiter | None = None) -> "WorkspaceGuard | None":
        """The guard of ``config``'s workspace (None if it has none); ``limiter``: see the class."""
        if config.workspace is None:
            return None
        chain = Chain.from_mjcf(model_path(config.name, scene=False), config.workspace.site)
        return cls(chain, config.spec, np.array(config.workspace.min_m), np.array(config.workspace.max_m), limiter)

    def use_limiter(self, limiter: CommandLimiter) -> None:
        """Limit as ``limiter`` does (the limits of the robot that sends what this guard passes)."""
        self._limiter = limiter

    def inside(self, command_rad: np.ndarray) -> bool:
        x, y, z = self.chain.site_xyz(np.asarray(command_rad))
        lo, hi = self._low, self._high
        return lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1] and lo[2] <= z <= hi[2]

    def __call__(self, command_rad: np.ndarray, last_rad: np.ndarray) -> np.ndarray:
        """The command limited as the robot will limit it, if its pose is inside the box; else
        the furthest limited point towards it that is (``last_rad`` if none is)."""
        limit = self._limiter.limit
        limited = limit(np.asarray(command_rad, dtype=np.float64), last_rad)
        if self.inside(limited):
            return limited
        self.clipped += 1
        lo, hi = 0.0, 1.0
        best = np.asarray(last_rad, dtype=np.float64)
        direction = command_rad - last_rad
        for _ in range(BISECTION_STEPS):
            mid = (lo + hi) / 2
            candidate = limit(last_rad + mid * direction, last_rad)
            if self.inside(candidate):
                lo, best = mid, candidate
            else:
                hi = mid
        return best
