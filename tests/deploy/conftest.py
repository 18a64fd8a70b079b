"""Policies to export: SAC and TD3 actors (17 -> 256 -> 256 -> 6), with and without a normaliser."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch

from robot_rl.algos.networks import DeterministicActor, SquashedGaussianActor
from robot_rl.algos.normalizer import ObservationNormalizer

OBS_DIM, ACT_DIM = 17, 6
ACTION_LOW = np.array([-1.0, -1.0, -2.0, -0.5, 0.0, -3.0])
ACTION_HIGH = np.array([1.0, 2.0, 2.0, 0.5, 1.5, 3.0])


@dataclass
class Case:
    algorithm: str
    actor: torch.nn.Module
    normalizer: ObservationNormalizer | None

    @property
    def id(self) -> str:
        return f"{self.algorithm}-{'norm' if self.normalizer is not None else 'raw'}"


def make_case(algorithm: str, normalized: bool, seed: int = 0, hidden: tuple[int, ...] = (256, 256)) -> Case:
    """An actor with weights twice the initial scale (closer to a trained one: larger, often
    saturated pre-tanh values) and a normaliser fitted to features of very different scales."""
    torch.manual_seed(seed)
    cls = SquashedGaussianActor if algorithm == "sac" else DeterministicActor
    actor = cls(OBS_DIM, ACTION_LOW, ACTION_HIGH, hidden)
    with torch.no_grad():
        for weight in actor.net.weights:
            weight.mul_(2.0)
    normalizer = None
    if normalized:
        normalizer = ObservationNormalizer(OBS_DIM)
        rng = np.random.default_rng(seed)
        normalizer.update(rng.normal(np.linspace(-5, 5, OBS_DIM), np.geomspace(0.01, 10, OBS_DIM), (2000, OBS_DIM)))
    return Case(algorithm, actor, normalizer)


CASES = [("sac", False), ("sac", True), ("td3", False), ("td3", True)]


@pytest.fixture(params=CASES, ids=[f"{a}-{'norm' if n else 'raw'}" for a, n in CASES])
def case(request: pytest.FixtureRequest) -> Case:
    return make_case(*request.param)


@pytest.fixture
def sac_norm() -> Case:
    return make_case("sac", True)


@pytest.fixture
def metadata() -> dict:
    """Metadata as a training run would give it."""
    return {
        "observation_names": [f"joint_{i}" for i in range(OBS_DIM)],
        "observation_low": [-np.inf] * 12 + [-1.0] * 5,
        "observation_high": [np.inf] * 12 + [1.0] * 5,
        "action_names": [f"motor_{i}" for i in range(ACT_DIM)],
        "control_rate_hz": 50.0,
        "task_id": "robot_rl/SO101Reach-v0",
        "robot_id": "so101",
        "config_hash": "ab" * 32,
        "checkpoint_sha256": "cd" * 32,
        "algorithm": "sac",
    }


@pytest.fixture
def float64_policy():
    """``float64_policy(params)``: the policy of ``MlpPolicyParams`` evaluated in float64 (numpy),
    the exact result that float32 evaluations round."""

    def make(params):
        def act(obs: np.ndarray) -> np.ndarray:
            x = np.asarray(obs, dtype=np.float64)
            if params.normalizes:
                x = np.clip((x - params.obs_shift.astype(np.float64)) * params.obs_inv_scale.astype(np.float64),
                            -params.obs_clip, params.obs_clip)
            for k, (weight, bias) in enumerate(zip(params.weights, params.biases)):
                x = x @ weight.astype(np.float64) + bias.astype(np.float64)
                if k < len(params.weights) - 1:
                    x = np.maximum(x, 0.0)
            return params.action_bias.astype(np.float64) + np.tanh(x) * params.action_scale.astype(np.float64)

        return act

    return make
