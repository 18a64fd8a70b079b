"""Actor and critic networks for SAC and TD3.

Actors map observations to actions inside the box ``[low, high]`` with a ``tanh`` and an
affine map whose ``action_scale`` and ``action_bias`` are registered buffers: they are saved
with the weights and exported with them, so a checkpoint alone gives the right bounds.

Critics are ensembles of ``N`` Q-networks fused into one network: each layer holds all
members' weights in one ``(N, in, out)`` tensor and runs as one batched matmul, which halves
the number of operations (and their per-call overhead) compared with ``N`` separate MLPs.

Every forward takes ``hidden_dtype``: ``torch.bfloat16`` runs the hidden-to-hidden matmuls
(the ``H x H`` ones, most of the arithmetic) on bfloat16 copies of their inputs and weights
with float32 accumulation; the first and last layers, the bias additions and everything
after stay float32. None (the default) is float32 throughout.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from robot_rl.algos.batch_renorm import batch_renorm, update_running
from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.squashed_gaussian import squashed_sample

Members = torch.Tensor | slice | None
"""Which critics of an ensemble to evaluate: all (None), a slice, or a 1-D index tensor."""


class ReluMLP(nn.Module):
    """``Linear -> ReLU -> ... -> Linear``, optionally an ensemble of ``N`` independent copies.

    Single network: ``weights[k]`` is ``(in, out)`` and ``biases[k]`` is ``(out,)``; input
    ``(B, in)`` gives ``(B, out)``. Ensemble: ``(N, in, out)`` and ``(N, 1, out)``; input
    ``(B, in)`` (shared by all members) or ``(N, B, in)`` gives ``(N, B, out)``. Initialised as
    ``nn.Linear`` is (uniform in ``+-1/sqrt(fan_in)``), each member independently.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_sizes: Sequence[int], ensemble_size: int | None = None):
        super().__init__()
        if ensemble_size is not None and ensemble_size < 1:
            raise LearnerConfigError(f"ensemble_size must be at least 1, got {ensemble_size}")
        if in_dim < 1 or out_dim < 1 or any(size < 1 for size in hidden_sizes):
            raise LearnerConfigError(f"layer sizes must be positive, got {in_dim}, {list(hidden_sizes)}, {out_dim}")
        self.ensemble_size = ensemble_size
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        sizes = [in_dim, *hidden_sizes, out_dim]
        lead = () if ensemble_size is None else (ensemble_size,)
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)
            bias_shape = (fan_out,) if ensemble_size is None else (ensemble_size, 1, fan_out)
            self.weights.append(nn.Parameter(torch.empty(*lead, fan_in, fan_out).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(bias_shape).uniform_(-bound, bound)))

    def forward(self, x: torch.Tensor, *, members: Members = None, detach_weights: bool = False,
                hidden_dtype: torch.dtype | None = None) -> torch.Tensor:
        """Apply the network(s). ``members``/``detach_weights`` as in ``CriticEnsemble.forward``."""
        last = len(self.weights) - 1
        for k, (weight, bias) in enumerate(zip(self.weights, self.biases)):
            weight = select_members(weight, members, detach_weights)
            bias = select_members(bias, members, detach_weights)
            x = linear(x, weight, bias, hidden_dtype if 0 < k < last else None)
            if k < last:
                x = torch.relu(x)
        return x


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dtype: torch.dtype | None = None
           ) -> torch.Tensor:
    """``x @ weight + bias`` for a single layer (2-D weight) or an ensemble layer (3-D weight).

    An ensemble layer broadcasts a 2-D ``x`` to every member. ``dtype``: run the matmul on
    copies of ``x`` and ``weight`` in that dtype; the result is float32 either way. ``bias``
    None: no bias (a layer that a normalisation follows).
    """
    if weight.dim() == 3 and x.dim() == 2:
        x = x.expand(weight.shape[0], *x.shape)
    if dtype is not None and dtype != x.dtype:
        product = torch.matmul(x.to(dtype), weight.to(dtype)).to(torch.float32)
        return product if bias is None else product + bias
    if bias is None:
        return torch.matmul(x, weight)
    if torch.compiler.is_compiling():
        # Compiled, the bias add joins the pointwise kernel that follows (ReLU, the loss);
        # addmm would first copy the broadcast bias into its output (TD3 updates +10 %).
        return torch.matmul(x, weight) + bias
    if weight.dim() == 3:
        return torch.baddbmm(bias, x, weight)
    return torch.addmm(bias, x, weight)


