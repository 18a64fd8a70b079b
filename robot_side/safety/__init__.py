"""The safety stack: one object (``SafeRobot``) that every path moving a motor goes through,
the workspace guard and the watchdog it owns, and the signal handling (``StopSignals``) that
turns SIGINT, SIGTERM and SIGHUP into a clean stop with torque off. See docs/safety.md."""

from robot_side.safety.safe_robot import SafeRobot
from robot_side.safety.stop_signals import StopSignals
from robot_side.safety.watchdog import Watchdog
from robot_side.safety.workspace_guard import WorkspaceGuard

__all__ = ["SafeRobot", "StopSignals", "Watchdog", "WorkspaceGuard"]
