"""Batch Renormalization (Ioffe 2017) for an ensemble's hidden layer, as CrossQ uses it.

In training the layer normalises each feature with the statistics of the batch it is given,
corrected towards the running statistics by ``r = clip(sigma_B / sigma, 1/r_max, r_max)`` and
``d = clip((mu_B - mu) / sigma, -d_max, d_max)`` (both constants for the gradient), and moves
the running statistics towards the batch's by ``momentum``. With ``r_max = 1`` and
``d_max = 0`` it is plain batch normalisation (CrossQ's warm-up). Out of training it uses the
running statistics only, so its output for one input does not depend on the others.

CrossQ (Bhatt et al. 2024) feeds the critic ``(s, a)`` and ``(s', a')`` as one batch: the
statistics are those of both together, which is what lets it drop the target networks.
"""

from __future__ import annotations

import torch

EPS = 1e-3
"""Added to the variance before its root (CrossQ's value)."""


def batch_renorm(x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor, *, batch_stats: bool, r_max: float | torch.Tensor = 1.0,
                 d_max: float | torch.Tensor = 0.0) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """Normalise ``x`` ``(M, B, H)`` feature by feature within each member, then scale and shift.

    running_mean / running_var: ``(M, 1, H)`` running statistics (read only here). weight /
    bias: ``(M, 1, H)`` affine parameters. batch_stats: use the statistics of ``x`` over its
    batch dimension, corrected towards the running ones; otherwise the running statistics.
    Returns the output and, with ``batch_stats``, the batch's ``(mean, var)`` (without
    gradient) for :func:`update_running` (nothing is changed in place here, so that the
    whole update can be transformed and compiled).
    """
    if not batch_stats:
        return (x - running_mean) * torch.rsqrt(running_var + EPS) * weight + bias, None
    mean = x.mean(dim=1, keepdim=True)
    var = x.var(dim=1, unbiased=False, keepdim=True)
    inv_std = torch.rsqrt(var + EPS)
    with torch.no_grad():
        running_std = torch.sqrt(running_var + EPS)
        r = torch.clamp(torch.sqrt(var + EPS) / running_std, 1.0 / r_max, r_max)
        d = torch.clamp((mean - running_mean) / running_std, -d_max, d_max)
    return ((x - mean) * inv_std * r + d) * weight + bias, (mean.detach(), var.detach())


@torch.no_grad()
def update_running(running_mean: torch.Tensor, running_var: torch.Tensor, mean: torch.Tensor, var: torch.Tensor,
                   momentum: float) -> None:
    """Move the running statistics ``momentum`` of the way to a training batch's, in place."""
    running_mean.lerp_(mean, momentum)
    running_var.lerp_(var, momentum)


def renorm_limits(updates: int, warmup_updates: int) -> tuple[float, float]:
    """``(r_max, d_max)`` after ``updates`` updates: plain batch normalisation (1, 0) during the
    warm-up, then the corrections Ioffe and CrossQ allow (3, 5)."""
    return (1.0, 0.0) if updates < warmup_updates else (3.0, 5.0)
