"""The tanh-squashed Gaussian log-density against numerical change-of-variables references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from robot_rl.algos.networks import SquashedGaussianActor
from robot_rl.algos.squashed_gaussian import (
    squashed_gaussian_log_prob,
    squashed_sample,
    tanh_log_abs_det_jacobian,
)


def _reference_log_prob(pre_tanh: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor,
                        scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """log N(u) - log|det da/du| with the Jacobian of a = scale * tanh(u) + bias taken numerically."""
    gaussian = torch.distributions.Normal(mean, log_std.exp()).log_prob(pre_tanh).sum()
    jacobian = torch.autograd.functional.jacobian(lambda u: scale * torch.tanh(u) + bias, pre_tanh)
    _, log_abs_det = torch.linalg.slogdet(jacobian)
    return gaussian - log_abs_det


@pytest.mark.parametrize("seed", range(5))
def test_log_prob_matches_numerical_change_of_variables(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    dim = 4
    mean = torch.randn(dim, generator=gen, dtype=torch.float64)
    log_std = torch.randn(dim, generator=gen, dtype=torch.float64) * 0.5
    pre_tanh = mean + log_std.exp() * torch.randn(dim, generator=gen, dtype=torch.float64) * 2.0
    scale = torch.rand(dim, generator=gen, dtype=torch.float64) * 3.0 + 0.1
    bias = torch.randn(dim, generator=gen, dtype=torch.float64)
    expected = _reference_log_prob(pre_tanh, mean, log_std, scale, bias)
    actual = squashed_gaussian_log_prob(pre_tanh, mean, log_std, scale)
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


def test_log_prob_jacobian_by_finite_differences() -> None:
    """The same check with a central-difference Jacobian (independent of autograd)."""
    u = torch.tensor([0.3, -1.7, 2.5], dtype=torch.float64)
    scale = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64)
    h = 1e-6
    derivative = scale * (torch.tanh(u + h) - torch.tanh(u - h)) / (2 * h)
    torch.testing.assert_close(tanh_log_abs_det_jacobian(u, scale), torch.log(derivative).sum(),
                               rtol=1e-8, atol=1e-8)


def test_density_integrates_to_one_in_action_units() -> None:
    """exp(log p(a)) over the action interval integrates to 1 (scale and bias included)."""
    mean, log_std = torch.tensor([0.4], dtype=torch.float64), torch.tensor([0.2], dtype=torch.float64)
    scale, bias = torch.tensor([2.5], dtype=torch.float64), torch.tensor([-1.0], dtype=torch.float64)
    u = torch.linspace(-12.0, 12.0, 200_001, dtype=torch.float64).unsqueeze(-1)
    action = (scale * torch.tanh(u) + bias).squeeze(-1)
    density = squashed_gaussian_log_prob(u, mean, log_std, scale).exp()
    integral = torch.trapezoid(density, action)
    assert integral.item() == pytest.approx(1.0, abs=1e-6)


def test_saturated_pre_tanh_stays_finite_and_exact() -> None:
    """Where tanh(u) rounds to 1, log(1 - tanh^2) = -2 log cosh u must still be right."""
    u = torch.tensor([-40.0, -15.0, 15.0, 40.0], dtype=torch.float32)
    scale = torch.ones(4)
    actual = tanh_log_abs_det_jacobian(u.unsqueeze(0), scale).squeeze(0)
    u64 = u.double()
    expected = (-2.0 * (u64.abs() + torch.log1p(torch.exp(-2.0 * u64.abs())) - math.log(2.0))).sum()
    assert torch.isfinite(actual)
    assert actual.item() == pytest.approx(expected.item(), rel=1e-6)


def test_sample_log_prob_equals_density_of_the_drawn_action() -> None:
    gen = torch.Generator().manual_seed(3)
    mean = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    log_std = torch.randn(64, 3, generator=gen, dtype=torch.float64) * 0.3
    noise = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    scale = torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    bias = torch.tensor([0.0, 1.0, -0.5], dtype=torch.float64)
    action, log_prob = squashed_sample(mean, log_std, noise, scale, bias)
    pre_tanh = torch.atanh((action - bias) / scale)
    torch.testing.assert_close(log_prob, squashed_gaussian_log_prob(pre_tanh, mean, log_std, scale),
                               rtol=1e-7, atol=1e-7)


def test_actor_actions_lie_in_bounds_and_bounds_travel_with_weights() -> None:
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 0.5])
    actor = SquashedGaussianActor(3, low, high, hidden_sizes=(16,))
    obs = torch.randn(500, 3) * 10
    action, log_prob = actor.sample(obs, generator=torch.Generator().manual_seed(0))
    det = actor.deterministic(obs)
    for a in (action, det):
        assert torch.all(a >= torch.tensor(low, dtype=torch.float32))
        assert torch.all(a <= torch.tensor(high, dtype=torch.float32))
    assert log_prob.shape == (500,)
    state = actor.state_dict()
    torch.testing.assert_close(state["action_scale"], torch.tensor([2.0, 0.25]))
    torch.testing.assert_close(state["action_bias"], torch.tensor([0.0, 0.25]))
