"""Errors raised by the learning algorithms."""

from __future__ import annotations

from robot_rl.errors import TrainingError


class LearnerError(TrainingError):
    """Base class of every error raised by ``robot_rl.algos``."""


class LearnerConfigError(LearnerError, ValueError):
    """A learner or network configuration value is out of range or inconsistent."""


class CheckpointError(LearnerError):
    """A learner state dict is missing entries or does not fit this learner."""
