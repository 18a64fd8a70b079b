"""Shared fixtures of the learner tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Single-threaded torch: reproducible results and no contention with parallel test runs."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def make_batch() -> Callable[..., Batch]:
    """``make_batch(obs_dim, action_dim, size=32, seed=0)``: random transitions, actions in [-1, 1],
    about 20% terminated, discounts ``0.99 ** n`` for n in 1..3."""

    def make(obs_dim: int, action_dim: int, size: int = 32, seed: int = 0) -> Batch:
        rng = np.random.default_rng(seed)
        return Batch.from_numpy(
            obs=rng.standard_normal((size, obs_dim)),
            action=rng.uniform(-1.0, 1.0, (size, action_dim)),
            reward=rng.standard_normal(size),
            next_obs=rng.standard_normal((size, obs_dim)),
            terminated=(rng.random(size) < 0.2).astype(np.float32),
            discount=0.99 ** rng.integers(1, 4, size),
        )

    return make
