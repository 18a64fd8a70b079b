"""Per-step timing of the control loop: recorded into shared memory without allocation, saved
in chunk files and summarised by the parent process, read back by ``robot-rl timing``.

The loop process only writes rows (a few microseconds): no file I/O, no percentile, no helper
thread holding the interpreter lock on its critical path. The parent, idle while it watches
the children, drains the rows into ``RUN_DIR/timing/timing-NNNNNN.npy`` (a chunk each
``CHUNK`` rows and at the end) and computes the percentiles the status board shows.

Columns (seconds, ``time.monotonic``): ``period`` between consecutive command writes and its
``period_error`` from the target; ``latency`` from the end of the state read to the command
written after it (to the end of that write); ``compute`` for the policy (and weight pick-up);
``read`` and ``write`` durations (bus or physics); ``late`` of the wake-up; ``overrun`` (0/1);
``weight_version``. The first step of an episode has no previous write: its ``period``,
``period_error`` and ``latency`` are NaN.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

COLUMNS = ("period", "period_error", "latency", "compute", "read", "write", "late", "overrun", "weight_version")
CHUNK = 4096  # rows per timing file
SUMMARY_ROWS = 1000  # the recent steps the status board's percentiles cover


class TimingRecorder:
    """The loop's side. rows: a ring (capacity, len(COLUMNS)) to write into, such as the status
    board's shared ``loop_timing``; count: an int64 array whose item 0 counts the rows written
    (updated after each row). Both default to private arrays (tests, benchmarks)."""

    def __init__(self, target_period_s: float, rows: np.ndarray | None = None, count: np.ndarray | None = None,
                 capacity: int = 16_384) -> None:
        self.target = target_period_s
        self.rows = np.full((capacity, len(COLUMNS)), np.nan) if rows is None else rows
        self.count = np.zeros(1, np.int64) if count is None else count
        self.n = int(self.count[0])
        self.overruns = 0
        self.max_period_error = 0.0

    def record(self, period: float, latency: float, compute: float, read: float, write: float, late: float,
               overrun: bool, weight_version: int) -> None:
        error = abs(period - self.target)  # NaN for an episode's first step
        self.rows[self.n % self.rows.shape[0]] = (period, error, latency, compute, read, write, late, float(overrun),
                                                  float(weight_version))
        self.n += 1
        self.count[0] = self.n
        self.overruns += bool(overrun)
        if error > self.max_period_error:
            self.max_period_error = error

    def recent(self, n: int = SUMMARY_ROWS) -> np.ndarray:
        """A copy of the newest ``n`` rows (fewer at the start), oldest first."""
        return newest_rows(self.rows, self.n, n)

    def summary(self) -> dict[str, float]:
        """:func:`window_summary` of the recent rows with the run's overruns and largest period
        error; {} before a step had a measured period. About 0.1 ms (several ms the first time):
        keep it off the loop's critical path."""
        summary = window_summary(self.recent())
        if summary:
            summary["period_error_max_s"] = self.max_period_error
            summary["overruns"] = float(self.overruns)
        return summary


def newest_rows(rows: np.ndarray, written: int, n: int) -> np.ndarray:
    """The newest ``min(n, written, capacity)`` rows of ring ``rows`` after ``written`` rows, oldest first."""
    capacity = rows.shape[0]
    k = min(n, written, capacity)
    index = np.arange(written - k, written) % capacity
    return rows[index]


class TimingFileWriter:
    """The parent's side: :meth:`drain` copies the rows the loop wrote since the last call into
    chunk files; :meth:`close` writes the last, partial chunk. A resumed run's chunks follow the
    existing ones. ``lost`` counts rows overwritten before they were drained (more than a ring
    behind: the parent drains ten times a second, the ring holds seconds of steps)."""

    def __init__(self, directory: Path, rows: np.ndarray, count: np.ndarray) -> None:
        self.directory = directory
        self.rows = rows
        self.count = count
        self.position = int(count[0])
        self.lost = 0
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        directory.mkdir(parents=True, exist_ok=True)
        self.chunks_written = len(list(directory.glob("timing-*.npy")))

    def drain(self) -> None:
        written = int(self.count[0])
        capacity = self.rows.shape[0]
        if written - self.position > capacity:
            self.lost += written - self.position - capacity
            self.position = written - capacity
        if written > self.position:
            self.pending.append(newest_rows(self.rows, written, written - self.position))
            self.pending_n += written - self.position
            self.position = written
        while self.pending_n >= CHUNK:
            rows = np.concatenate(self.pending)
            self._save(rows[:CHUNK])
            self.pending, self.pending_n = [rows[CHUNK:]], rows.shape[0] - CHUNK

    def close(self) -> None:
        self.drain()
        if self.pending_n:
            self._save(np.concatenate(self.pending))
        self.pending, self.pending_n = [], 0

    def _save(self, rows: np.ndarray) -> None:
        tmp = self.directory / f".timing-{self.chunks_written:06d}.npy.tmp"
        with open(tmp, "wb") as f:
            np.save(f, rows)
        tmp.replace(self.directory / f"timing-{self.chunks_written:06d}.npy")
        self.chunks_written += 1


def window_summary(rows: np.ndarray) -> dict[str, float]:
    """Period error p50/p99, latency p99 and compute p99 (s) of ``rows`` (n, len(COLUMNS)),
    over the steps with a measured period; {} when there is none."""
    rows = rows[np.isfinite(rows[:, COLUMNS.index("period")])]
    if rows.shape[0] == 0:
        return {}
    err = rows[:, COLUMNS.index("period_error")]
    p50, p99 = np.percentile(err, [50, 99])
    return {"period_error_p50_s": float(p50), "period_error_p99_s": float(p99),
            "latency_p99_s": float(np.percentile(rows[:, COLUMNS.index("latency")], 99)),
            "compute_p99_s": float(np.percentile(rows[:, COLUMNS.index("compute")], 99))}


def load_timing(directory: Path) -> np.ndarray:
    """All recorded steps of a run, (n, len(COLUMNS)), in order."""
    files = sorted(directory.glob("timing-*.npy"))
    if not files:
        return np.zeros((0, len(COLUMNS)))
    return np.concatenate([np.load(f) for f in files])
