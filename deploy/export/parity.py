"""Parity of an exported policy with the torch policy it came from, on stress observations.

Observations are drawn inside and well outside the training range: centred on the
normaliser's running mean with its standard deviation as the unit (0 and 1 without one),
at 1 and 100 units, and at extreme values of +-1e4 per element.

What is checked, per action:
- in the training range (``std1``), the export matches torch to ``IN_RANGE_TOLERANCE`` of the
  action's half-range: the two compute the same function;
- out of it (``std100``, ``extreme``), the activations grow to 1e3-1e5 and two correct float32
  evaluations that add in a different order (torch and onnxruntime pick their kernels by
  processor) drift apart in proportion. There the allowed difference is that tolerance plus
  twice the float32 rounding bound of the evaluation, computed for each observation from
  the magnitudes of what is summed (``rounding_bound``): the check is relative where the
  values are large and stays tight where they are not;
- everywhere, an action that torch saturates at a bound is at that bound in the export too
  (within ``IN_RANGE_TOLERANCE``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from deploy.export.mlp_params import MlpPolicyParams

REGIMES = ("std1", "std100", "extreme")
IN_RANGE_REGIME = "std1"
IN_RANGE_TOLERANCE = 1e-5
"""Largest |exported - torch| in the training range, as a fraction of each action's half-range."""
UNIT_ROUNDOFF = 2.0 ** -24
"""float32's unit roundoff: a correctly rounded operation errs by at most this fraction."""
SATURATED = 1.0 - 1e-6
"""An action whose tanh is at least this far out (of 1) counts as saturated at its bound."""


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
    return float(abs_errors(reference, candidate).max(initial=0.0))


def abs_errors(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """``|reference - candidate|`` elementwise in float64; NaN in both at the same place is 0, in
    one only inf; a shape mismatch is one inf."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        return np.array([np.inf])
    ref_nan, cand_nan = np.isnan(reference), np.isnan(candidate)
    diff = np.abs(np.where(ref_nan, 0.0, reference) - np.where(cand_nan, 0.0, candidate))
    diff[ref_nan != cand_nan] = np.inf
    return diff


def rounding_bound(params: MlpPolicyParams, observations: np.ndarray) -> np.ndarray:
    """An upper bound of ``|float32 action - exact action|`` for each observation and action ``(B, A)``,
    for any order of summation, fused multiply-adds or not.

    A float32 sum of n terms errs by at most ``n * u`` times the sum of the terms' magnitudes
    (u: the unit roundoff), whatever the order; an input error ``e`` reaches the next layer as
    ``|W|^T e``; ReLU, the normaliser's clip and tanh are 1-Lipschitz. Propagated through the
    network in float64 from the exact activations, then scaled to the action bounds.
    """
    x = np.asarray(observations, dtype=np.float64)
    error = np.zeros_like(x)
    if params.normalizes:
        shift = params.obs_shift.astype(np.float64)
        inv_scale = params.obs_inv_scale.astype(np.float64)
        z = (x - shift) * inv_scale
        error = 2 * UNIT_ROUNDOFF * (np.abs(x) + np.abs(shift)) * inv_scale
        clip = float(params.obs_clip)
        error = np.where(np.abs(z) - error >= clip, 0.0, error)  # clipped either way: exact
        x = np.clip(z, -clip, clip)
    last = len(params.weights) - 1
    for k, (weight, bias) in enumerate(zip(params.weights, params.biases)):
        weight, bias = weight.astype(np.float64), bias.astype(np.float64)
        magnitude = np.abs(x) @ np.abs(weight) + np.abs(bias)
        error = error @ np.abs(weight) + (weight.shape[0] + 1) * UNIT_ROUNDOFF * magnitude
        x = x @ weight + bias
        if k < last:
            x = np.maximum(x, 0.0)
    scale = params.action_scale.astype(np.float64)
    action = params.action_bias.astype(np.float64) + np.tanh(x) * scale
    return scale * error + 2 * UNIT_ROUNDOFF * np.abs(action)


@dataclass(frozen=True)
class ParityReport:
    """Per regime: the largest absolute action error (action units) and the largest ratio of an
    error to what is allowed for it (at most 1 passes; see the module's docstring)."""

    errors: dict[str, float]
    ratios: dict[str, float]
    samples: int
    saturated_mismatches: int = 0
    """Actions that torch saturates at a bound but the export does not."""

    @property
    def worst(self) -> float:
        return max(self.errors.values())

    @property
    def worst_ratio(self) -> float:
        return max(self.ratios.values())

    def passed(self) -> bool:
        return self.worst_ratio <= 1.0 and self.saturated_mismatches == 0

    def summary(self) -> str:
        parts = ", ".join(f"{name} {self.errors[name]:.2e} ({self.ratios[name]:.2g} of its limit)"
                          for name in self.errors)
        saturated = "" if not self.saturated_mismatches else \
            f"; {self.saturated_mismatches} saturated actions differ"
        return f"max |error| {self.worst:.2e} over {self.samples} observations ({parts}){saturated}"

    def as_dict(self) -> dict[str, object]:
        return {"max_abs_error": self.worst, "per_regime": self.errors, "limit_ratio": self.ratios,
                "saturated_mismatches": self.saturated_mismatches, "samples": self.samples,
                "passed": self.passed()}


def measure_parity(reference: Callable[[np.ndarray], np.ndarray], candidate: Callable[[np.ndarray], np.ndarray],
                   observations: dict[str, np.ndarray], params: MlpPolicyParams) -> ParityReport:
    """Compare two batch policies (``(B, obs_dim) -> (B, act_dim)``) on each regime's observations;
    ``params``: the policy's arrays (its action bounds and the rounding bound come from them)."""
    half_range = np.abs(params.action_scale.astype(np.float64))
    errors, ratios, mismatches = {}, {}, 0
    for name, obs in observations.items():
        ref = np.asarray(reference(obs), dtype=np.float64)
        error = abs_errors(ref, candidate(obs))
        allowed = IN_RANGE_TOLERANCE * half_range
        if name != IN_RANGE_REGIME:
            allowed = allowed + 2.0 * rounding_bound(params, obs)
        if error.shape != ref.shape:
            errors[name] = ratios[name] = float("inf")
            continue
        saturated = np.abs(ref - params.action_bias) >= SATURATED * half_range
        mismatches += int(np.count_nonzero(saturated & (error > IN_RANGE_TOLERANCE * half_range)))
        errors[name] = float(error.max(initial=0.0))
        ratios[name] = float((error / allowed).max(initial=0.0))
    return ParityReport(errors, ratios, sum(len(obs) for obs in observations.values()), mismatches)
