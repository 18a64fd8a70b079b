"""Per-step timing of the control loop: recorded without allocation, saved in chunks by a
background thread, summarised for the status board and the ``robot-rl timing`` report.

Columns (seconds, ``time.monotonic``): ``period`` between consecutive command writes and its
``period_error`` from the target; ``latency`` from the end of the state read to the command
written after it (to the end of that write); ``compute`` for the policy (and weight pick-up);
``read`` and ``write`` durations (bus or physics); ``late`` of the wake-up; ``overrun`` (0/1);
``weight_version``. The first step of an episode has no previous write: its ``period``,
``period_error`` and ``latency`` are NaN.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

import numpy as np

COLUMNS = ("period", "period_error", "latency", "compute", "read", "write", "late", "overrun", "weight_version")
CHUNK = 4096


class TimingRecorder:
    def __init__(self, directory: Path | None, target_period_s: float, window: int = 1000) -> None:
        self.directory = directory
        self.target = target_period_s
        self.chunk = np.zeros((CHUNK, len(COLUMNS)))
        self.n = 0
        self.chunks_written = 0
        self.window = np.zeros((window, len(COLUMNS)))
        self.window_n = 0
        self.overruns = 0
        self.max_period_error = 0.0
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self.chunks_written = len(list(directory.glob("timing-*.npy")))
            self._thread = threading.Thread(target=self._write_chunks, name="timing-writer", daemon=True)
            self._thread.start()

    def record(self, period: float, latency: float, compute: float, read: float, write: float, late: float,
               overrun: bool, weight_version: int) -> None:
        error = abs(period - self.target)  # NaN for an episode's first step
        row = (period, error, latency, compute, read, write, late, float(overrun), float(weight_version))
        self.chunk[self.n] = row
        self.window[self.window_n % self.window.shape[0]] = row
        self.n += 1
        self.window_n += 1
        self.overruns += bool(overrun)
        if error > self.max_period_error:
            self.max_period_error = error
        if self.n == CHUNK:
            self._hand_off()

    def summary(self) -> dict[str, float]:
        """Percentiles over the recent window (steps with a measured period); {} before any."""
        rows = self.window[:min(self.window_n, self.window.shape[0])]
        rows = rows[np.isfinite(rows[:, COLUMNS.index("period")])]
        if rows.shape[0] == 0:
            return {}
        err = rows[:, COLUMNS.index("period_error")]
        return {"period_error_p50_s": float(np.percentile(err, 50)), "period_error_p99_s": float(np.percentile(err, 99)),
                "period_error_max_s": self.max_period_error,
                "latency_p99_s": float(np.percentile(rows[:, COLUMNS.index("latency")], 99)),
                "compute_p99_s": float(np.percentile(rows[:, COLUMNS.index("compute")], 99)),
                "overruns": float(self.overruns)}

    def _hand_off(self) -> None:
        if self._thread is not None:
            self._queue.put((self.chunks_written, self.chunk[:self.n].copy()))
            self.chunks_written += 1
        self.n = 0

    def _write_chunks(self) -> None:
        assert self.directory is not None
        while True:
            item = self._queue.get()
            if item is None:
                return
            index, rows = item
            tmp = self.directory / f".timing-{index:06d}.npy.tmp"
            with open(tmp, "wb") as f:
                np.save(f, rows)
            tmp.replace(self.directory / f"timing-{index:06d}.npy")

    def close(self) -> None:
        if self.n:
            self._hand_off()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)
            self._thread = None


def load_timing(directory: Path) -> np.ndarray:
    """All recorded steps of a run, (n, len(COLUMNS)), in order."""
    files = sorted(directory.glob("timing-*.npy"))
    if not files:
        return np.zeros((0, len(COLUMNS)))
    return np.concatenate([np.load(f) for f in files])
