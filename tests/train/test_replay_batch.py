"""sample_batch: the trainer's batches straight from the replay's sample arrays."""

from __future__ import annotations

import numpy as np
import torch

from robot_rl.replay import ReplayBuffer, ReplayConfig
from robot_rl.train.replay_batch import sample_batch


def _replay(dtype: str) -> ReplayBuffer:
    rng = np.random.default_rng(0)
    replay = ReplayBuffer(ReplayConfig(capacity=50, gamma=0.9, dtype=dtype, flush_interval_steps=50, segment_steps=50), 3, 2, rng=1)
    n = 40
    replay.add_batch(rng.standard_normal((n, 3)), rng.standard_normal((n, 2)), rng.standard_normal(n),
                     rng.standard_normal((n, 3)), rng.random(n) < 0.3, np.zeros(n, bool))
    return replay


def test_batch_holds_the_sampled_transitions_as_float32() -> None:
    for dtype in ("float32", "float64"):
        replay, twin = _replay(dtype), _replay(dtype)  # same rng seed: the same draws
        batch = sample_batch(replay, 16)
        sample = twin.sample(16)
        expected = (sample.obs, sample.action, sample.reward, sample.next_obs, sample.done, sample.discount)
        for tensor, array in zip(batch, expected):
            assert tensor.dtype == torch.float32 and tensor.shape == array.shape
            np.testing.assert_array_equal(tensor.numpy(), array.astype(np.float32))
        assert set(batch.done.tolist()) <= {0.0, 1.0} and torch.all(batch.discount == np.float32(0.9))
