"""The fit's confidence intervals when errors are correlated in time and differ between
joints: on linear least squares with known noise, the sandwich intervals hold their 95 %
coverage where the pooled, independent-noise interval (``mujoco.sysid``'s) does not."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.sysid.intervals import lag_one_correlation, sandwich_intervals

N = 400


def ar1(rng: np.random.Generator, n: int, rho: float, sigma: float) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal(0, sigma / np.sqrt(1 - rho**2))
    for t in range(1, n):
        out[t] = rho * out[t - 1] + rng.normal(0, sigma)
    return out


def pooled_intervals(residuals: np.ndarray, jac: np.ndarray) -> np.ndarray:
    s2 = residuals @ residuals / (residuals.size - jac.shape[1])
    return 1.959964 * np.sqrt(s2 * np.diag(np.linalg.inv(jac.T @ jac)))


def test_correlated_errors_keep_their_coverage() -> None:
    # Two parameters, each seen by one series (a joint in its window): the first quiet and
    # independent, the second ten times noisier and strongly correlated in time.
    t = np.linspace(0, 4 * np.pi, N)
    jac = np.zeros((2 * N, 2))
    jac[:N, 0] = np.sin(t)
    jac[N:, 1] = np.sin(0.5 * t) + 0.3
    truth = np.array([1.0, -2.0])
    covered = {"sandwich": np.zeros(2), "pooled": np.zeros(2)}
    trials = 300
    rng = np.random.default_rng(0)
    for _ in range(trials):
        noise = np.concatenate([rng.normal(0, 0.01, N), ar1(rng, N, 0.95, 0.1)])
        y = jac @ truth + noise
        estimate, *_ = np.linalg.lstsq(jac, y, rcond=None)
        residuals = y - jac @ estimate
        blocks = [residuals[:N, None], residuals[N:, None]]
        error = np.abs(estimate - truth)
        covered["sandwich"] += error <= sandwich_intervals(blocks, jac)
        covered["pooled"] += error <= pooled_intervals(residuals, jac)
    sandwich, pooled = covered["sandwich"] / trials, covered["pooled"] / trials
    assert sandwich[0] > 0.9 and sandwich[1] > 0.85, sandwich
    # The pooled interval lends the quiet series' precision to the noisy one's parameter.
    assert pooled[1] < 0.5, pooled


def test_a_parameter_no_residual_sees_is_not_determined() -> None:
    rng = np.random.default_rng(1)
    jac = np.column_stack([rng.normal(size=N), np.zeros(N)])
    half = sandwich_intervals([rng.normal(0, 0.1, (N // 2, 2))], jac)
    assert np.isfinite(half[0]) and half[1] == np.inf


def test_blocks_must_match_the_jacobian() -> None:
    with pytest.raises(ValueError, match="300 rows, the Jacobian 400"):
        sandwich_intervals([np.zeros((150, 2))], np.ones((N, 1)))


def test_lag_one_correlation() -> None:
    rng = np.random.default_rng(2)
    assert abs(lag_one_correlation(rng.normal(size=5000))) < 0.05
    assert lag_one_correlation(ar1(rng, 5000, 0.9, 1.0)) == pytest.approx(0.9, abs=0.03)
    assert lag_one_correlation(np.ones(50)) == pytest.approx(0.98)  # a constant offset: one reading's worth
    assert lag_one_correlation(np.zeros(10)) == 0.0
