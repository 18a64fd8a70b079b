"""The parity check: tight in the training range, relative to the float32 rounding bound out of it,
saturated actions equal; and it fails for an export that computes something else."""

from __future__ import annotations

import copy

import numpy as np
import torch

from deploy.export.mlp_params import extract_mlp_params
from deploy.export.parity import measure_parity, parity_observations, rounding_bound
from deploy.export.torch_policy import DeterministicPolicy


def check(case, candidate) -> object:
    reference = DeterministicPolicy(case.actor, case.normalizer)
    observations = parity_observations(17, 4_000, *(reference.training_range() or (None, None)))
    return measure_parity(reference.act, candidate, observations, extract_mlp_params(case.actor, case.normalizer))


def test_float64_evaluation_is_within_the_rounding_bound_of_torch(case, float64_policy) -> None:
    """The exact (float64) policy differs from torch's float32 one by less than the bound says,
    and the same policy in float64 numpy passes the check (a sum in another order)."""
    params = extract_mlp_params(case.actor, case.normalizer)
    reference = DeterministicPolicy(case.actor, case.normalizer)
    exact = float64_policy(params)
    for obs in parity_observations(17, 2_000, *(reference.training_range() or (None, None))).values():
        assert np.all(np.abs(reference.act(obs) - exact(obs)) <= rounding_bound(params, obs))
    report = check(case, lambda obs: exact(obs).astype(np.float32))
    assert report.passed(), report.summary()


def test_a_weight_off_by_one_part_in_ten_thousand_fails(case) -> None:
    wrong = copy.deepcopy(case.actor)
    with torch.no_grad():
        wrong.net.weights[1][3].mul_(1.0001)
    report = check(case, DeterministicPolicy(wrong, case.normalizer).act)
    assert not report.passed() and report.ratios["std1"] > 1.0, report.summary()


def test_an_offset_of_twice_the_in_range_tolerance_fails(sac_norm) -> None:
    reference = DeterministicPolicy(sac_norm.actor, sac_norm.normalizer)
    half_range = reference.actor.action_scale.numpy()
    report = check(sac_norm, lambda obs: reference.act(obs) + 2e-5 * half_range * (reference.act(obs) < 0))
    assert not report.passed() and report.saturated_mismatches > 0, report.summary()


def test_a_normaliser_without_its_clip_fails_out_of_range(sac_norm) -> None:
    """The same arithmetic in range; far out of it, the unclipped observations are much larger."""
    unclipped = copy.deepcopy(sac_norm.normalizer)
    unclipped.clip = 1e30
    report = check(sac_norm, DeterministicPolicy(sac_norm.actor, unclipped).act)
    assert report.ratios["std1"] <= 1.0 and report.ratios["extreme"] > 1.0 and not report.passed(), \
        report.summary()
