"""Errors and warnings raised by ``robot_rl.replay``."""

from __future__ import annotations

from robot_rl.errors import TrainingError


class ReplayError(TrainingError):
    """Base class of every error raised by ``robot_rl.replay``."""


class ReplayConfigError(ReplayError, ValueError):
    """A replay configuration value is out of range or inconsistent; the message names it."""


class ReplayValueError(ReplayError, ValueError):
    """An argument given to the buffer is out of range (for example ``batch_size <= 0``)."""


class ReplayShapeError(ReplayValueError):
    """Data or storage arrays given to the buffer do not fit its layout (shape, dtype, column)."""


class ReplayEmptyError(ReplayError):
    """``sample`` was called on a buffer that holds no transitions."""


class ReplayStateError(ReplayError, ValueError):
    """A replay state dict is missing entries or does not fit this buffer."""


class ReplayPersistenceError(ReplayError, OSError):
    """Writing replay segments or the manifest to the run directory failed (disk full, ...)."""


class ReplayRestoreError(ReplayError):
    """The run directory's replay cannot be restored into this buffer as configured
    (for example its observation size differs from the config's). Damaged segment files
    never raise this: they are skipped with a :class:`SkippedSegmentWarning`."""


class SkippedSegmentWarning(UserWarning):
    """A file in ``<run>/replay/`` was ignored while restoring; the message names the file."""
