"""The replay buffer's config, and what it costs in memory before anything is allocated."""

from __future__ import annotations

import math
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from drivers.config import ConfigError, build, load_yaml
from robot_rl.replay.errors import ReplayConfigError

FloatName = Literal["float32", "float64"]
ColumnDtypeName = Literal["bool", "int8", "int16", "int32", "int64", "float32", "float64"]

#: Columns every transition has, in storage order. Extra columns may not reuse these names.
CORE_COLUMNS = ("obs", "action", "reward", "next_obs", "terminated", "truncated")
_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ColumnSpec:
    """One extra scalar stored with each transition, e.g. the policy ``weight_version`` that
    acted, or the ``episode`` number.

    name: lower-case identifier (``[a-z][a-z0-9_]*``), not one of :data:`CORE_COLUMNS`.
    dtype: numpy dtype name of the stored value.
    """

    name: str
    dtype: ColumnDtypeName = "int64"

    def __post_init__(self) -> None:
        if not _COLUMN_NAME.match(self.name):
            raise ReplayConfigError(f"extra column name must match [a-z][a-z0-9_]*, got {self.name!r}")
        if self.name in CORE_COLUMNS:
            raise ReplayConfigError(f"extra column name {self.name!r} is a core column ({', '.join(CORE_COLUMNS)})")
        if self.dtype not in typing.get_args(ColumnDtypeName):
            raise ReplayConfigError(f"extra column {self.name!r} dtype must be one of "
                                    f"{', '.join(typing.get_args(ColumnDtypeName))}, got {self.dtype!r}")


