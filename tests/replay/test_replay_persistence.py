"""Segments in the run directory: round trip, the flush bound, resume, damaged files, disk bound."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from robot_rl.replay import (ColumnSpec, ReplayBuffer, ReplayConfig, ReplayPersistenceError, ReplayRestoreError,
                             ReplayStateError, ReplayStorage, SkippedSegmentWarning)

OBS, ACT = 3, 2


def config(capacity: int = 1000, flush: int = 7, segment: int = 20, **kwargs: object) -> ReplayConfig:
    return ReplayConfig(capacity=capacity, flush_interval_steps=flush, segment_steps=segment, n_step=3,
                        extra_columns=(ColumnSpec("weight_version"),), **kwargs)  # type: ignore[arg-type]


def add_range(buffer: ReplayBuffer, start: int, stop: int) -> None:
    """Add transitions ``start .. stop - 1``, alternating single adds and batches."""
    i = start
    while i < stop:
        size = min(stop - i, 1 + i % 9)
        t = np.arange(i, i + size)
        if size % 2:
            for j in t:
                buffer.add([j, 0.5, -j], [j, 1.0], float(j), [j + 1, 0.5, -j - 1], j % 11 == 10, j % 13 == 12,
                           {"weight_version": int(j) // 4})
        else:
            buffer.add_batch(np.stack([t, np.full(size, 0.5), -t], 1), np.stack([t, np.ones(size)], 1), t,
                             np.stack([t + 1, np.full(size, 0.5), -t - 1], 1), t % 11 == 10, t % 13 == 12,
                             {"weight_version": t // 4})
        i += size


def check_rows(buffer: ReplayBuffer, globals_: np.ndarray) -> None:
    """The ring rows 0 .. len(globals_) - 1 hold exactly these transitions (apart from the
    truncated flag, which restoring sets at episode cuts)."""
    s, n = buffer.storage, len(globals_)
    np.testing.assert_array_equal(s.obs[:n, 0], globals_)
    np.testing.assert_array_equal(s.obs[:n, 2], -globals_)
    np.testing.assert_array_equal(s.action[:n, 0], globals_)
    np.testing.assert_array_equal(s.reward[:n], globals_)
    np.testing.assert_array_equal(s.next_obs[:n, 0], globals_ + 1)
    np.testing.assert_array_equal(s.terminated[:n], globals_ % 11 == 10)
    np.testing.assert_array_equal(s.extras["weight_version"][:n], globals_ // 4)


def segment_files(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "replay").glob("segment-*.npz"))


def test_round_trip(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, rng=4, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 123)
        state = buffer.state_dict()
        expected = buffer.sample(16)
    assert segment_files(tmp_path)[:2] == ["segment-000000000000.npz", "segment-000000000020.npz"]
    manifest = json.loads((tmp_path / "replay" / "manifest.json").read_text())
    assert (manifest["total_flushed"], manifest["oldest_start"]) == (123, 0)

    restored, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, state=state)
    assert (report.restored, report.lost, report.total, report.skipped) == (123, 0, 123, ())
    assert (restored.size, restored.head, restored.total_added) == (123, 123, 123)
    check_rows(restored, np.arange(123))
    truncated = restored.storage.truncated[:123]
    np.testing.assert_array_equal(truncated[:122], np.arange(122) % 13 == 12)
    assert truncated[122]  # the interrupted episode is cut, in memory
    again = restored.sample(16)  # same rng state, same rows
    np.testing.assert_array_equal(again.indices, expected.indices)
    np.testing.assert_array_equal(again.obs, expected.obs)


def test_a_crash_loses_at_most_the_flush_interval(tmp_path: Path) -> None:
    buffer = ReplayBuffer(config(flush=10, segment=30), OBS, ACT, run_dir=tmp_path)
    add_range(buffer, 0, 129)
    assert buffer.flushed_total == 120
    del buffer  # no close(): as if the process died here

    restored, report = ReplayBuffer.load(tmp_path, config(flush=10, segment=30), OBS, ACT, expected_total=129)
    assert (report.restored, report.lost, report.total) == (120, 9, 129)
    check_rows(restored, np.arange(120))
    assert restored.total_added == 129  # global indices continue from the run's true count


def test_resume_keeps_appending_and_marks_the_cut(tmp_path: Path) -> None:
    first = ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path)
    add_range(first, 0, 50)
    first.flush()
    add_range(first, 50, 53)  # lost in the "crash"
    resumed, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, expected_total=53)
    assert (report.restored, report.lost) == (50, 3)
    add_range(resumed, 53, 90)
    resumed.close()
    assert "segment-000000000053.npz" in segment_files(tmp_path)

    final, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, expected_total=90)
    assert (report.restored, report.lost, report.total) == (87, 3, 90)
    check_rows(final, np.concatenate([np.arange(50), np.arange(53, 90)]))
    # the episode cut by the first crash stays cut after the second resume
    assert final.storage.truncated[49] and final.storage.truncated[86]
    sample = final.sample(4000)
    crossing = (sample.obs[:, 0] >= 47) & (sample.obs[:, 0] <= 49)
    assert np.all(sample.next_obs[crossing, 0] <= 50)


def test_resume_with_a_smaller_capacity_keeps_the_newest(tmp_path: Path) -> None:
    with ReplayBuffer(config(flush=50, segment=100), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 500)
    small = config(capacity=64, flush=50, segment=64)
    restored, report = ReplayBuffer.load(tmp_path, small, OBS, ACT, expected_total=500)
    assert (report.restored, report.lost, report.total) == (64, 0, 500)
    assert (restored.size, restored.head) == (64, 0)
    check_rows(restored, np.arange(436, 500))


def test_damaged_and_leftover_files_are_skipped_with_a_warning(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 100)
    replay = tmp_path / "replay"
    truncated_file = replay / "segment-000000000020.npz"
    truncated_file.write_bytes(truncated_file.read_bytes()[:300])
    flipped = replay / "segment-000000000060.npz"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 3] ^= 0xFF
    flipped.write_bytes(bytes(data))
    (replay / "segment-000000000100.npz.tmp").write_bytes(b"half a segment")
    (replay / "notes.txt").write_text("hello")

    with pytest.warns(SkippedSegmentWarning) as caught:
        restored, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, expected_total=100)
    messages = " ".join(str(w.message) for w in caught)
    for name in ("segment-000000000020.npz", "segment-000000000060.npz", "segment-000000000100.npz.tmp",
                 "notes.txt"):
        assert name in messages and any(s.startswith(name) for s in report.skipped)
    assert (report.restored, report.lost, report.total) == (60, 40, 100)
    kept = np.concatenate([np.arange(0, 20), np.arange(40, 60), np.arange(80, 100)])
    check_rows(restored, kept)
    assert restored.storage.truncated[[19, 39, 59]].all()  # no n-step window across a hole
    assert not (replay / "segment-000000000100.npz.tmp").exists()  # the resumed writer cleaned it up


def test_missing_newest_segment_is_counted_from_the_manifest(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 70)
    (tmp_path / "replay" / "segment-000000000060.npz").unlink()
    restored, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, persist=False)
    assert (report.restored, report.lost, report.total) == (60, 10, 70)


def test_damaged_manifest_is_skipped(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 45)
    (tmp_path / "replay" / "manifest.json").write_text("{not json")
    with pytest.warns(SkippedSegmentWarning, match="manifest.json"):
        restored, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT)
    assert (report.restored, report.lost, report.total) == (45, 0, 45)


def test_old_segments_are_deleted_to_bound_disk_use(tmp_path: Path) -> None:
    cfg = config(capacity=50, flush=10, segment=10)
    with ReplayBuffer(cfg, OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 123)
    # every segment still holding one of the newest 50 transitions (73 .. 122) is kept
    assert segment_files(tmp_path) == [f"segment-{s:012d}.npz" for s in range(70, 130, 10)]
    assert json.loads((tmp_path / "replay" / "manifest.json").read_text())["oldest_start"] == 70
    restored, report = ReplayBuffer.load(tmp_path, cfg, OBS, ACT, expected_total=123, persist=False)
    assert (report.restored, report.lost) == (50, 0)
    check_rows(restored, np.arange(73, 123))
    bigger = config(capacity=1000, flush=10, segment=10)
    restored, report = ReplayBuffer.load(tmp_path, bigger, OBS, ACT, expected_total=123, persist=False)
    assert (report.restored, report.lost) == (53, 0)  # deleted on purpose is not lost


def test_keeping_all_segments(tmp_path: Path) -> None:
    cfg = config(capacity=50, flush=10, segment=10, delete_old_segments=False)
    with ReplayBuffer(cfg, OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 123)
    assert len(segment_files(tmp_path)) == 13


def test_a_new_buffer_refuses_a_run_that_has_segments(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 30)
    with pytest.raises(ReplayRestoreError, match="already holds 2 replay segments"):
        ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path)


def test_a_different_layout_is_refused(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 30)
    with pytest.raises(ReplayRestoreError, match="differ from the configured"):
        ReplayBuffer.load(tmp_path, config(), OBS + 1, ACT)


def test_loading_a_run_without_replay(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        buffer, report = ReplayBuffer.load(tmp_path, config(), OBS, ACT, expected_total=12)
    assert (report.restored, report.lost, report.total, buffer.size, buffer.total_added) == (0, 12, 12, 0, 12)


def test_closed_buffer_refuses_data_and_bad_run_dir_raises(tmp_path: Path) -> None:
    buffer = ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path)
    add_range(buffer, 0, 3)
    buffer.close()
    buffer.close()
    with pytest.raises(ReplayPersistenceError, match="closed"):
        add_range(buffer, 3, 4)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ReplayPersistenceError, match="cannot create replay directory"):
        ReplayBuffer(config(), OBS, ACT, run_dir=blocker)


def test_a_failed_flush_raises_keeps_the_data_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import robot_rl.replay.segment_writer as segment_writer

    real_write = segment_writer.write_segment
    failures = iter([True, False])

    def flaky_write(*args: object, **kwargs: object) -> None:
        if next(failures, False):
            raise OSError(28, "No space left on device")
        real_write(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(segment_writer, "write_segment", flaky_write)
    buffer = ReplayBuffer(config(flush=10), OBS, ACT, run_dir=tmp_path)
    add_range(buffer, 0, 9)
    with pytest.raises(ReplayPersistenceError, match="No space left on device"):
        add_range(buffer, 9, 10)
    assert (buffer.total_added, buffer.flushed_total) == (10, 0)
    add_range(buffer, 10, 11)  # the retry succeeds
    assert buffer.flushed_total == 11
    buffer.close()
    restored, report = ReplayBuffer.load(tmp_path, config(flush=10), OBS, ACT, persist=False)
    assert (report.restored, report.lost) == (11, 0)
    check_rows(restored, np.arange(11))


def test_restore_fills_a_buffer_over_given_storage(tmp_path: Path) -> None:
    with ReplayBuffer(config(), OBS, ACT, run_dir=tmp_path) as buffer:
        add_range(buffer, 0, 64)
        state = buffer.state_dict()
    fresh = ReplayBuffer(config(), OBS, ACT, storage=ReplayStorage.allocate(config(), OBS, ACT))
    report = fresh.restore(tmp_path, state=state)
    assert (report.restored, report.lost, fresh.total_added) == (64, 0, 64)
    check_rows(fresh, np.arange(64))
    with pytest.raises(ReplayStateError, match="new, empty buffer"):
        fresh.restore(tmp_path)
