"""Writes a buffer's new transitions to ``<run>/replay/`` in segments, and bounds disk use."""

from __future__ import annotations

import bisect
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl.replay.config import ReplayConfig
from robot_rl.replay.errors import ReplayPersistenceError, ReplayRestoreError
from robot_rl.replay.segment_files import (FORMAT_VERSION, REPLAY_DIRNAME, Manifest, list_replay_dir, segment_name,
                                           write_manifest, write_segment)
from robot_rl.replay.storage import ReplayStorage


class SegmentWriter:
    """Persists the transitions a buffer adds, from global index ``total`` on.

    Segments are immutable once full (``segment_steps`` rows). The newest, open segment is
    rewritten whole at each flush (atomically), so a flush never leaves a partial file.
    After each flush the manifest records ``total_flushed``; then segments whose rows are all
    older than the newest ``capacity`` are deleted when ``config.delete_old_segments``.

    Use :meth:`create` for a new run and :meth:`resume` after restoring.
    """

    def __init__(self, directory: Path, config: ReplayConfig, signature: dict[str, list[Any]], total: int,
                 starts: list[int], break_before: bool) -> None:
        self.directory = directory
        self._config = config
        self._signature = signature
        self.flushed_total = total
        self._segment_start = total
        self._break_before = break_before
        self._starts = sorted(starts)

    @classmethod
    def create(cls, run_dir: str | Path, config: ReplayConfig, signature: dict[str, list[Any]]) -> SegmentWriter:
        """A writer for a new run. Raises ReplayRestoreError if ``<run_dir>/replay`` already
        holds segments (resume with ``ReplayBuffer.load`` instead of overwriting them)."""
        directory = Path(run_dir) / REPLAY_DIRNAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            segments, _ = list_replay_dir(directory)
        except OSError as exc:
            raise ReplayPersistenceError(f"cannot create replay directory {directory}: {exc}") from exc
        if segments:
            raise ReplayRestoreError(f"{directory} already holds {len(segments)} replay segments; "
                                     f"resume with ReplayBuffer.load or use a new run directory")
        return cls(directory, config, signature, total=0, starts=[], break_before=False)

    @classmethod
    def resume(cls, run_dir: str | Path, config: ReplayConfig, signature: dict[str, list[Any]],
               total: int) -> SegmentWriter:
        """A writer continuing a restored run at global index ``total``. Removes ``*.tmp``
        files a crash left behind (restoring has already reported them). The first segment it
        writes is marked ``break_before``: the interrupted episode does not continue into it."""
        directory = Path(run_dir) / REPLAY_DIRNAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            segments, others = list_replay_dir(directory)
            for path in others:
                if path.name.endswith(".tmp") and path.is_file():
                    path.unlink()
        except OSError as exc:
            raise ReplayPersistenceError(f"cannot prepare replay directory {directory}: {exc}") from exc
        starts = [start for start, _ in segments if start < total]
        return cls(directory, config, signature, total, starts, break_before=total > 0)

    @property
    def next_flush_at(self) -> int:
        """The buffer's ``total_added`` at which it must flush: the flush interval has passed,
        or the open segment is full."""
        return min(self.flushed_total + self._config.flush_interval_steps,
                   self._segment_start + self._config.segment_steps)

    def flush(self, storage: ReplayStorage, head: int, size: int, total: int) -> None:
        """Write transitions ``[flushed_total, total)``, which end just before ring row ``head``.

        Raises ReplayPersistenceError if writing fails (nothing is marked flushed then) or if
        unflushed transitions were already overwritten in the ring."""
        if total == self.flushed_total:
            return
        if total - self._segment_start > size:
            raise ReplayPersistenceError(f"{total - self._segment_start} transitions to write but only {size} "
                                         f"are in the ring: unflushed data was overwritten")
        try:
            while self._segment_start < total:
                end = min(total, self._segment_start + self._config.segment_steps)
                self._write(storage, head, total, end)
                if end - self._segment_start < self._config.segment_steps:
                    break
                self._segment_start, self._break_before = end, False
            self.flushed_total = total
            self._write_manifest_and_prune(total)
        except OSError as exc:
            raise ReplayPersistenceError(f"writing replay segments to {self.directory} failed: {exc}") from exc

    def _write(self, storage: ReplayStorage, head: int, total: int, end: int) -> None:
        capacity = self._config.capacity
        positions = (head - (total - self._segment_start) + np.arange(end - self._segment_start)) % capacity
        columns = {name: array.take(positions, axis=0) for name, array in storage.columns().items()}
        write_segment(self.directory, self._segment_start, columns, self._break_before, self._config.fsync)
        if not self._starts or self._starts[-1] != self._segment_start:
            bisect.insort(self._starts, self._segment_start)

    def _write_manifest_and_prune(self, total: int) -> None:
        # The manifest goes first: if deleting is interrupted, the leftovers are merely extra.
        keep_from = total - self._config.capacity
        doomed = []
        if self._config.delete_old_segments:
            doomed = [s for s, nxt in zip(self._starts, self._starts[1:]) if nxt <= keep_from]
        kept = self._starts[len(doomed):]
        oldest = kept[0] if kept else self._segment_start
        write_manifest(self.directory, Manifest(FORMAT_VERSION, total, oldest, self._signature), self._config.fsync)
        for start in doomed:  # not fsynced: a deletion undone by a power cut only leaves extra files
            (self.directory / segment_name(start)).unlink(missing_ok=True)
        self._starts = kept
