"""The base of every error the training side raises (learners, replay, run directories,
checkpoints, the real-time mode, the fleet), as ``drivers`` and ``robot_side`` have theirs.

The command line turns each into one line and exit status 2 (``robot_rl.cli.main``).
"""

from __future__ import annotations


class TrainingError(Exception):
    """Base of every error raised by ``robot_rl`` (the training side)."""
