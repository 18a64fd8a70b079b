"""Log-density of a tanh-squashed, scaled Gaussian action.

An action is drawn as ``u = mean + std * noise`` with ``noise ~ N(0, I)`` and squashed to
the action bounds by ``a = scale * tanh(u) + bias``. By the change of variables,

    log p(a) = log N(u; mean, std) - sum_i log |d a_i / d u_i|
             = log N(u; mean, std) - sum_i [log scale_i + log(1 - tanh(u_i)^2)].

``log(1 - tanh(u)^2)`` is computed as ``2 * (log 2 - u - softplus(-2 u))``, which is exact
and stays finite where ``tanh(u)`` rounds to +-1 (``log(1 - tanh^2 + 1e-6)`` as some code
writes it biases the density and saturates at about -13.8).
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_2 = math.log(2.0)


def tanh_log_abs_det_jacobian(pre_tanh: torch.Tensor, action_scale: torch.Tensor) -> torch.Tensor:
    """``sum_i log |d a_i / d u_i|`` for ``a = scale * tanh(u) + bias``.

    pre_tanh: ``u``, shape ``(..., A)``. action_scale: positive, broadcastable to ``(..., A)``.
    Returns shape ``(...)``.
    """
    log_dtanh = 2.0 * (_LOG_2 - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return (log_dtanh + torch.log(action_scale)).sum(dim=-1)


def normal_log_prob_from_noise(noise: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """Diagonal Gaussian log-density of ``u = mean + exp(log_std) * noise``, summed over the last dim.

    Written in terms of the standard-normal draw so that sampling needs no division.
    noise, log_std: shape ``(..., A)``. Returns shape ``(...)``.
    """
    return (-0.5 * noise.square() - log_std).sum(dim=-1) - noise.shape[-1] * LOG_SQRT_2PI


def squashed_gaussian_log_prob(
    pre_tanh: torch.Tensor,
    mean: torch.Tensor,
    log_std: torch.Tensor,
    action_scale: torch.Tensor,
) -> torch.Tensor:
    """Log-density of the action ``scale * tanh(pre_tanh) + bias`` under the squashed Gaussian.

    Density with respect to the action itself (so it includes ``-sum log scale``; the bias
    shifts and does not change it). All inputs broadcast to ``(..., A)``; returns ``(...)``.
    """
    noise = (pre_tanh - mean) * torch.exp(-log_std)
    return normal_log_prob_from_noise(noise, log_std) - tanh_log_abs_det_jacobian(pre_tanh, action_scale)


def squashed_sample(
    mean: torch.Tensor,
    log_std: torch.Tensor,
    noise: torch.Tensor,
    action_scale: torch.Tensor,
    action_bias: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised squashed-Gaussian draw from a standard-normal ``noise``.

    Returns ``(action, log_prob)``: ``action = scale * tanh(mean + exp(log_std) * noise) + bias``
    of shape ``(..., A)`` and its log-density in action units, shape ``(...)``. Both are
    differentiable in ``mean`` and ``log_std``.
    """
    pre_tanh = torch.addcmul(mean, log_std.exp(), noise)
    log_prob = normal_log_prob_from_noise(noise, log_std) - tanh_log_abs_det_jacobian(pre_tanh, action_scale)
    return torch.addcmul(action_bias, torch.tanh(pre_tanh), action_scale), log_prob
