"""Exploration noise: seeded, reset per episode, with the intended statistics."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.noise import GaussianNoise, OrnsteinUhlenbeckNoise


def test_gaussian_is_seeded_and_has_its_sigma() -> None:
    a, b = GaussianNoise(2, [0.1, 2.0], seed=5), GaussianNoise(2, [0.1, 2.0], seed=5)
    draws = np.array([a.sample() for _ in range(20_000)])
    np.testing.assert_array_equal(draws[0], b.sample())
    assert draws.dtype == np.float32 and draws.shape == (20_000, 2)
    np.testing.assert_allclose(draws.std(axis=0), [0.1, 2.0], rtol=0.03)
    np.testing.assert_allclose(draws.mean(axis=0), [0.0, 0.0], atol=0.05)


def test_ou_reset_returns_to_mean_and_is_reproducible() -> None:
    noise = OrnsteinUhlenbeckNoise(3, sigma=0.5, theta=0.15, dt_s=0.01, mu=1.0, seed=0)
    first_episode = [noise.sample() for _ in range(50)]
    noise.reset()
    np.testing.assert_allclose(noise._state, [1.0, 1.0, 1.0])
    again = OrnsteinUhlenbeckNoise(3, sigma=0.5, theta=0.15, dt_s=0.01, mu=1.0, seed=0)
    np.testing.assert_array_equal(first_episode[0], again.sample())


def test_ou_is_correlated_with_its_stationary_spread() -> None:
    theta, sigma, dt_s = 2.0, 1.0, 0.01
    noise = OrnsteinUhlenbeckNoise(1, sigma=sigma, theta=theta, dt_s=dt_s, seed=1)
    x = np.array([noise.sample()[0] for _ in range(100_000)])[1000:]
    assert np.corrcoef(x[:-1], x[1:])[0, 1] > 0.95
    assert x.std() == pytest.approx(sigma / np.sqrt(2 * theta), rel=0.1)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(LearnerConfigError):
        GaussianNoise(2, -0.1)
    with pytest.raises(LearnerConfigError):
        OrnsteinUhlenbeckNoise(2, 0.1, theta=200.0, dt_s=0.01)
