"""ReplayBuffer in memory: the ring, uniform sampling, batches, bad input, checkpoint state, shared arrays."""

from __future__ import annotations

import tracemalloc
from multiprocessing import shared_memory

import numpy as np
import pytest

from robot_rl.replay import (ColumnSpec, ReplayBuffer, ReplayConfig, ReplayEmptyError, ReplayShapeError,
                             ReplayStateError, ReplayStorage, ReplayValueError)

OBS, ACT = 3, 2
VERSION = (ColumnSpec("weight_version"),)


def config(capacity: int, **kwargs: object) -> ReplayConfig:
    step = min(capacity, 10)
    return ReplayConfig(capacity=capacity, flush_interval_steps=step, segment_steps=step,
                        **kwargs)  # type: ignore[arg-type]


def transition(i: int) -> dict:
    """Transition number ``i``; every column encodes ``i`` so rows can be checked after sampling."""
    return {"obs": np.array([i, i + 0.25, -i]), "action": np.array([i, -0.5 * i]), "reward": float(i),
            "next_obs": np.array([i + 1, i + 1.25, -i - 1]), "terminated": i % 7 == 6, "truncated": i % 5 == 4,
            "extras": {"weight_version": i // 3}}


def batch(start: int, stop: int) -> dict:
    """Transitions ``start .. stop - 1`` as the column arrays ``add_batch`` takes."""
    rows = [transition(i) for i in range(start, stop)]
    out = {key: np.array([r[key] for r in rows]) for key in ("reward", "terminated", "truncated")}
    for key, dim in (("obs", OBS), ("action", ACT), ("next_obs", OBS)):
        out[key] = np.array([r[key] for r in rows]).reshape(len(rows), dim)
    out["extras"] = {"weight_version": np.array([i // 3 for i in range(start, stop)], dtype=np.int64)}
    return out


def filled(capacity: int, count: int, **kwargs: object) -> ReplayBuffer:
    buffer = ReplayBuffer(config(capacity, extra_columns=VERSION, **kwargs), OBS, ACT, rng=1)
    for i in range(count):
        buffer.add(**transition(i))
    return buffer


def check_rows_consistent(obs: np.ndarray, action: np.ndarray, reward: np.ndarray, next_obs: np.ndarray,
                          version: np.ndarray) -> None:
    i = obs[:, 0]
    np.testing.assert_array_equal(obs[:, 1], i + 0.25)
    np.testing.assert_array_equal(action, np.stack([i, -0.5 * i], axis=1))
    np.testing.assert_array_equal(reward, i)
    np.testing.assert_array_equal(next_obs[:, 0], i + 1)
    np.testing.assert_array_equal(version, i.astype(int) // 3)


def test_ring_wraps_and_keeps_the_newest() -> None:
    buffer = filled(10, 23)
    assert (len(buffer), buffer.head, buffer.total_added) == (10, 3, 23)
    held = buffer.storage.obs[:, 0]
    assert sorted(held) == list(range(13, 23))
    assert [held[p] for p in range(10)] == [20, 21, 22, 13, 14, 15, 16, 17, 18, 19]
    check_rows_consistent(buffer.storage.obs, buffer.storage.action, buffer.storage.reward,
                          buffer.storage.next_obs, buffer.storage.extras["weight_version"])


def test_sampling_draws_only_stored_rows_uniformly_before_the_ring_is_full() -> None:
    buffer = filled(100, 7)
    sample = buffer.sample(5000)
    assert sample.indices.max() < 7 and sample.indices.min() >= 0
    counts = np.bincount(sample.obs[:, 0].astype(int), minlength=7)
    assert len(counts) == 7 and counts.min() > 550 and counts.max() < 880  # 714 expected, sd 25
    check_rows_consistent(sample.obs, sample.action, sample.reward, sample.next_obs,
                          sample.extras["weight_version"])


def test_sampling_after_wrap_returns_only_the_newest_rows() -> None:
    buffer = filled(10, 23)
    sample = buffer.sample(2000)
    assert set(sample.obs[:, 0].astype(int)) == set(range(13, 23))
    check_rows_consistent(sample.obs, sample.action, sample.reward, sample.next_obs,
                          sample.extras["weight_version"])
    np.testing.assert_array_equal(sample.done, (sample.obs[:, 0] % 7 == 6).astype(np.float32))
    np.testing.assert_array_equal(sample.discount, np.full(2000, 0.99, np.float32))
    assert sample.obs.dtype == sample.reward.dtype == sample.done.dtype == sample.discount.dtype == np.float32


def test_sampling_is_reproducible_from_the_seed() -> None:
    a, b, c = filled(50, 40), filled(50, 40), filled(50, 40)
    c._rng = np.random.default_rng(2)
    ia, ib, ic = a.sample(64).indices, b.sample(64).indices, c.sample(64).indices
    np.testing.assert_array_equal(ia, ib)
    assert not np.array_equal(ia, ic)


@pytest.mark.parametrize("chunks", [[3, 25, 1, 40], [69], [16, 16, 16, 21], [0, 5, 64]])
def test_add_batch_matches_add(chunks: list[int]) -> None:
    one_by_one = filled(16, sum(chunks))
    batched = ReplayBuffer(config(16, extra_columns=VERSION), OBS, ACT, rng=1)
    start = 0
    for size in chunks:
        rows = batch(start, start + size)
        batched.add_batch(**rows)
        start += size
    assert (batched.head, batched.size, batched.total_added) == (one_by_one.head, one_by_one.size, sum(chunks))
    for name, array in one_by_one.storage.columns().items():
        np.testing.assert_array_equal(batched.storage.columns()[name], array, err_msg=name)


def test_bad_input_raises_typed_errors_and_leaves_the_counters() -> None:
    buffer = filled(10, 4)
    state = (buffer.head, buffer.size, buffer.total_added)
    bad = transition(4)
    bad["obs"] = np.zeros(OBS + 1)
    with pytest.raises(ReplayShapeError, match="obs_dim 3"):
        buffer.add(**bad)
    bad = transition(4)
    bad["extras"] = {}
    with pytest.raises(ReplayShapeError, match=r"extra columns \['weight_version'\], got \[\]"):
        buffer.add(**bad)
    bad["extras"] = {"weight_versoin": 1}
    with pytest.raises(ReplayShapeError, match="weight_versoin"):
        buffer.add(**bad)
    rows = batch(4, 9)
    rows["action"] = rows["action"][:, :1]
    before = buffer.storage.obs.copy()
    with pytest.raises(ReplayShapeError, match=r"action has shape \(5, 1\), expected \(5, 2\)"):
        buffer.add_batch(**rows)
    np.testing.assert_array_equal(buffer.storage.obs, before)
    assert (buffer.head, buffer.size, buffer.total_added) == state
    with pytest.raises(ReplayValueError, match="batch_size must be an integer >= 1, got 0"):
        buffer.sample(0)
    with pytest.raises(ReplayEmptyError):
        ReplayBuffer(config(10), OBS, ACT).sample(1)


def test_add_keeps_memory_flat() -> None:
    """Rows are written in place: adding keeps nothing per transition (no lists, no copies)."""
    buffer = ReplayBuffer(config(1000, extra_columns=VERSION), OBS, ACT)
    rows = [transition(i) for i in range(500)]
    buffer.add(**rows[0])
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for row in rows:
            buffer.add(**row)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 2_000, f"memory grew by {peak - before} bytes over 500 add() calls"


def test_state_dict_restores_pointers_and_rng_over_the_same_arrays() -> None:
    source = filled(20, 33)
    state = source.state_dict()
    assert set(state) == {"format", "capacity", "head", "size", "total_added", "rng"}
    clone = ReplayBuffer(source.config, OBS, ACT, storage=source.storage, rng=99)
    clone.load_state_dict(state)
    assert (clone.head, clone.size, clone.total_added) == (13, 20, 33)
    np.testing.assert_array_equal(clone.sample(32).obs, source.sample(32).obs)
    with pytest.raises(ReplayStateError, match="capacity 20, this buffer has 10"):
        filled(10, 1).load_state_dict(state)
    with pytest.raises(ReplayStateError, match="inconsistent replay state"):
        clone.load_state_dict({**state, "size": 5})
    with pytest.raises(ReplayStateError, match="lacks rng"):
        clone.load_state_dict({k: v for k, v in state.items() if k != "rng"})


def test_storage_can_live_in_shared_memory() -> None:
    cfg = config(64, extra_columns=VERSION)
    layout = cfg.column_layout(OBS, ACT)
    blocks = {name: shared_memory.SharedMemory(create=True, size=int(np.prod(shape)) * dtype.itemsize)
              for name, (shape, dtype) in layout.items()}
    attached = {name: shared_memory.SharedMemory(name=block.name) for name, block in blocks.items()}
    try:
        def views(source: dict) -> dict:
            return {name: np.ndarray(layout[name][0], layout[name][1], buffer=block.buf)
                    for name, block in source.items()}

        writer = ReplayBuffer(cfg, OBS, ACT, storage=ReplayStorage.from_arrays(cfg, OBS, ACT, views(blocks)))
        for i in range(70):
            writer.add(**transition(i))
        reader = ReplayBuffer(cfg, OBS, ACT, storage=ReplayStorage.from_arrays(cfg, OBS, ACT, views(attached)))
        reader.load_state_dict(writer.state_dict())
        sample = reader.sample(256)
        assert set(sample.obs[:, 0].astype(int)) <= set(range(6, 70))
        check_rows_consistent(sample.obs, sample.action, sample.reward, sample.next_obs,
                              sample.extras["weight_version"])
        del writer, reader, sample
    finally:
        for block in attached.values():
            block.close()
        for block in blocks.values():
            block.close()
            block.unlink()
