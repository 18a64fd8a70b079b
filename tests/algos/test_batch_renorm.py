"""Batch renormalisation against its definition, and CrossQ's joint pass: the critics'
statistics are those of (s, a) and (s', a') together."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch
from robot_rl.algos.batch_renorm import EPS, batch_renorm, renorm_limits, update_running
from robot_rl.algos.networks import CriticEnsemble
from robot_rl.algos.sac import SAC, SACConfig

M, B, H = 3, 64, 5


def test_without_corrections_it_is_batch_norm_per_member() -> None:
    torch.manual_seed(0)
    x = torch.randn(M, B, H, dtype=torch.float64) * 3 + 1
    mean, var = torch.zeros(M, 1, H, dtype=torch.float64), torch.ones(M, 1, H, dtype=torch.float64)
    weight, bias = torch.rand(M, 1, H, dtype=torch.float64), torch.randn(M, 1, H, dtype=torch.float64)
    out, (batch_mean, batch_var) = batch_renorm(x, mean, var, weight, bias, batch_stats=True)
    update_running(mean, var, batch_mean, batch_var, momentum=0.1)
    for m in range(M):
        running_mean, running_var = torch.zeros(H, dtype=torch.float64), torch.ones(H, dtype=torch.float64)
        expected = torch.nn.functional.batch_norm(x[m], running_mean, running_var, weight[m, 0], bias[m, 0],
                                                  training=True, momentum=0.1, eps=EPS)
        torch.testing.assert_close(out[m], expected)
        torch.testing.assert_close(mean[m, 0], running_mean)
        # torch keeps the unbiased variance; renorm's running variance is the batch's own (biased)
        torch.testing.assert_close(var[m, 0], 0.9 + 0.1 * x[m].var(dim=0, unbiased=False))


def test_corrections_and_inference_follow_the_definition() -> None:
    torch.manual_seed(1)
    x = torch.randn(M, B, H, dtype=torch.float64) * 2 - 3
    running_mean = torch.randn(M, 1, H, dtype=torch.float64)
    running_var = torch.rand(M, 1, H, dtype=torch.float64) + 0.5
    weight, bias = torch.rand(M, 1, H, dtype=torch.float64), torch.randn(M, 1, H, dtype=torch.float64)
    r_max, d_max = renorm_limits(10, warmup_updates=5)
    assert (r_max, d_max) == (3.0, 5.0) and renorm_limits(4, warmup_updates=5) == (1.0, 0.0)
    mu, sigma = x.mean(1, keepdim=True), torch.sqrt(x.var(1, unbiased=False, keepdim=True) + EPS)
    sigma_run = torch.sqrt(running_var + EPS)
    r = (sigma / sigma_run).clamp(1 / r_max, r_max)
    d = ((mu - running_mean) / sigma_run).clamp(-d_max, d_max)
    expected = ((x - mu) / sigma * r + d) * weight + bias
    inference = (x - running_mean) / sigma_run * weight + bias
    out, moments = batch_renorm(x, running_mean, running_var, weight, bias, batch_stats=False)
    assert torch.allclose(out, inference) and moments is None
    out, _ = batch_renorm(x, running_mean, running_var, weight, bias, batch_stats=True, r_max=r_max, d_max=d_max)
    torch.testing.assert_close(out, expected)


def crossq(seed: int = 0) -> SAC:
    config = SACConfig(hidden_sizes=(32, 32), batch_size=B, seed=seed, target_networks=False,
                       critic_batch_renorm=True, adam_beta1=0.5)
    return SAC(4, -np.ones(2), np.ones(2), config)


def batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    obs, next_obs = torch.randn(B, 4, generator=g), torch.randn(B, 4, generator=g) * 3 + 2  # unlike distributions
    return Batch(obs, torch.rand(B, 2, generator=g) * 2 - 1, torch.randn(B, generator=g), next_obs,
                 torch.zeros(B), torch.full((B,), 0.99))


def reference_critic_loss(learner: SAC, data: Batch, next_action: torch.Tensor, next_log_prob: torch.Tensor,
                          joint: bool) -> torch.Tensor:
    """The critic loss written out: every layer by hand; batch statistics over (s, a) and
    (s', a') together (``joint``), or, the mistake the test guards against, each half's own."""
    critic = learner.critic
    halves = [torch.cat((data.obs, data.action), -1), torch.cat((data.next_obs, next_action), -1)]
    inputs = [torch.cat(halves)] if joint else halves
    outputs = []
    for x in inputs:
        x = x.expand(critic.n_critics, *x.shape)
        for k, (weight, bias) in enumerate(zip(critic.net.weights, critic.net.biases)):
            x = torch.matmul(x, weight) + bias
            if k == len(critic.net.weights) - 1:
                break
            mu, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
            x = torch.relu((x - mu) / torch.sqrt(var + EPS) * critic.norm_weights[k] + critic.norm_biases[k])
        outputs.append(x.squeeze(-1))
    q_all = torch.cat(outputs, dim=1)
    q, next_q = q_all[:, :B], q_all[:, B:]
    target = data.reward + data.discount * (1 - data.done) * (next_q.amin(0) - learner.alpha * next_log_prob)
    return 0.5 * (q - target).square().mean(dim=1).sum()


def test_the_joint_pass_takes_the_statistics_of_both_halves() -> None:
    learner, data = crossq(), batch(0)
    next_action, next_log_prob = learner.actor.sample(data.next_obs, torch.randn(B, 2, generator=torch.Generator()
                                                                                  .manual_seed(9)))
    loss, _ = learner._joint_critic_loss(learner._critic_params, data.obs, data.action, data.next_obs, next_action,
                                         next_log_prob, data.reward, data.done, data.discount,
                                         (torch.tensor(1.0), torch.tensor(0.0)))
    joint = reference_critic_loss(learner, data, next_action, next_log_prob, joint=True)
    separate = reference_critic_loss(learner, data, next_action, next_log_prob, joint=False)
    torch.testing.assert_close(loss, joint.detach(), rtol=1e-5, atol=1e-5)
    assert not torch.isclose(loss, separate.detach(), rtol=1e-3)  # the bug would be visible


def test_no_target_networks_and_a_checkpoint_round_trip() -> None:
    learner = crossq()
    assert learner.critic_target is None
    for seed in range(4):
        metrics = learner.update(batch(seed))
    assert np.isfinite(metrics["critic_loss"])
    running = learner.critic.running_mean_0.clone()
    assert not torch.equal(running, torch.zeros_like(running))  # the statistics moved
    # The bias before a renormalisation cancels out: unused, it stays zero (Adam would turn
    # its rounding-noise gradient into steps of the learning rate); the output layer's learns.
    hidden_biases, output_bias = list(learner.critic.net.biases)[:-1], learner.critic.net.biases[-1]
    assert all(torch.count_nonzero(bias) == 0 for bias in hidden_biases)
    assert torch.count_nonzero(output_bias) > 0
    restored = crossq(seed=5)
    restored.load_state_dict(learner.state_dict())
    torch.testing.assert_close(restored.critic.running_var_1, learner.critic.running_var_1)
    obs = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    np.testing.assert_array_equal(restored.act(obs, deterministic=True), learner.act(obs, deterministic=True))
    with pytest.raises(Exception, match="target_networks"):
        SAC(4, -np.ones(2), np.ones(2), SACConfig(hidden_sizes=(32, 32), batch_size=B)).load_state_dict(
            learner.state_dict())


def test_a_critic_normalises_one_way() -> None:
    with pytest.raises(Exception, match="not both"):
        CriticEnsemble(4, 2, (8,), layer_norm=True, batch_renorm=True)
