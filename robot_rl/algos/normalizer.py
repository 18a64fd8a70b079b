"""Running observation normaliser, kept as module buffers so it is checkpointed and exported."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from robot_rl.algos.errors import LearnerConfigError


class ObservationNormalizer(nn.Module):
    """``forward(obs) = clip((obs - mean) / sqrt(var + eps), -clip, clip)`` with running statistics.

    ``update`` merges a batch into the running count, mean and population variance with
    Chan et al.'s parallel form of Welford's algorithm (exact for any chunking, stable in
    float64). The statistics are float64 buffers; ``shift`` and ``inv_scale`` are float32
    buffers derived from them after every update, so ``forward`` is one subtraction, one
    multiplication and one clip: the graph an ONNX export bakes in. Before any update it
    is the identity (then clipped).
    """

    count: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    shift: torch.Tensor
    inv_scale: torch.Tensor

    def __init__(self, obs_dim: int, eps: float = 1e-8, clip: float = 10.0):
        super().__init__()
        if obs_dim < 1:
            raise LearnerConfigError(f"obs_dim must be positive, got {obs_dim}")
        if not (eps > 0.0 and clip > 0.0):
            raise LearnerConfigError(f"eps and clip must be positive, got eps={eps}, clip={clip}")
        self.eps = float(eps)
        self.clip = float(clip)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        self.register_buffer("shift", torch.zeros(obs_dim, dtype=torch.float32))
        self.register_buffer("inv_scale", torch.ones(obs_dim, dtype=torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs ``(..., obs_dim)`` -> normalised obs of the same shape and dtype float32."""
        return torch.clamp((obs - self.shift) * self.inv_scale, -self.clip, self.clip)

    @torch.no_grad()
    def update(self, obs: np.ndarray) -> None:
        """Merge observations ``(B, obs_dim)`` or one ``(obs_dim,)`` into the statistics.

        Raises LearnerConfigError if the feature size is wrong or a value is not finite
        (one NaN would poison the statistics for good).
        """
        batch = np.asarray(obs, dtype=np.float64)
        if batch.ndim == 1:
            batch = batch[None]
        obs_dim = self.mean.shape[0]
        if batch.ndim != 2 or batch.shape[1] != obs_dim:
            raise LearnerConfigError(f"expected observations of shape (B, {obs_dim}), got {np.shape(obs)}")
        if batch.shape[0] == 0:
            return
        if not np.all(np.isfinite(batch)):
            raise LearnerConfigError("observations to normalise contain NaN or infinity")
        n_b = float(batch.shape[0])
        mean_b = batch.mean(axis=0)
        m2_b = np.square(batch - mean_b).sum(axis=0)
        n_a = float(self.count.item())
        mean_a = self.mean.cpu().numpy()
        m2_a = self.var.cpu().numpy() * n_a
        n = n_a + n_b
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b / n)
        m2 = m2_a + m2_b + np.square(delta) * (n_a * n_b / n)
        self.count.fill_(n)
        self.mean.copy_(torch.from_numpy(mean))
        self.var.copy_(torch.from_numpy(m2 / n))
        self.shift.copy_(self.mean)
        self.inv_scale.copy_(torch.rsqrt(self.var + self.eps))
