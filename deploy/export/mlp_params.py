"""The deterministic policy as plain float32 arrays: the input of the C export and of numpy inference.

``extract_mlp_params`` reads the actor's ``ReluMLP`` and bounds (and the normaliser's
``shift``/``inv_scale``/``clip``); for the SAC actor it keeps only the mean half of the last
layer, the half the deterministic action uses. ``MlpPolicyParams.act`` is the same maths in
numpy, float32 throughout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from deploy.errors import ExportError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class MlpPolicyParams:
    """``act = bias_a + scale_a * tanh(mlp(clip((obs - shift) * inv_scale, -clip, clip)))``.

    weights[k]: ``(in, out)`` float32; biases[k]: ``(out,)``; ReLU after every layer but the
    last. ``obs_shift``/``obs_inv_scale``/``obs_clip`` are None without a normaliser.
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    action_scale: np.ndarray
    action_bias: np.ndarray
    obs_shift: np.ndarray | None = None
    obs_inv_scale: np.ndarray | None = None
    obs_clip: float | None = None

    @property
    def obs_dim(self) -> int:
        return int(self.weights[0].shape[0])

    @property
    def act_dim(self) -> int:
        return int(self.action_scale.shape[0])

    @property
    def layer_sizes(self) -> list[int]:
        """``[obs_dim, hidden..., act_dim]``."""
        return [self.obs_dim] + [int(w.shape[1]) for w in self.weights]

    @property
    def normalizes(self) -> bool:
        return self.obs_shift is not None

    def arrays(self) -> list[np.ndarray]:
        """Every constant array, in the order the C export writes them."""
        head = [self.obs_shift, self.obs_inv_scale] if self.normalizes else []
        body = [a for pair in zip(self.weights, self.biases) for a in pair]
        return [*head, *body, self.action_scale, self.action_bias]  # type: ignore[list-item]

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Actions ``(B, act_dim)`` (or ``(act_dim,)``) for observations ``(B, obs_dim)`` (or ``(obs_dim,)``)."""
        x = np.asarray(obs, dtype=np.float32)
        if self.normalizes:
            x = np.clip((x - self.obs_shift) * self.obs_inv_scale, -self.obs_clip, self.obs_clip)
        last = len(self.weights) - 1
        for k, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            x = x @ weight + bias
            if k < last:
                x = np.maximum(x, 0.0, out=x)
        return self.action_bias + np.tanh(x) * self.action_scale


def extract_mlp_params(actor: nn.Module, normalizer: nn.Module | None = None) -> MlpPolicyParams:
    """The deterministic-policy arrays of a ``SquashedGaussianActor`` or ``DeterministicActor``.

    Raises ExportError for another actor type (the C export knows only these two networks),
    an ensemble network, sizes that disagree, or a non-finite value.
    """
    from robot_rl.algos.networks import DeterministicActor, ReluMLP, SquashedGaussianActor

    if not isinstance(actor, SquashedGaussianActor | DeterministicActor):
        raise ExportError(f"cannot export a {type(actor).__name__} as a plain MLP; "
                          "expected SquashedGaussianActor or DeterministicActor")
    net = actor.net
    if not isinstance(net, ReluMLP) or net.ensemble_size is not None:
        raise ExportError("the actor's network must be a single (non-ensemble) ReluMLP")
    weights = [_array(w) for w in net.weights]
    biases = [_array(b) for b in net.biases]
    act_dim = int(actor.action_scale.shape[0])
    if isinstance(actor, SquashedGaussianActor):
        # forward() splits the last layer's output into (mean, log_std) with chunk(2): keep the mean.
        weights[-1], biases[-1] = weights[-1][:, :act_dim].copy(), biases[-1][:act_dim].copy()
    if weights[-1].shape[1] != act_dim:
        raise ExportError(f"the last layer has {weights[-1].shape[1]} outputs for {act_dim} actions")
    shift = inv_scale = clip = None
    if normalizer is not None:
        shift, inv_scale, clip = _array(normalizer.shift), _array(normalizer.inv_scale), float(normalizer.clip)
        if shift.shape != (weights[0].shape[0],):
            raise ExportError(f"normaliser of size {shift.shape} for an actor reading {weights[0].shape[0]}")
    params = MlpPolicyParams(tuple(weights), tuple(biases), _array(actor.action_scale),
                             _array(actor.action_bias), shift, inv_scale, clip)
    if not all(np.all(np.isfinite(a)) for a in params.arrays()):
        raise ExportError("the policy has a NaN or infinite weight, bias, bound or normaliser statistic")
    return params


def _array(tensor: object) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)  # type: ignore[attr-defined]
