"""Parity of an exported policy with the torch policy it came from, on stress observations.

Observations are drawn inside and well outside the training range: centred on the
normaliser's running mean with its standard deviation as the unit (0 and 1 without one),
at 1 and 100 units, and at extreme values of +-1e4 per element.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REGIMES = ("std1", "std100", "extreme")
PARITY_TOLERANCE = 1e-5
"""Largest |exported - torch| accepted for a float32 export, in action units."""


def parity_observations(obs_dim: int, n: int = 10_000, center: np.ndarray | None = None,
                        scale: np.ndarray | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Float32 observations per regime, ``n`` in all (40% ``std1``, 40% ``std100``, 20% ``extreme``).

    std1 / std100: ``center + scale * k * N(0, 1)`` with k = 1 / 100. extreme: half of the rows
    are +-1e4 in every element (random signs), half uniform in [-1e4, 1e4].
    """
    rng = np.random.default_rng(seed)
    center = np.zeros(obs_dim) if center is None else np.asarray(center, dtype=np.float64)
    scale = np.ones(obs_dim) if scale is None else np.asarray(scale, dtype=np.float64)
    n_normal = int(0.4 * n)
    n_extreme = n - 2 * n_normal
    half = n_extreme // 2
    extreme = np.concatenate([1e4 * rng.choice([-1.0, 1.0], size=(half, obs_dim)),
                              rng.uniform(-1e4, 1e4, size=(n_extreme - half, obs_dim))])
    regimes = {
        "std1": center + scale * rng.standard_normal((n_normal, obs_dim)),
        "std100": center + 100.0 * scale * rng.standard_normal((n_normal, obs_dim)),
        "extreme": extreme,
    }
    return {name: obs.astype(np.float32) for name, obs in regimes.items()}


def max_abs_error(reference: np.ndarray, candidate: np.ndarray) -> float:
    """``max |reference - candidate|``; NaN in both at the same place counts as equal, elsewhere as inf."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        return float("inf")
    ref_nan, cand_nan = np.isnan(reference), np.isnan(candidate)
    if np.any(ref_nan != cand_nan):
        return float("inf")
    diff = np.abs(np.where(ref_nan, 0.0, reference) - np.where(cand_nan, 0.0, candidate))
    return float(diff.max()) if diff.size else 0.0


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute action error per observation regime, in action units."""

    errors: dict[str, float]
    samples: int

    @property
    def worst(self) -> float:
        return max(self.errors.values())

    def passed(self, tolerance: float = PARITY_TOLERANCE) -> bool:
        return self.worst <= tolerance

    def summary(self) -> str:
        parts = ", ".join(f"{name} {err:.2e}" for name, err in self.errors.items())
        return f"max |error| {self.worst:.2e} over {self.samples} observations ({parts})"


def measure_parity(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
                   observations: dict[str, np.ndarray]) -> ParityReport:
    """Compare two batch policies (``(B, obs_dim) -> (B, act_dim)``) on each regime's observations."""
    errors = {name: max_abs_error(reference(obs), candidate(obs)) for name, obs in observations.items()}
    return ParityReport(errors, sum(len(obs) for obs in observations.values()))
