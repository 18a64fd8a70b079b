"""The running observation normaliser against numpy statistics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robot_rl.algos.errors import LearnerConfigError
from robot_rl.algos.normalizer import ObservationNormalizer


def test_chunked_updates_equal_numpy_over_all_data() -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[1e3, -5.0, 0.0], scale=[10.0, 0.1, 3.0], size=(1000, 3))
    normalizer = ObservationNormalizer(3)
    start = 0
    for size in [1, 7, 200, 0, 92, 500, 200]:
        chunk = data[start:start + size]
        normalizer.update(chunk if size != 1 else chunk[0])
        start += size
    assert start == len(data)
    assert normalizer.count.item() == 1000
    np.testing.assert_allclose(normalizer.mean.numpy(), data.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(normalizer.var.numpy(), data.var(axis=0), rtol=1e-10)


def test_forward_standardises_and_clips() -> None:
    normalizer = ObservationNormalizer(2, eps=0.0 + 1e-8, clip=3.0)
    normalizer.update(np.array([[0.0, 10.0], [2.0, 30.0]]))  # mean (1, 20), std (1, 10)
    obs = torch.tensor([[1.0, 20.0], [3.0, 30.0], [100.0, -100.0]])
    expected = torch.tensor([[0.0, 0.0], [2.0, 1.0], [3.0, -3.0]])
    torch.testing.assert_close(normalizer(obs), expected, rtol=1e-6, atol=1e-6)


def test_identity_before_any_data_and_state_dict_round_trip() -> None:
    normalizer = ObservationNormalizer(2)
    obs = torch.tensor([[0.5, -2.0]])
    torch.testing.assert_close(normalizer(obs), obs)
    normalizer.update(np.random.default_rng(1).normal(size=(50, 2)))
    restored = ObservationNormalizer(2)
    restored.load_state_dict(normalizer.state_dict())
    torch.testing.assert_close(restored(obs), normalizer(obs))
    assert {"count", "mean", "var", "shift", "inv_scale"} <= set(normalizer.state_dict())


def test_bad_input_is_refused() -> None:
    normalizer = ObservationNormalizer(2)
    with pytest.raises(LearnerConfigError):
        normalizer.update(np.zeros((4, 3)))
    with pytest.raises(LearnerConfigError):
        normalizer.update(np.array([[0.0, np.nan]]))
    assert normalizer.count.item() == 0
