"""The deterministic policy as one torch module: normalise, actor, tanh, scale. Imports torch.

Only the export functions import this module (inside their bodies), so ``import deploy.export``
stays free of torch. The module wraps ``actor.deterministic`` rather than re-implementing it:
the ONNX graph is a trace of the same code the learner evaluates with.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from deploy.errors import ExportError


class DeterministicPolicy(nn.Module):
    """``actor.deterministic(normalizer(obs))`` on private float32 CPU copies in eval mode.

    actor: a ``SquashedGaussianActor`` or ``DeterministicActor`` (anything with
        ``deterministic(obs)``, ``action_scale``/``action_bias`` buffers and a ``ReluMLP``
        ``net``); normalizer: an ``ObservationNormalizer`` or None.
    Copies, so exporting never moves or changes the learner's modules.
    Raises ExportError if the actor lacks those parts or the sizes disagree.
    """

    def __init__(self, actor: nn.Module, normalizer: nn.Module | None = None):
        super().__init__()
        for part in ("deterministic", "action_scale", "action_bias", "net"):
            if not hasattr(actor, part):
                raise ExportError(f"{type(actor).__name__} has no {part!r}: not a robot_rl actor")
        self.actor = copy.deepcopy(actor).float().cpu().eval()
        self.normalizer = None if normalizer is None else copy.deepcopy(normalizer).cpu().eval()
        self.obs_dim = int(self.actor.net.weights[0].shape[0])
        if self.normalizer is not None and self.normalizer.shift.shape != (self.obs_dim,):
            raise ExportError(f"normaliser of size {tuple(self.normalizer.shift.shape)} for an actor "
                              f"reading {self.obs_dim} observations")

    @property
    def act_dim(self) -> int:
        return int(self.actor.action_scale.shape[0])

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` as float64 arrays ``(A,)``: the box the actor's ``tanh`` is scaled to."""
        scale = self.actor.action_scale.detach().double().numpy()
        bias = self.actor.action_bias.detach().double().numpy()
        return bias - scale, bias + scale

    def training_range(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The normaliser's running ``(mean, std)`` as float64 ``(obs_dim,)``, or None without one."""
        if self.normalizer is None:
            return None
        return (self.normalizer.mean.detach().numpy().copy(),
                np.sqrt(self.normalizer.var.detach().numpy()))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """obs ``(B, obs_dim)`` float32 -> action ``(B, act_dim)`` within the bounds."""
        if self.normalizer is not None:
            obs = self.normalizer(obs)
        return self.actor.deterministic(obs)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The reference actions for observations ``(B, obs_dim)``, as float32 numpy."""
        with torch.inference_mode():
            return self(torch.as_tensor(np.asarray(obs, dtype=np.float32))).numpy()
