"""The on-disk format of replay segments and the manifest, written atomically.

``<run>/replay/`` holds:

- ``segment-<start:012d>.npz``: an uncompressed ``np.savez`` archive of consecutive
  transitions ``start .. start + rows - 1`` (global indices: the n-th transition ever added
  has index n - 1). One array per column (``obs``, ``action``, ... and the extra columns) with
  ``rows`` rows, plus ``_start`` (int64), ``_break_before`` (bool: the previous transition on
  disk is not this one's predecessor in time, because the run was resumed) and ``_format``.
- ``manifest.json``: the layout, the number of transitions flushed so far and the first
  global index kept on disk.

Every file is written to ``<name>.tmp`` in the same folder, fsynced, renamed over the final
name with ``os.replace`` and the folder fsynced: a reader sees the old file or the new one,
never a part. A crash can leave a ``.tmp`` file behind; readers ignore it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

FORMAT_VERSION = 1
REPLAY_DIRNAME = "replay"
MANIFEST_NAME = "manifest.json"
_SEGMENT_NAME = re.compile(r"^segment-(\d{12})\.npz$")
_META_KEYS = ("_start", "_break_before", "_format")


class DamagedFileError(Exception):
    """A segment or manifest file cannot be read or does not fit the layout (internal:
    restoring turns it into a warning and skips the file)."""


@dataclass(frozen=True)
class Manifest:
    """Contents of ``manifest.json``.

    total_flushed: transitions on disk, counted from the start of the run (the global index
        one past the newest flushed transition).
    oldest_start: global index of the first transition still on disk (older segments were
        deleted on purpose to bound disk use).
    columns: ``{name: [dtype, row shape]}`` of every column.
    """

    format: int
    total_flushed: int
    oldest_start: int
    columns: dict[str, list[Any]]


@dataclass(frozen=True)
class Segment:
    """One segment file, read and checked: ``columns`` share their row count ``rows``."""

    start: int
    break_before: bool
    columns: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return len(self.columns["reward"])

    @property
    def end(self) -> int:
        """Global index one past this segment's last transition."""
        return self.start + self.rows


def segment_name(start: int) -> str:
    return f"segment-{start:012d}.npz"


def segment_start(name: str) -> int | None:
    """The global start index encoded in a segment file name, or None for any other name."""
    match = _SEGMENT_NAME.match(name)
    return int(match.group(1)) if match else None


def layout_signature(layout: Mapping[str, tuple[tuple[int, ...], np.dtype]]) -> dict[str, list[Any]]:
    """``{name: [dtype name, row shape]}``: the layout without the capacity, as JSON stores it."""
    return {name: [dtype.name, list(shape[1:])] for name, (shape, dtype) in layout.items()}


def list_replay_dir(directory: Path) -> tuple[list[tuple[int, Path]], list[Path]]:
    """``(segments sorted by start, other files)`` in ``directory``; the manifest is in neither."""
    segments, others = [], []
    for entry in sorted(directory.iterdir()):
        if entry.name == MANIFEST_NAME:
            continue
        start = segment_start(entry.name)
        if start is None or not entry.is_file():
            others.append(entry)
        else:
            segments.append((start, entry))
    segments.sort()
    return segments, others


def write_atomic(directory: Path, name: str, write: Callable[[IO[bytes]], None], fsync: bool = True,
                 sync_dir: bool = True) -> None:
    """Write ``directory/name`` so that it appears whole or not at all, even if the process is
    killed. With ``fsync`` the data is also on the device before the rename, and the rename
    is durable once the folder is fsynced (here with ``sync_dir``, or by a later call).
    Raises OSError on failure; the temp file is then removed."""
    tmp = directory / f"{name}.tmp"
    try:
        with open(tmp, "wb") as file:
            write(file)
            file.flush()
            if fsync:
                os.fsync(file.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync and sync_dir:
        fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """Make renames and deletions in ``directory`` durable (POSIX; a no-op elsewhere)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_segment(directory: Path, start: int, columns: Mapping[str, np.ndarray], break_before: bool,
                  fsync: bool = True) -> None:
    """Write (or atomically replace) the segment starting at global index ``start``; the
    rename is made durable by the next :func:`write_manifest`."""
    meta = {"_start": np.int64(start), "_break_before": np.bool_(break_before),
            "_format": np.int64(FORMAT_VERSION)}
    write_atomic(directory, segment_name(start), lambda file: np.savez(file, **columns, **meta), fsync=fsync,
                 sync_dir=False)


def read_segment(path: Path, signature: Mapping[str, list[Any]]) -> Segment:
    """Read and check one segment file against ``signature`` (from :func:`layout_signature`).

    Raises DamagedFileError saying what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except Exception as exc:  # a damaged zip fails in many ways (BadZipFile, ValueError, EOFError, ...)
        raise DamagedFileError(f"unreadable ({type(exc).__name__}: {exc})") from exc
    expected = set(signature) | set(_META_KEYS)
    if set(arrays) != expected:
        raise DamagedFileError(f"holds arrays {sorted(arrays)}, expected {sorted(expected)}")
    if int(arrays["_format"]) != FORMAT_VERSION:
        raise DamagedFileError(f"format {int(arrays['_format'])}, this code reads {FORMAT_VERSION}")
    start = int(arrays.pop("_start"))
    if start != segment_start(path.name):
        raise DamagedFileError(f"records start {start}, its name says {segment_start(path.name)}")
    break_before = bool(arrays.pop("_break_before"))
    del arrays["_format"]
    rows = len(arrays["reward"])
    if rows == 0:
        raise DamagedFileError("holds no transitions")
    for name, (dtype, row_shape) in signature.items():
        array = arrays[name]
        if array.dtype.name != dtype or list(array.shape) != [rows, *row_shape]:
            raise DamagedFileError(f"column {name!r} is {array.shape} {array.dtype}, "
                                   f"expected ({rows}, {', '.join(map(str, row_shape))}) {dtype}")
    return Segment(start, break_before, {name: arrays[name] for name in signature})


def write_manifest(directory: Path, manifest: Manifest, fsync: bool = True) -> None:
    """Replace the manifest; with ``fsync``, fsync it and the folder (making earlier renames
    durable too)."""
    text = json.dumps(asdict(manifest), indent=1).encode()
    write_atomic(directory, MANIFEST_NAME, lambda file: file.write(text), fsync=fsync)


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest, or None if there is none. Raises DamagedFileError if it is unreadable."""
    path = directory / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise DamagedFileError(f"unreadable ({exc})") from exc
    try:
        manifest = Manifest(**data)
        ok = (manifest.format == FORMAT_VERSION and isinstance(manifest.total_flushed, int)
              and isinstance(manifest.oldest_start, int) and isinstance(manifest.columns, dict)
              and 0 <= manifest.oldest_start <= manifest.total_flushed)
    except TypeError as exc:
        raise DamagedFileError(f"unexpected contents ({exc})") from exc
    if not ok:
        raise DamagedFileError(f"unexpected contents {data!r}")
    return manifest
