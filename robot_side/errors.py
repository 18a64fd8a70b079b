"""Typed errors of the robot side (env, tasks, safety stack), as ``drivers`` has its own.

Every failure a user can cause or meet here is one of these, with a message that names the
option, joint, value or index at fault. The command line turns each into one line and exit
status 2. Errors of the layers below (``drivers.errors.DriverError``, ``sim.errors.SimError``)
pass through unchanged.
"""

from __future__ import annotations


class RobotSideError(Exception):
    """Base of every error raised by ``robot_side``."""


class EnvOptionError(RobotSideError, ValueError):
    """An env option (``gymnasium.make(id, **options)``, ``env.options`` of a training config)
    is unknown, of the wrong type or out of range: a misspelt key, a control rate outside the
    robot's bounds, an unknown env id."""


class InvalidActionError(RobotSideError, ValueError):
    """An action of the wrong shape or with a non-finite entry (NaN, inf): nothing was sent;
    the motors hold their last command."""


class InvalidCommandError(RobotSideError, ValueError):
    """A joint command of the wrong shape or with a non-finite entry reached the safety stack:
    nothing was sent."""


class ResetFailedError(RobotSideError):
    """The robot did not reach its reset pose in time; the message names the joints."""


class WatchdogTrippedError(RobotSideError):
    """The watchdog turned torque off: nothing had commanded the robot for too long. The
    robot is limp; it is never commanded again in this run."""


class BusFaultPersistsError(RobotSideError):
    """The robot's state could not be read for ``safety.max_missed_reads`` periods in a row
    (or a command could not be written): torque was turned off where the bus still answers.
    The underlying driver error is the ``__cause__``."""
