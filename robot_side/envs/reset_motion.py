"""Scripted reset on hardware: move the joints to a pose with rate-limited commands, and
report failure instead of hanging when the pose is not reached in time.

A position-controlled servo under gravity settles a little off its goal (the SO-101's
shoulder sags about 0.1 rad), so a reset also counts as done once every joint has stopped
within ``settled_tolerance_rad`` of the pose.
"""

from __future__ import annotations

import numpy as np

from drivers.robot import Robot
from robot_side.errors import ResetFailedError

__all__ = ["ResetFailedError", "move_to"]


def move_to(robot: Robot, target_rad: np.ndarray, period_s: float, timeout_s: float,
            tolerance_rad: float = 0.05, settled_tolerance_rad: float = 0.25,
            settled_velocity_rad_s: float = 0.05, settle_s: float = 0.3) -> None:
    """Command ``target_rad`` every period (the robot's limiter rate-limits the way there)
    until every joint is within ``tolerance_rad``, or has stopped within
    ``settled_tolerance_rad``, or ``timeout_s`` passes (then :class:`ResetFailedError`)."""
    start = robot.now_s()
    tick = start
    still_since: float | None = None
    while True:
        state = robot.read()
        now = robot.now_s()
        error = np.abs(state.position_rad - target_rad)
        if np.all(error <= tolerance_rad):
            return
        if state.has_fault:
            raise ResetFailedError(f"hardware fault during reset: {state.fault_summary(robot.spec.joint_names)}")
        if np.all(np.abs(state.velocity_rad_s) <= settled_velocity_rad_s) and np.all(error <= settled_tolerance_rad):
            still_since = now if still_since is None else still_since
            if now - still_since >= settle_s:
                return
        else:
            still_since = None
        if now - start > timeout_s:
            worst = [f"{n} off by {e:.3f} rad" for n, e in zip(robot.spec.joint_names, error) if e > tolerance_rad]
            raise ResetFailedError(f"reset pose not reached within {timeout_s:.1f} s: {', '.join(worst)}")
        robot.write(target_rad)
        tick += period_s
        robot.sleep_until(tick)
