"""Confidence intervals of a least-squares fit whose errors are neither equal nor independent.

``mujoco.sysid.calculate_intervals`` assumes every residual has the same variance and is
independent of the next: one pooled noise level, ``s2 (J^T J)^-1``. A twin fitted to a servo
breaks both. The errors of one joint in one window are a smooth trace (a missing backlash or
friction model leaves the same error for many readings in a row), and the gripper's window
can be ten times noisier than the arm's. Pooled, the arm's small errors then vouch for the
gripper's parameters, whose interval comes out several times too narrow.

:func:`sandwich_intervals` gives each residual series (one quantity of one joint in one
window) its own variance and lag-one autocorrelation, and takes the covariance as
``H^-1 (sum_b w_b J_b^T J_b) H^-1`` with ``H = J^T J`` and ``w_b = s2_b (1 + rho_b) / (1 - rho_b)``:
the long-run variance of an AR(1) series. A series whose errors are one slow drift counts as
a few independent readings, not as hundreds.
"""

from __future__ import annotations

import numpy as np

Z_95 = 1.959964
RHO_MAX = 0.995
"""The largest lag-one correlation used: a series at 1.0 would count as no reading at all."""


def lag_one_correlation(series: np.ndarray) -> float:
    """The lag-one autocorrelation of ``series`` about zero (a residual's mean is part of its
    error), clipped to [0, RHO_MAX]."""
    energy = float(np.dot(series, series))
    if series.size < 3 or energy == 0.0:
        return 0.0
    return float(np.clip(np.dot(series[:-1], series[1:]) / energy, 0.0, RHO_MAX))


def sandwich_intervals(blocks: list[np.ndarray], jac: np.ndarray, z: float = Z_95) -> np.ndarray:
    """95 % half-widths of the parameters of a least-squares fit.

    ``blocks``: the residuals at the optimum, each (readings, channels), in the order their
    raveled rows appear in ``jac`` (rows x parameters). Each channel of each block is one
    series with its own variance and autocorrelation. A direction the Jacobian does not see
    gives an infinite half-width to every parameter it involves.
    """
    jac = np.asarray(jac, dtype=np.float64)
    n_params = jac.shape[1]
    rows = sum(b.size for b in blocks)
    if rows != jac.shape[0]:
        raise ValueError(f"the residual blocks hold {rows} rows, the Jacobian {jac.shape[0]}")
    hessian = jac.T @ jac
    meat = np.zeros((n_params, n_params))
    offset = 0
    for block in blocks:
        readings, channels = block.shape
        part = jac[offset:offset + block.size].reshape(readings, channels, n_params)
        offset += block.size
        for c in range(channels):
            series = block[:, c]
            rho = lag_one_correlation(series)
            weight = float(np.mean(series**2)) * (1.0 + rho) / (1.0 - rho)
            meat += weight * part[:, c, :].T @ part[:, c, :]
    eigenvalues, vectors = np.linalg.eigh(hessian)
    seen = eigenvalues > eigenvalues.max() * 1e-12 if eigenvalues.max() > 0 else np.zeros(n_params, bool)
    inverse = (vectors[:, seen] / eigenvalues[seen]) @ vectors[:, seen].T
    covariance = inverse @ meat @ inverse
    half = z * np.sqrt(np.maximum(np.diag(covariance), 0.0))
    # Parameters with a part along an unseen direction are not determined at all.
    blind = np.any(np.abs(vectors[:, ~seen]) > 1e-8, axis=1) if (~seen).any() else np.zeros(n_params, bool)
    return np.where(blind, np.inf, half)
