"""Numeric precision of the learner's matrix products."""

from __future__ import annotations

from typing import Literal

import torch

from robot_rl.algos.errors import LearnerConfigError

Precision = Literal["fp32", "bf16"]
"""``fp32``: float32 throughout. ``bf16``: the hidden-to-hidden matmuls of every network
(most of the arithmetic) read bfloat16 copies of their inputs and weights and accumulate in
float32; weights, gradients, optimiser state, the first and last layers and all the loss
arithmetic stay float32. On CPUs with AMX tiles the bfloat16 products are several times faster."""


def hidden_matmul_dtype(precision: Precision) -> torch.dtype | None:
    """The dtype the networks' hidden matmuls run in (None: their inputs' own, float32)."""
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    raise LearnerConfigError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
