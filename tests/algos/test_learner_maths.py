"""The small pure functions of SAC and TD3 against hand computations."""

from __future__ import annotations

import pytest
import torch

from robot_rl.algos.sac import ensemble_mse, soft_target, temperature_loss
from robot_rl.algos.target_networks import polyak_update
from robot_rl.algos.td3 import clipped_double_q_target, smoothed_target_action


def test_soft_target_by_hand() -> None:
    next_q = torch.tensor([[1.0, 5.0, -2.0], [3.0, 4.0, -1.0]])
    next_log_prob = torch.tensor([-1.0, 2.0, 0.5])
    reward = torch.tensor([0.5, -1.0, 2.0])
    done = torch.tensor([0.0, 0.0, 1.0])
    discount = torch.tensor([0.9, 0.81, 0.9])
    alpha = 0.2
    # sample 0: 0.5 + 0.9 * (min(1, 3) - 0.2 * -1) = 0.5 + 0.9 * 1.2 = 1.58
    # sample 1: -1 + 0.81 * (min(5, 4) - 0.2 * 2) = -1 + 0.81 * 3.6 = 1.916
    # sample 2: terminated: the reward alone, 2.0
    expected = torch.tensor([1.58, 1.916, 2.0])
    torch.testing.assert_close(soft_target(next_q, next_log_prob, reward, done, discount, alpha), expected)
    torch.testing.assert_close(soft_target(next_q, next_log_prob, reward, done, discount, torch.tensor(alpha)),
                               expected)


def test_soft_target_subset_takes_the_minimum_over_the_subset_only() -> None:
    next_q = torch.arange(10.0).unsqueeze(1).expand(10, 4)  # critic i says i everywhere
    zeros, ones = torch.zeros(4), torch.ones(4)
    target = soft_target(next_q, zeros, zeros, zeros, ones, 0.0, subset=torch.tensor([7, 3]))
    torch.testing.assert_close(target, torch.full((4,), 3.0))
    torch.testing.assert_close(soft_target(next_q, zeros, zeros, zeros, ones, 0.0), zeros)


@pytest.mark.parametrize("entropy, alpha_rises", [(-3.0, True), (-1.0, False)])
def test_temperature_moves_alpha_towards_the_target_entropy(entropy: float, alpha_rises: bool) -> None:
    target_entropy = -2.0
    log_alpha = torch.tensor(0.0, requires_grad=True)
    log_prob = torch.full((8,), -entropy)
    temperature_loss(log_alpha, log_prob, target_entropy).backward()
    # Gradient descent raises alpha when the gradient is negative.
    assert (log_alpha.grad.item() < 0) == alpha_rises
    assert log_alpha.grad.item() == pytest.approx(entropy - target_entropy)


def test_temperature_loss_does_not_differentiate_the_policy() -> None:
    log_prob = torch.randn(8, requires_grad=True)
    temperature_loss(torch.tensor(0.3, requires_grad=True), log_prob, -1.0).backward()
    assert log_prob.grad is None


def test_ensemble_mse_sums_member_losses() -> None:
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]])
    target = torch.tensor([0.0, 2.0])
    # member 0: 0.5 * mean(1, 0) = 0.25; member 1: 0.5 * mean(0, 4) = 1.0
    assert ensemble_mse(q, target).item() == pytest.approx(1.25)


def test_polyak_update_by_hand() -> None:
    target = [torch.tensor([0.0, 10.0]), torch.tensor([[1.0]])]
    source = [torch.tensor([1.0, 0.0]), torch.tensor([[3.0]])]
    polyak_update(target, source, 0.25)
    torch.testing.assert_close(target[0], torch.tensor([0.25, 7.5]))
    torch.testing.assert_close(target[1], torch.tensor([[1.5]]))
    torch.testing.assert_close(source[0], torch.tensor([1.0, 0.0]))  # the source is untouched
    polyak_update(target, source, 1.0)
    torch.testing.assert_close(target[0], source[0])


def test_smoothed_target_action_clips_noise_then_action() -> None:
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 2.0])
    noise_clip = torch.tensor([0.5, 0.25])
    action = torch.tensor([[0.0, 1.0], [0.9, 1.9], [-0.9, 0.1], [0.0, 1.0]])
    noise = torch.tensor([[10.0, -10.0], [0.4, 0.2], [-0.4, -0.2], [0.1, 0.1]])
    smoothed = smoothed_target_action(action, noise, noise_clip, low, high)
    expected = torch.tensor([
        [0.5, 0.75],   # noise clipped to +0.5 and -0.25
        [1.0, 2.0],    # action + noise beyond the bounds, clipped to them
        [-1.0, 0.0],
        [0.1, 1.1],    # small noise passes unchanged
    ])
    torch.testing.assert_close(smoothed, expected)
    wild = smoothed_target_action(torch.zeros(1000, 2), torch.randn(1000, 2) * 100, noise_clip, low, high)
    assert torch.all(wild[:, 0].abs() <= 0.5) and torch.all((wild[:, 1] >= 0) & (wild[:, 1] <= 0.25))


def test_clipped_double_q_target_by_hand() -> None:
    next_q = torch.tensor([[1.0, -3.0], [2.0, -4.0]])
    target = clipped_double_q_target(next_q, torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0]),
                                     torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(target, torch.tensor([1.5, 1.0]))