@dataclass(frozen=True)
class ReplayConfig:
    """Replay buffer settings (the ``replay:`` section of a training config).

    capacity: transitions held in memory; the oldest is overwritten when full.
    n_step: steps summed into each sampled return (1 = ordinary one-step transitions).
    gamma: discount per step, in (0, 1]; a sample of ``k`` steps has discount ``gamma ** k``.
    dtype: storage type of obs, action, reward and next_obs.
    flush_interval_steps: added transitions between flushes to the run directory; a crash,
        even ``kill -9``, loses at most this many transitions. Must be <= capacity.
    segment_steps: most transitions per segment file; also the granularity at which old
        segments are deleted. Must be <= capacity. A flush rewrites the open (not yet full)
        segment, so each transition is written about
        ``segment_steps / (2 * flush_interval_steps) + 1/2`` times; keep the ratio small.
    fsync: fsync each segment and the folder at every flush, so flushed data also survives
        a power cut or kernel crash. False skips the fsyncs (a flush then costs about 1 ms
        instead of a few device syncs); flushed data still survives the process being killed.
    delete_old_segments: delete segment files whose transitions are all older than the newest
        ``capacity`` ones, so the run directory holds about ``capacity + segment_steps``
        transitions. False keeps the whole history on disk.
    extra_columns: extra scalars stored with each transition (see :class:`ColumnSpec`).

    Raises ReplayConfigError naming the field and value on any out-of-range value.
    """

    capacity: int = 1_000_000
    n_step: int = 1
    gamma: float = 0.99
    dtype: FloatName = "float32"
    flush_interval_steps: int = 1_000
    segment_steps: int = 10_000
    fsync: bool = True
    delete_old_segments: bool = True
    extra_columns: tuple[ColumnSpec, ...] = ()

    def __post_init__(self) -> None:
        _check(_is_int(self.capacity) and self.capacity > 0, "capacity", self.capacity, "an integer > 0")
        _check(_is_int(self.n_step) and self.n_step >= 1, "n_step", self.n_step, "an integer >= 1")
        _check(self.n_step <= self.capacity, "n_step", self.n_step, f"<= capacity ({self.capacity})")
        _check(isinstance(self.gamma, (int, float)) and math.isfinite(self.gamma) and 0.0 < self.gamma <= 1.0,
               "gamma", self.gamma, "in (0, 1]")
        _check(self.dtype in ("float32", "float64"), "dtype", self.dtype, "'float32' or 'float64'")
        for name in ("flush_interval_steps", "segment_steps"):
            value = getattr(self, name)
            _check(_is_int(value) and value > 0, name, value, "an integer > 0")
            _check(value <= self.capacity, name, value, f"<= capacity ({self.capacity})")
        _check(all(isinstance(column, ColumnSpec) for column in self.extra_columns), "extra_columns",
               self.extra_columns, "a sequence of ColumnSpec")
        names = [column.name for column in self.extra_columns]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        _check(not duplicates, "extra_columns", duplicates, "free of duplicate names")
        object.__setattr__(self, "extra_columns", tuple(self.extra_columns))  # a list from Python code

    def column_layout(self, obs_dim: int, action_dim: int) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """``{column: (shape, dtype)}`` of every storage array, core columns first.

        This is what :class:`~robot_rl.replay.storage.ReplayStorage` allocates, and what a
        caller building the arrays itself (for example in shared memory) must provide.
        Raises ReplayConfigError if ``obs_dim`` or ``action_dim`` is not a positive integer.
        """
        _check(_is_int(obs_dim) and obs_dim > 0, "obs_dim", obs_dim, "an integer > 0")
        _check(_is_int(action_dim) and action_dim > 0, "action_dim", action_dim, "an integer > 0")
        n, real = self.capacity, np.dtype(self.dtype)
        layout = {
            "obs": ((n, obs_dim), real),
            "action": ((n, action_dim), real),
            "reward": ((n,), real),
            "next_obs": ((n, obs_dim), real),
            "terminated": ((n,), np.dtype(np.bool_)),
            "truncated": ((n,), np.dtype(np.bool_)),
        }
        for column in self.extra_columns:
            layout[column.name] = ((n,), np.dtype(column.dtype))
        return layout

    def bytes_per_transition(self, obs_dim: int, action_dim: int) -> int:
        """Bytes one stored transition takes:
        ``(2 * obs_dim + action_dim + 1) * itemsize + 2 + sum(extra itemsizes)``."""
        return sum(math.prod(shape[1:]) * dtype.itemsize
                   for shape, dtype in self.column_layout(obs_dim, action_dim).values())

    def memory_bytes(self, obs_dim: int, action_dim: int) -> int:
        """Bytes the storage arrays take: ``capacity * bytes_per_transition``; equal to the
        sum of their ``nbytes`` once allocated."""
        return self.capacity * self.bytes_per_transition(obs_dim, action_dim)

    def describe(self, obs_dim: int, action_dim: int) -> str:
        """One line for logs, e.g.
        ``replay: 1,000,000 transitions x (17 obs, 6 act) float32 = 166 MB``."""
        extras = "".join(f", {c.name} {c.dtype}" for c in self.extra_columns)
        return (f"replay: {self.capacity:,} transitions x ({obs_dim} obs, {action_dim} act{extras}) "
                f"{self.dtype} = {human_bytes(self.memory_bytes(obs_dim, action_dim))}")


def human_bytes(count: int) -> str:
    """``count`` bytes in decimal units with three significant figures: ``166 MB``, ``1.66 GB``."""
    value, unit = float(count), "B"
    for next_unit in ("kB", "MB", "GB", "TB"):
        if value < 999.5:
            break
        value, unit = value / 1000.0, next_unit
    if unit == "B":
        return f"{count} B"
    return f"{value:.0f} {unit}" if value >= 99.5 else f"{value:.3g} {unit}"


def replay_config_from_dict(data: dict[str, Any], source: str = "<replay config>") -> ReplayConfig:
    """Build a :class:`ReplayConfig` from a mapping. Raises :class:`drivers.config.ConfigError`
    naming ``source`` and the key on an unknown key or a bad value."""
    return build(ReplayConfig, data, source)


def load_replay_config(path: str | Path) -> ReplayConfig:
    """Load the ``replay:`` section of ``path`` (or the whole file if it has no such key).
    Raises :class:`drivers.config.ConfigError`."""
    data = load_yaml(path)
    if "replay" in data:
        data = data["replay"]
        if data is None:
            return ReplayConfig()
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: replay: expected a mapping, got {type(data).__name__}")
    return replay_config_from_dict(data, str(path))


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ReplayConfigError(f"{name} must be {expected}, got {value!r}")
