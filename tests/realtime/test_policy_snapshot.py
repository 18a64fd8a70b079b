"""The control loop's numpy policy against the learner's torch actor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.algos.td3 import TD3, TD3Config
from robot_rl.realtime.policy_snapshot import NumpyPolicy, snapshot

OBS, LOW, HIGH = 9, np.array([-1.0, -0.5, 0.0, -2.0]), np.array([1.0, 0.5, 3.0, -1.0])


def make(kind: str, normalize: bool) -> SAC | TD3:
    torch.manual_seed(3)
    normalizer = None
    if normalize:
        normalizer = ObservationNormalizer(OBS)
        rng = np.random.default_rng(1)
        normalizer.update(rng.normal(2.0, 3.0, (500, OBS)))  # far from the identity
    if kind == "sac":
        return SAC(OBS, LOW, HIGH, SACConfig(hidden_sizes=(32, 32)), normalizer)
    return TD3(OBS, LOW, HIGH, TD3Config(hidden_sizes=(32, 32)), normalizer)


def observations(n: int = 64) -> np.ndarray:
    return np.random.default_rng(2).normal(2.0, 6.0, (n, OBS)).astype(np.float32)  # some clipped by the normaliser


@pytest.mark.parametrize("normalize", [False, True], ids=["raw", "normalized"])
@pytest.mark.parametrize("kind", ["sac", "td3"])
def test_deterministic_action_matches_the_torch_actor(kind: str, normalize: bool) -> None:
    learner = make(kind, normalize)
    layout, flat = snapshot(learner)
    policy = NumpyPolicy(layout)
    policy.load(flat)
    obs = observations()
    with torch.no_grad():
        x = torch.as_tensor(obs)
        reference = learner.actor.deterministic(learner.normalizer(x) if normalize else x).numpy()
    ours = np.stack([policy(o, deterministic=True) for o in obs])
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)
    np.testing.assert_allclose(ours, learner.act(obs, deterministic=True), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["sac", "td3"])
def test_stochastic_actions_lie_within_the_bounds_and_vary(kind: str) -> None:
    learner = make(kind, False)
    layout, flat = snapshot(learner)
    policy = NumpyPolicy(layout, seed=5)
    policy.load(flat)
    obs = observations(1)[0]
    draws = np.stack([policy(obs) for _ in range(2000)])
    assert np.all(draws >= LOW.astype(np.float32)) and np.all(draws <= HIGH.astype(np.float32))
    assert np.all(draws.std(axis=0) > 1e-3)  # exploration noise is there
    if kind == "sac":  # the draws centre on the squashed mean's neighbourhood, not on a bound
        mean = policy(obs, deterministic=True)
        assert np.all(np.abs(np.median(draws, axis=0) - mean) < (HIGH - LOW) / 2)


def test_load_swaps_weights_in_place() -> None:
    a, b = make("td3", False), make("td3", False)
    with torch.no_grad():
        for p in b.actor.parameters():
            p.add_(0.1)
    layout, flat_a = snapshot(a)
    _, flat_b = snapshot(b)
    policy = NumpyPolicy(layout)
    views = dict(policy.views)
    obs = observations(1)[0]
    policy.load(flat_a)
    first = policy(obs, deterministic=True)
    policy.load(flat_b)
    assert all(policy.views[k] is v for k, v in views.items())  # no reallocation
    np.testing.assert_allclose(policy(obs, deterministic=True), b.act(obs, deterministic=True), atol=1e-5)
    assert not np.allclose(first, policy(obs, deterministic=True))


def test_swap_adopts_the_buffer_and_returns_the_old_one() -> None:
    a, b = make("sac", True), make("sac", True)
    with torch.no_grad():
        for p in b.actor.parameters():
            p.mul_(1.5)
    layout, flat_a = snapshot(a)
    _, flat_b = snapshot(b)
    policy = NumpyPolicy(layout)
    policy.load(flat_a)
    obs = observations(1)[0]
    old = policy.swap(flat_b)
    assert policy.flat is flat_b and old.shape == flat_b.shape
    np.testing.assert_allclose(policy(obs, deterministic=True), b.act(obs, deterministic=True), atol=1e-5)
    policy.swap(old)
    np.testing.assert_allclose(policy(obs, deterministic=True), a.act(obs, deterministic=True), atol=1e-5)
    with pytest.raises(ValueError):
        policy.swap(np.zeros(3, np.float32))
