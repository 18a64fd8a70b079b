"""Validation helper shared by the learners' config dataclasses."""

from __future__ import annotations

from robot_rl.algos.errors import LearnerConfigError


def check(ok: bool, name: str, value: object, expected: str) -> None:
    """Raise LearnerConfigError ``"<name> must be <expected>, got <value>"`` unless ``ok``."""
    if not ok:
        raise LearnerConfigError(f"{name} must be {expected}, got {value!r}")
