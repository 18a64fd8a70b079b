"""Reading a run directory's replay segments back: which ones, and what was lost."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from robot_rl.replay.errors import ReplayRestoreError, SkippedSegmentWarning
from robot_rl.replay.segment_files import (REPLAY_DIRNAME, DamagedFileError, Segment, list_replay_dir,
                                           read_manifest, read_segment)


@dataclass(frozen=True)
class RestoreReport:
    """What ``ReplayBuffer.load`` put back.

    restored: transitions now in the ring (at most ``capacity``).
    lost: transitions the ring would hold had nothing been lost, but that were not on disk:
        the unflushed tail at a crash, damaged or missing segments. Exact when the run's true
        total was given (``expected_total``); otherwise a lower bound from the manifest.
    total: transitions the run had added (the buffer's ``total_added`` after loading): the
        largest of ``expected_total``, the manifest's count and the newest segment's end.
    skipped: ``"<file>: <reason>"`` for each file ignored (also issued as warnings).
    """

    restored: int
    lost: int
    total: int
    skipped: tuple[str, ...] = ()

    def __str__(self) -> str:
        text = f"replay: restored {self.restored:,} transitions of {self.total:,} added, lost {self.lost:,}"
        return text + (f"; skipped {len(self.skipped)} file(s)" if self.skipped else "")


@dataclass(frozen=True)
class RestorePlan:
    """Segments to copy into the ring, oldest first, each with the row range to take."""

    pieces: tuple[tuple[Segment, int, int], ...]
    report: RestoreReport


def plan_restore(run_dir: str | Path, signature: dict[str, list[Any]], capacity: int,
                 expected_total: int | None) -> RestorePlan:
    """Read the newest segments of ``<run_dir>/replay`` that fall in the newest ``capacity``
    transitions of the run. Damaged files are skipped with a SkippedSegmentWarning.

    Raises ReplayRestoreError if the manifest's column layout differs from ``signature``
    (the config or env changed: restoring would mix incompatible data)."""
    directory = Path(run_dir) / REPLAY_DIRNAME
    skipped: list[str] = []
    if not directory.is_dir():
        total = expected_total or 0
        return RestorePlan((), RestoreReport(0, min(total, capacity), total))
    manifest = None
    try:
        manifest = read_manifest(directory)
    except DamagedFileError as exc:
        _skip(skipped, directory / "manifest.json", str(exc))
    if manifest is not None and manifest.columns != signature:
        raise ReplayRestoreError(f"{directory}: stored columns {manifest.columns} differ from the configured "
                                 f"{signature}; use the run's own replay config")
    listing, others = list_replay_dir(directory)
    for path in others:
        _skip(skipped, path, "leftover temporary file" if path.name.endswith(".tmp") else "not a segment")

    newest_first: list[Segment] = []
    total = low = 0
    for start, path in reversed(listing):
        try:
            segment = read_segment(path, signature)
            if newest_first and segment.end > newest_first[-1].start:
                raise DamagedFileError(f"overlaps the newer segment starting at {newest_first[-1].start}")
        except DamagedFileError as exc:
            _skip(skipped, path, str(exc))
        else:
            if not newest_first:
                total = max(segment.end, expected_total or 0, manifest.total_flushed if manifest else 0)
                low = max(total - capacity, manifest.oldest_start if manifest else listing[0][0])
            newest_first.append(segment)
        if newest_first and start <= low:
            break  # every older segment ends before this one starts
    if not newest_first:
        total = max(expected_total or 0, manifest.total_flushed if manifest else 0)
        low = max(total - capacity, manifest.oldest_start if manifest else 0)
        return RestorePlan((), RestoreReport(0, total - low, total, tuple(skipped)))

    pieces = tuple((s, max(0, low - s.start), s.rows) for s in reversed(newest_first) if s.end > low)
    restored = sum(hi - lo for _, lo, hi in pieces)
    return RestorePlan(pieces, RestoreReport(restored, (total - low) - restored, total, tuple(skipped)))


def _skip(skipped: list[str], path: Path, reason: str) -> None:
    skipped.append(f"{path.name}: {reason}")
    warnings.warn(f"replay restore: ignoring {path}: {reason}", SkippedSegmentWarning, stacklevel=4)
