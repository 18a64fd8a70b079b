"""Typed errors of the MuJoCo twin.

Configuration problems found before anything runs (a control period that is not a whole
number of physics steps, a joint the model lacks) are :class:`SimConfigurationError`, which
is also a :class:`drivers.errors.ConfigurationError` so that callers handling bad robot
configs catch them the same way for every backend.
"""

from __future__ import annotations

from drivers.errors import ConfigurationError


class SimError(Exception):
    """Base of every error raised by ``sim``."""


class SimConfigurationError(SimError, ConfigurationError):
    """The robot config, the sim config and the MuJoCo model do not fit together."""


class RobotNotOpenError(SimError):
    """``read``, ``write`` or ``sleep_until`` on a twin that is not open (or already closed)."""


class RenderUnavailableError(SimError):
    """Offscreen rendering cannot start (no usable OpenGL); the message says how to fix it."""
