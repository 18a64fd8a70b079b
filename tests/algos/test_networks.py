"""Fused critic ensembles against separate per-member networks, and the network options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.networks import CriticEnsemble, DeterministicActor, ReluMLP, TwinCritic, mlp

OBS, ACT, HIDDEN = 5, 3, (32, 24)


def separate_mlps(critic: CriticEnsemble, layer_norm: bool = False) -> list[nn.Sequential]:
    """One ``nn.Sequential`` of ``nn.Linear`` per member, holding copies of that member's weights."""
    members = []
    for i in range(critic.n_critics):
        layers: list[nn.Module] = []
        n_layers = len(critic.net.weights)
        for k in range(n_layers):
            weight = critic.net.weights[k][i]
            linear = nn.Linear(*weight.shape)
            with torch.no_grad():
                linear.weight.copy_(weight.t())
                linear.bias.copy_(critic.net.biases[k][i, 0])
            layers.append(linear)
            if k < n_layers - 1:
                if layer_norm:
                    norm = nn.LayerNorm(weight.shape[1])
                    with torch.no_grad():
                        norm.weight.copy_(critic.norm_weights[k][i, 0])
                        norm.bias.copy_(critic.norm_biases[k][i, 0])
                    layers.append(norm)
                layers.append(nn.ReLU())
        members.append(nn.Sequential(*layers).double())
    return members


@pytest.mark.parametrize("n_critics", [1, 2, 5])
def test_fused_critic_equals_separate_mlps_in_value_and_gradient(n_critics: int) -> None:
    torch.manual_seed(0)
    critic = CriticEnsemble(OBS, ACT, HIDDEN, n_critics=n_critics).double()
    members = separate_mlps(critic)
    obs = torch.randn(16, OBS, dtype=torch.float64)
    action = torch.randn(16, ACT, dtype=torch.float64, requires_grad=True)
    q = critic(obs, action)
    assert q.shape == (n_critics, 16)
    expected = torch.stack([m(torch.cat((obs, action), -1)).squeeze(-1) for m in members])
    torch.testing.assert_close(q, expected)

    weights = torch.randn(n_critics, 16, dtype=torch.float64)
    (grad_action,) = torch.autograd.grad((q * weights).sum(), action, retain_graph=True)
    (expected_grad_action,) = torch.autograd.grad((expected * weights).sum(), action, retain_graph=True)
    torch.testing.assert_close(grad_action, expected_grad_action)

    (q * weights).sum().backward()
    (expected * weights).sum().backward()
    for i, member in enumerate(members):
        torch.testing.assert_close(critic.net.weights[1].grad[i], member[2].weight.grad.t())
        torch.testing.assert_close(critic.net.biases[0].grad[i, 0], member[0].bias.grad)


def test_layer_norm_critic_equals_separate_mlps_with_layer_norm() -> None:
    torch.manual_seed(1)
    critic = CriticEnsemble(OBS, ACT, HIDDEN, n_critics=3, layer_norm=True).double()
    with torch.no_grad():
        for p in list(critic.norm_weights) + list(critic.norm_biases):
            p.normal_()
    members = separate_mlps(critic, layer_norm=True)
    obs, action = torch.randn(8, OBS, dtype=torch.float64), torch.randn(8, ACT, dtype=torch.float64)
    expected = torch.stack([m(torch.cat((obs, action), -1)).squeeze(-1) for m in members])
    torch.testing.assert_close(critic(obs, action), expected)


def test_dropout_only_in_training_mode() -> None:
    torch.manual_seed(2)
    critic = CriticEnsemble(OBS, ACT, HIDDEN, n_critics=2, dropout=0.5)
    obs, action = torch.randn(64, OBS), torch.randn(64, ACT)
    assert not torch.equal(critic(obs, action), critic(obs, action))
    critic.eval()
    torch.testing.assert_close(critic(obs, action), critic(obs, action))


def test_members_select_rows_of_the_ensemble() -> None:
    critic = CriticEnsemble(OBS, ACT, HIDDEN, n_critics=6)
    obs, action = torch.randn(10, OBS), torch.randn(10, ACT)
    full = critic(obs, action)
    torch.testing.assert_close(critic(obs, action, members=torch.tensor([4, 1])), full[[4, 1]])
    torch.testing.assert_close(critic(obs, action, members=slice(0, 1)), full[:1])


def test_detached_weights_give_input_gradients_only() -> None:
    critic = TwinCritic(OBS, ACT, HIDDEN)
    action = torch.randn(4, ACT, requires_grad=True)
    critic(torch.randn(4, OBS), action, detach_weights=True).sum().backward()
    assert action.grad is not None
    assert all(p.grad is None for p in critic.parameters())


def test_bf16_hidden_matmuls_stay_close_to_fp32() -> None:
    torch.manual_seed(3)
    critic = CriticEnsemble(17, 6, (256, 256), n_critics=2)
    obs, action = torch.randn(256, 17), torch.rand(256, 6) * 2 - 1
    q32 = critic(obs, action)
    q16 = critic(obs, action, hidden_dtype=torch.bfloat16)
    assert q16.dtype == torch.float32
    assert (q16 - q32).abs().max().item() < 0.02 * q32.abs().max().item() + 1e-3


def test_single_relu_mlp_equals_linear_stack() -> None:
    torch.manual_seed(4)
    net = mlp(7, 2, (11, 13))
    assert isinstance(net, ReluMLP) and net.ensemble_size is None
    x = torch.randn(9, 7)
    h = x
    for k in range(3):
        h = h @ net.weights[k] + net.biases[k]
        if k < 2:
            h = torch.relu(h)
    torch.testing.assert_close(net(x), h)


def test_deterministic_actor_in_bounds() -> None:
    actor = DeterministicActor(4, np.array([-3.0, 1.0]), np.array([-1.0, 4.0]), (16,))
    action = actor(torch.randn(200, 4) * 50)
    assert torch.all(action[:, 0] >= -3.0) and torch.all(action[:, 0] <= -1.0)
    assert torch.all(action[:, 1] >= 1.0) and torch.all(action[:, 1] <= 4.0)


@pytest.mark.parametrize("low, high", [([0.0], [0.0]), ([-np.inf], [1.0]), ([0.0, 1.0], [1.0])])
def test_bad_action_bounds_are_rejected(low: list[float], high: list[float]) -> None:
    with pytest.raises(LearnerConfigError):
        DeterministicActor(3, np.array(low), np.array(high))