def select_members(param: torch.Tensor, members: Members, detach: bool = False) -> torch.Tensor:
    """The rows of an ensemble parameter for ``members`` (all if None), detached if asked."""
    tensor = param.detach() if detach else param
    if members is None:
        return tensor
    if isinstance(members, slice):
        return tensor[members]
    return tensor.index_select(0, members)


def mlp(in_dim: int, out_dim: int, hidden_sizes: Sequence[int], ensemble_size: int | None = None) -> ReluMLP:
    """Build a ``ReluMLP`` (a single network, or an ensemble of ``ensemble_size``)."""
    return ReluMLP(in_dim, out_dim, hidden_sizes, ensemble_size)


def action_scale_and_bias(low: Sequence[float] | np.ndarray, high: Sequence[float] | np.ndarray
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """``scale = (high - low) / 2`` and ``bias = (high + low) / 2`` as float32 tensors of shape ``(A,)``.

    Raises LearnerConfigError unless both bounds are finite 1-D arrays of one length with
    ``low < high`` everywhere (a squashing policy cannot represent an unbounded action).
    """
    low_arr = np.asarray(low, dtype=np.float64)
    high_arr = np.asarray(high, dtype=np.float64)
    if low_arr.ndim != 1 or low_arr.shape != high_arr.shape or low_arr.size == 0:
        raise LearnerConfigError(
            f"action bounds must be 1-D and of equal length, got {low_arr.shape} and {high_arr.shape}")
    if not (np.all(np.isfinite(low_arr)) and np.all(np.isfinite(high_arr)) and np.all(low_arr < high_arr)):
        raise LearnerConfigError(f"action bounds must be finite with low < high, got {low_arr} and {high_arr}")
    scale = torch.as_tensor((high_arr - low_arr) / 2.0, dtype=torch.float32)
    bias = torch.as_tensor((high_arr + low_arr) / 2.0, dtype=torch.float32)
    return scale, bias


class _BoundedActor(nn.Module):
    """Holds the action bounds as buffers; subclasses define the network."""

    action_scale: torch.Tensor
    action_bias: torch.Tensor

    def __init__(self, action_low: Sequence[float] | np.ndarray, action_high: Sequence[float] | np.ndarray):
        super().__init__()
        scale, bias = action_scale_and_bias(action_low, action_high)
        self.register_buffer("action_scale", scale)
        self.register_buffer("action_bias", bias)

    @property
    def action_dim(self) -> int:
        return self.action_scale.shape[0]

    def squash(self, pre_tanh: torch.Tensor) -> torch.Tensor:
        """``scale * tanh(pre_tanh) + bias``."""
        return torch.addcmul(self.action_bias, torch.tanh(pre_tanh), self.action_scale)


class SquashedGaussianActor(_BoundedActor):
    """SAC policy: a diagonal Gaussian over pre-squash actions, squashed into the bounds.

    One MLP outputs the mean and the raw log standard deviation; the latter is mapped
    smoothly into ``[log_std_min, log_std_max]`` with a ``tanh`` (a hard clamp would zero
    its gradient outside the range).
    """

    def __init__(
        self,
        obs_dim: int,
        action_low: Sequence[float] | np.ndarray,
        action_high: Sequence[float] | np.ndarray,
        hidden_sizes: Sequence[int] = (256, 256),
        log_std_min: float = -5.0,
        log_std_max: float = 2.0,
    ):
        super().__init__(action_low, action_high)
        if not log_std_min < log_std_max:
            raise LearnerConfigError(f"log_std_min {log_std_min} must be below log_std_max {log_std_max}")
        self.log_std_min = float(log_std_min)
        self.log_std_max = float(log_std_max)
        self.net = mlp(obs_dim, 2 * self.action_dim, hidden_sizes)

    def forward(self, obs: torch.Tensor, hidden_dtype: torch.dtype | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """obs ``(B, obs_dim)`` -> ``(mean, log_std)``, each ``(B, A)``, in pre-squash units."""
        mean, raw_log_std = self.net(obs, hidden_dtype=hidden_dtype).chunk(2, dim=-1)
        half_range = 0.5 * (self.log_std_max - self.log_std_min)
        log_std = torch.tanh(raw_log_std) * half_range + (self.log_std_min + half_range)
        return mean, log_std

    def sample(self, obs: torch.Tensor, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None, hidden_dtype: torch.dtype | None = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised draw: ``(action (B, A), log_prob (B,))``, differentiable in the weights.

        noise: the standard-normal draw ``(B, A)``; drawn here from ``generator`` if None.
        ``log_prob`` is the density of the action in action units (tanh and scale Jacobian included).
        """
        mean, log_std = self(obs, hidden_dtype)
        if noise is None:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return squashed_sample(mean, log_std, noise, self.action_scale, self.action_bias)

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """The action at the mode of the pre-squash Gaussian: ``scale * tanh(mean) + bias``."""
        mean, _ = self(obs)
        return self.squash(mean)


class DeterministicActor(_BoundedActor):
    """TD3 policy: ``scale * tanh(mlp(obs)) + bias``."""

    def __init__(
        self,
        obs_dim: int,
        action_low: Sequence[float] | np.ndarray,
        action_high: Sequence[float] | np.ndarray,
        hidden_sizes: Sequence[int] = (256, 256),
    ):
        super().__init__(action_low, action_high)
        self.net = mlp(obs_dim, self.action_dim, hidden_sizes)

    def forward(self, obs: torch.Tensor, hidden_dtype: torch.dtype | None = None) -> torch.Tensor:
        """obs ``(B, obs_dim)`` -> action ``(B, A)`` inside the bounds."""
        return self.squash(self.net(obs, hidden_dtype=hidden_dtype))

    def deterministic(self, obs: torch.Tensor) -> torch.Tensor:
        """Same as ``forward``; named like the SAC actor's method so callers need not care."""
        return self(obs)


class CriticEnsemble(nn.Module):
    """``N`` Q-networks ``Q_i(obs, action)`` evaluated together by batched matmuls.

    ``net`` is an ensemble ``ReluMLP``: layer ``k`` holds all members' weights in one
    ``(N, in, out)`` tensor. Optionally each hidden layer becomes
    ``Linear -> Dropout -> LayerNorm -> ReLU``, the DroQ regulariser (per-member LayerNorm
    affine parameters; dropout from torch's global random generator, active in training mode).
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden_sizes: Sequence[int] = (256, 256),
        n_critics: int = 2,
        dropout: float = 0.0,
        layer_norm: bool = False,
        batch_renorm: bool = False,
        renorm_momentum: float = 0.01,
    ):
        super().__init__()
        if layer_norm and batch_renorm:
            raise LearnerConfigError("a critic takes LayerNorm or batch renormalisation, not both")
        if n_critics < 1:
            raise LearnerConfigError(f"n_critics must be at least 1, got {n_critics}")
        if not 0.0 <= dropout < 1.0:
            raise LearnerConfigError(f"critic dropout must be in [0, 1), got {dropout}")
        if len(hidden_sizes) == 0:
            raise LearnerConfigError("a critic needs at least one hidden layer")
        self.n_critics = n_critics
        self.dropout = float(dropout)
        self.layer_norm = bool(layer_norm)
        self.net = ReluMLP(obs_dim + action_dim, 1, hidden_sizes, ensemble_size=n_critics)
        self.norm_weights = nn.ParameterList()
        self.norm_biases = nn.ParameterList()
        self.batch_renorm = bool(batch_renorm)
        self.renorm_momentum = float(renorm_momentum)
        if layer_norm or batch_renorm:
            for k, size in enumerate(hidden_sizes):
                self.norm_weights.append(nn.Parameter(torch.ones(n_critics, 1, size)))
                self.norm_biases.append(nn.Parameter(torch.zeros(n_critics, 1, size)))
                if batch_renorm:
                    self.register_buffer(f"running_mean_{k}", torch.zeros(n_critics, 1, size))
                    self.register_buffer(f"running_var_{k}", torch.ones(n_critics, 1, size))
        # A batch-renormalised layer's bias is unused (see forward): zero, and left out of training.
        self.unused_parameters = {f"net.biases.{k}" for k in range(len(hidden_sizes))} if batch_renorm else set()
        with torch.no_grad():
            for name, param in self.named_parameters():
                if name in self.unused_parameters:
                    param.zero_()

    def trained_parameters(self) -> dict[str, nn.Parameter]:
        """The parameters a learner updates, by name (all but ``unused_parameters``)."""
        return {name: param for name, param in self.named_parameters() if name not in self.unused_parameters}

    def forward(
        self,
        obs: torch.Tensor,
        action: torch.Tensor,
        *,
        members: Members = None,
        detach_weights: bool = False,
        hidden_dtype: torch.dtype | None = None,
        batch_stats: bool = False,
        renorm: tuple[float | torch.Tensor, float | torch.Tensor] = (1.0, 0.0),
    ) -> torch.Tensor:
        """Q-values of shape ``(M, B)`` for obs ``(B, obs_dim)`` and action ``(B, A)``.

        members: which critics to evaluate (``M`` of them; all by default).
        detach_weights: use the weights as constants, so that a backward pass computes
            gradients with respect to the inputs only (the actor loss needs no critic weight
            gradients).
        batch_stats / renorm: with batch renormalisation, normalise by this batch's statistics
            (all members only) with the corrections ``(r_max, d_max)``, and return them too:
            ``(q, [(mean, var) per hidden layer])`` for :meth:`update_running_stats`; otherwise
            normalise by the running statistics.
        """
        x = torch.cat((obs, action), dim=-1)
        if self.dropout == 0.0 and not self.layer_norm and not self.batch_renorm:
            q = self.net(x, members=members, detach_weights=detach_weights, hidden_dtype=hidden_dtype)
            return q.squeeze(-1)
        weights, biases = self.net.weights, self.net.biases
        last = len(weights) - 1
        moments = []
        for k, (weight, bias) in enumerate(zip(weights, biases)):
            weight = select_members(weight, members, detach_weights)
            # A batch-renormalised layer subtracts its mean: a bias before it would cancel out,
            # its gradient only rounding noise that Adam would magnify into steps of ``lr``.
            bias = None if self.batch_renorm and k < last else select_members(bias, members, detach_weights)
            x = linear(x, weight, bias, hidden_dtype if 0 < k < last else None)
            if k == last:
                break
            if self.dropout > 0.0:
                x = nn.functional.dropout(x, self.dropout, self.training)
            if self.layer_norm:
                x = nn.functional.layer_norm(x, x.shape[-1:])
                x = torch.addcmul(select_members(self.norm_biases[k], members, detach_weights), x,
                                  select_members(self.norm_weights[k], members, detach_weights))
            if self.batch_renorm:
                if batch_stats and members is not None:
                    raise LearnerConfigError("batch statistics are learnt with every critic, not a subset")
                x, batch_moments = batch_renorm(x, select_members(getattr(self, f"running_mean_{k}"), members),
                                                select_members(getattr(self, f"running_var_{k}"), members),
                                                select_members(self.norm_weights[k], members, detach_weights),
                                                select_members(self.norm_biases[k], members, detach_weights),
                                                batch_stats=batch_stats, r_max=renorm[0], d_max=renorm[1])
                moments.append(batch_moments)
            x = torch.relu(x)
        if self.batch_renorm and batch_stats:
            return x.squeeze(-1), moments
        return x.squeeze(-1)

    def update_running_stats(self, moments: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Move the running statistics towards a training batch's (``forward(..., batch_stats=True)``)."""
        for k, (mean, var) in enumerate(moments):
            update_running(getattr(self, f"running_mean_{k}"), getattr(self, f"running_var_{k}"), mean, var,
                           self.renorm_momentum)


class TwinCritic(CriticEnsemble):
    """The usual pair of Q-networks of SAC and TD3: a ``CriticEnsemble`` with ``N = 2``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_sizes: Sequence[int] = (256, 256),
                 dropout: float = 0.0, layer_norm: bool = False):
        super().__init__(obs_dim, action_dim, hidden_sizes, n_critics=2, dropout=dropout, layer_norm=layer_norm)
