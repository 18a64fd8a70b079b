"""Batches that give a person's transitions a fixed share, and the ``source`` flags kept on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robot_rl.replay import ColumnSpec, ReplayBuffer, ReplayConfig
from robot_rl.replay.human_share import DEMONSTRATION, INTERVENTION, POLICY, SOURCE_COLUMN, HumanShare

OBS, ACT = 3, 2


def replay(capacity: int = 5000, run_dir: Path | None = None) -> ReplayBuffer:
    config = ReplayConfig(capacity=capacity, flush_interval_steps=min(100, capacity),
                          segment_steps=min(500, capacity), fsync=False, extra_columns=(ColumnSpec(**SOURCE_COLUMN),))
    return ReplayBuffer(config, OBS, ACT, rng=0, run_dir=run_dir)


def add(buffer: ReplayBuffer, n: int, source: int) -> None:
    start = buffer.total_added
    rows = np.arange(start, start + n, dtype=np.float32)
    buffer.add_batch(np.repeat(rows[:, None], OBS, 1), np.zeros((n, ACT)), rows, np.zeros((n, OBS)),
                     np.zeros(n, bool), np.zeros(n, bool), extras={"source": np.full(n, source, np.int8)})


@pytest.mark.parametrize("share", [0.5, 0.25, 1.0])
def test_each_batch_holds_the_configured_human_share(share: float) -> None:
    buffer = replay()
    add(buffer, 1000, POLICY)
    add(buffer, 10, DEMONSTRATION)
    add(buffer, 1000, POLICY)
    add(buffer, 10, INTERVENTION)
    sampler = HumanShare(buffer, share)
    for _ in range(20):
        sample = sampler.sample(256)
        human = int(round(share * 256))
        # The human part is all human; the rest is uniform over everything (2 % of it human).
        assert np.all(sample.extras["source"][:human] > 0)
        assert np.mean(sample.extras["source"][human:] > 0) < 0.1 if human < 256 else True
        assert sampler.last_share == pytest.approx(human / 256)
    assert sampler.counts() == {"policy": 2000, "demonstration": 10, "intervention": 10}
    # Both kinds of human row are drawn, about as often as they are stored.
    drawn = np.concatenate([sampler.sample(256).extras["source"][:human] for _ in range(50)])
    assert 0.35 < np.mean(drawn == DEMONSTRATION) < 0.65


def test_without_human_rows_the_batch_is_uniform() -> None:
    buffer = replay()
    add(buffer, 500, POLICY)
    sampler = HumanShare(buffer, 0.5)
    sample = sampler.sample(4000)
    assert sampler.last_share == 0.0
    assert 200 < np.mean(sample.reward) < 300  # rows 0..499 drawn uniformly


def test_human_rows_added_later_and_after_the_ring_wraps_are_found() -> None:
    buffer = replay(capacity=3000)
    sampler = HumanShare(buffer, 0.5)
    add(buffer, 100, POLICY)
    assert len(sampler.human_rows()) == 0
    add(buffer, 5, DEMONSTRATION)
    np.testing.assert_array_equal(sampler.human_rows(), np.arange(100, 105))
    add(buffer, 3000, POLICY)  # wraps: the demonstrations are overwritten
    assert len(sampler.human_rows()) == 0
    add(buffer, 7, INTERVENTION)
    add(buffer, 1000, POLICY)  # a rescan after FULL_RESCAN_EVERY added rows
    rows = sampler.human_rows()
    assert len(rows) == 7 and np.all(buffer.storage.extras["source"][rows] == INTERVENTION)


def test_the_flags_survive_a_restart(tmp_path: Path) -> None:
    buffer = replay(run_dir=tmp_path)
    add(buffer, 300, POLICY)
    add(buffer, 40, DEMONSTRATION)
    add(buffer, 60, INTERVENTION)
    buffer.close()
    restored, report = ReplayBuffer.load(tmp_path, buffer.config, OBS, ACT, persist=False)
    assert report.restored == 400
    assert HumanShare(restored, 0.5).counts() == {"policy": 300, "demonstration": 40, "intervention": 60}


def test_a_replay_without_a_source_column_is_refused() -> None:
    plain = ReplayBuffer(ReplayConfig(capacity=10, flush_interval_steps=10, segment_steps=10), OBS, ACT)
    with pytest.raises(ValueError, match="no 'source' column"):
        HumanShare(plain, 0.5)
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        HumanShare(replay(), 1.5)
