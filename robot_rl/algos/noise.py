"""Exploration noise added to a deterministic policy's actions (numpy, seeded).

Each process seeds its own generator; ``reset`` is called at the start of every episode.
Noise is in the units of the action it is added to: pass ``sigma`` as a fraction of the
action half-range times that half-range (one value per dimension, or one for all).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from robot_rl.algos.errors import LearnerConfigError


class ActionNoise(Protocol):
    """What the control loop needs from an exploration noise process."""

    def reset(self) -> None:
        """Start a new episode."""

    def sample(self) -> np.ndarray:
        """The next noise vector ``(A,)``, float32."""


def _sigma_array(sigma: float | np.ndarray, action_dim: int) -> np.ndarray:
    if action_dim < 1:
        raise LearnerConfigError(f"action_dim must be positive, got {action_dim}")
    sigma_arr = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (action_dim,)).copy()
    if not np.all(np.isfinite(sigma_arr)) or np.any(sigma_arr < 0.0):
        raise LearnerConfigError(f"noise sigma must be finite and non-negative, got {sigma}")
    return sigma_arr


class GaussianNoise:
    """Independent ``N(0, sigma^2)`` per step and dimension. ``reset`` does nothing (no state)."""

    def __init__(self, action_dim: int, sigma: float | np.ndarray, seed: int | None = None):
        self.sigma = _sigma_array(sigma, action_dim)
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Nothing to reset: consecutive draws are independent."""

    def sample(self) -> np.ndarray:
        """``(A,)`` float32."""
        return (self._rng.standard_normal(self.sigma.shape) * self.sigma).astype(np.float32)


class OrnsteinUhlenbeckNoise:
    """Temporally correlated noise ``x += theta (mu - x) dt + sigma sqrt(dt) N(0, 1)`` (Euler-Maruyama).

    theta: mean reversion rate (1/s); dt_s: time step in seconds (the control period);
    mu: long-run mean. The stationary standard deviation is ``sigma / sqrt(2 theta)``.
    ``reset`` returns the state to ``mu``.
    """

    def __init__(self, action_dim: int, sigma: float | np.ndarray, theta: float = 0.15, dt_s: float = 1e-2,
                 mu: float | np.ndarray = 0.0, seed: int | None = None):
        if not (theta > 0.0 and dt_s > 0.0 and theta * dt_s < 1.0):
            raise LearnerConfigError(f"need theta > 0, dt_s > 0 and theta * dt_s < 1, got {theta}, {dt_s}")
        self.sigma = _sigma_array(sigma, action_dim)
        self.theta = float(theta)
        self.dt_s = float(dt_s)
        self.mu = np.broadcast_to(np.asarray(mu, dtype=np.float64), (action_dim,)).copy()
        self._rng = np.random.default_rng(seed)
        self._state = self.mu.copy()

    def reset(self) -> None:
        """Return the process to its mean (start of an episode)."""
        self._state = self.mu.copy()

    def sample(self) -> np.ndarray:
        """Advance one step; ``(A,)`` float32."""
        drift = self.theta * (self.mu - self._state) * self.dt_s
        diffusion = self.sigma * np.sqrt(self.dt_s) * self._rng.standard_normal(self.mu.shape)
        self._state = self._state + drift + diffusion
        return self._state.astype(np.float32)
