"""Numeric precision of the learner's matrix products."""

from __future__ import annotations

import torch

from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.learner_configs import Precision


def hidden_matmul_dtype(precision: Precision) -> torch.dtype | None:
    """The dtype the networks' hidden matmuls run in (None: their inputs' own, float32)."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    raise LearnerConfigError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
