"""Loop timing: rows recorded into a ring, drained into chunk files by another process's
writer, summarised, and reported by ``robot-rl timing``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robot_rl.realtime.loop_timing import CHUNK, COLUMNS, TimingFileWriter, TimingRecorder, load_timing
from robot_rl.realtime.timing_report import TimingReportError, timing_report

TARGET = 0.01


def record_steps(recorder: TimingRecorder, n: int, episode_steps: int = 50, start: int = 0) -> np.ndarray:
    """Steps whose period is target + (k % 10) us and whose latency is 100 + (k % 10) us; every
    ``episode_steps``-th step opens an episode (no period). Returns the periods recorded."""
    periods = np.empty(n)
    for i, k in enumerate(range(start, start + n)):
        first = k % episode_steps == 0
        periods[i] = np.nan if first else TARGET + (k % 10) * 1e-6
        latency = np.nan if first else 100e-6 + (k % 10) * 1e-6
        recorder.record(periods[i], latency, 20e-6, 30e-6, 40e-6, 1e-6, k % 100 == 99, k // 100)
    return periods


def test_summary_over_the_recent_rows_ignores_episode_starts() -> None:
    recorder = TimingRecorder(TARGET, capacity=2048)
    assert recorder.summary() == {}
    record_steps(recorder, 5000)  # wraps the ring twice
    s = recorder.summary()
    assert s["period_error_p50_s"] == pytest.approx(4.5e-6, abs=0.6e-6)
    assert s["period_error_p99_s"] == pytest.approx(9e-6, abs=0.1e-6)
    assert s["period_error_max_s"] == pytest.approx(9e-6)
    assert s["latency_p99_s"] == pytest.approx(109e-6, abs=0.1e-6)
    assert s["compute_p99_s"] == pytest.approx(20e-6)
    assert s["overruns"] == 50 and recorder.count[0] == 5000
    recent = recorder.recent(7)
    assert recent[:, COLUMNS.index("weight_version")].tolist() == [49] * 7  # the newest, oldest first
    np.testing.assert_allclose(recent[:, COLUMNS.index("period")], TARGET + np.arange(3, 10) * 1e-6)


def test_rows_are_drained_into_chunk_files_in_order(tmp_path: Path) -> None:
    directory = tmp_path / "timing"
    recorder = TimingRecorder(TARGET, capacity=3000)
    writer = TimingFileWriter(directory, recorder.rows, recorder.count)
    periods = []
    for start in range(0, CHUNK + 100, 1000):  # the writer drains more often than the ring wraps
        periods.append(record_steps(recorder, min(1000, CHUNK + 100 - start), start=start))
        writer.drain()
    assert len(list(directory.glob("timing-*.npy"))) == 1  # one full chunk so far
    writer.close()
    assert len(list(directory.glob("timing-*.npy"))) == 2 and writer.lost == 0
    rows = load_timing(directory)
    assert rows.shape == (CHUNK + 100, len(COLUMNS))
    np.testing.assert_array_equal(rows[:, COLUMNS.index("period")], np.concatenate(periods))
    # A resumed run's loop starts a new ring; its chunks follow the existing ones.
    again = TimingRecorder(TARGET, capacity=3000)
    writer = TimingFileWriter(directory, again.rows, again.count)
    record_steps(again, 10)
    writer.close()
    assert load_timing(directory).shape[0] == CHUNK + 110
    assert load_timing(tmp_path / "missing").shape == (0, len(COLUMNS))


def test_rows_overwritten_before_the_drain_are_counted_lost(tmp_path: Path) -> None:
    recorder = TimingRecorder(TARGET, capacity=100)
    writer = TimingFileWriter(tmp_path, recorder.rows, recorder.count)
    record_steps(recorder, 250)
    writer.close()
    assert writer.lost == 150
    np.testing.assert_array_equal(load_timing(tmp_path)[:, COLUMNS.index("weight_version")], [1] * 50 + [2] * 50)


def test_timing_report_percentiles_overruns_and_budget() -> None:
    recorder = TimingRecorder(TARGET)
    record_steps(recorder, 1000)
    rows = recorder.recent(1000)
    report = timing_report(rows, TARGET)
    assert report["steps"] == 1000 and report["measured_periods"] == 980
    assert report["overruns"] == 10 and report["overrun_rate"] == pytest.approx(0.01)
    assert report["stats_s"]["period_error"]["max"] == pytest.approx(9e-6)
    assert report["stats_s"]["latency"]["p50"] == pytest.approx(104.5e-6, abs=1e-6)
    budget = report["budget"]
    assert budget["read"]["mean_s"] == pytest.approx(30e-6) and budget["compute"]["mean_s"] == pytest.approx(20e-6)
    assert budget["write"]["mean_s"] == pytest.approx(40e-6)
    total = sum(part["mean_s"] for part in budget.values())
    assert total == pytest.approx(report["mean_period_s"], rel=1e-9)  # the parts add up to the period
    assert report["weight_versions"] == [0, 9]
    with pytest.raises(TimingReportError):
        timing_report(rows[::50], TARGET)  # only episode starts: nothing measured
