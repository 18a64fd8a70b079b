"""Target networks: frozen copies of a network that trail it by Polyak averaging."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose parameters do not require gradients."""
    target = copy.deepcopy(module)
    target.requires_grad_(False)
    return target


@torch.no_grad()
def polyak_update(target: Sequence[torch.Tensor], source: Sequence[torch.Tensor], tau: float) -> None:
    """In place, ``target <- (1 - tau) * target + tau * source`` for each pair of tensors.

    One multi-tensor ``lerp`` over all pairs (one operation, not one per tensor).
    tau in [0, 1]: 0 leaves the target unchanged, 1 copies the source.
    """
    torch._foreach_lerp_(list(target), list(source), tau)
