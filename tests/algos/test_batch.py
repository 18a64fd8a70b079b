"""Batch construction from numpy arrays."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch, BatchError


def test_from_numpy_converts_and_broadcasts_the_discount() -> None:
    batch = Batch.from_numpy(np.zeros((3, 2), np.float64), np.ones((3, 1)), np.arange(3), np.zeros((3, 2)),
                             np.array([0, 1, 0], np.bool_), 0.9)
    assert all(t.dtype == torch.float32 for t in batch)
    torch.testing.assert_close(batch.discount, torch.full((3,), 0.9))
    torch.testing.assert_close(batch.done, torch.tensor([0.0, 1.0, 0.0]))
    assert batch.obs.shape == (3, 2) and batch.reward.shape == (3,)


@pytest.mark.parametrize("bad", ["rows", "next_obs", "reward_shape"])
def test_inconsistent_arrays_are_refused(bad: str) -> None:
    arrays = {"obs": np.zeros((3, 2)), "action": np.zeros((3, 1)), "reward": np.zeros(3),
              "next_obs": np.zeros((3, 2)), "terminated": np.zeros(3), "discount": 0.99}
    if bad == "rows":
        arrays["action"] = np.zeros((4, 1))
    elif bad == "next_obs":
        arrays["next_obs"] = np.zeros((3, 5))
    else:
        arrays["reward"] = np.zeros((3, 1))
    with pytest.raises(BatchError):
        Batch.from_numpy(**arrays)
