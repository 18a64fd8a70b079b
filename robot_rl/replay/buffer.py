"""The replay buffer: a preallocated numpy ring, uniform sampling, n-step returns, persistence."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from robot_rl.replay.config import ReplayConfig
from robot_rl.replay.errors import (ReplayEmptyError, ReplayPersistenceError, ReplayShapeError, ReplayStateError,
                                    ReplayValueError)
from robot_rl.replay.nstep import episode_window, nstep_window
from robot_rl.replay.restore import RestoreReport, plan_restore
from robot_rl.replay.segment_files import Segment, layout_signature
from robot_rl.replay.segment_writer import SegmentWriter
from robot_rl.replay.storage import ReplayStorage

STATE_FORMAT = 1
_NEVER = sys.maxsize


class ReplaySample(NamedTuple):
    """``B`` sampled transitions as numpy arrays (float ones in the config's dtype).

    obs: ``(B, obs_dim)``; action: ``(B, action_dim)``: at the sampled row.
    reward: ``(B,)``, ``sum_{j<k} gamma**j * r_j`` over the ``k`` steps of the n-step window.
    next_obs: ``(B, obs_dim)``, the observation after the window's last step.
    done: ``(B,)``, 1.0 where the window ends in a termination (no bootstrapping); a
        truncation ends the window with done 0.0, so ``next_obs`` is bootstrapped.
    discount: ``(B,)``, ``gamma ** k``.
    indices: ``(B,)`` int64 ring rows sampled (for priorities later).
    extras: ``{column: (B,)}``, each extra column at the sampled row.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    done: np.ndarray
    discount: np.ndarray
    indices: np.ndarray
    extras: dict[str, np.ndarray]


class ReplayBuffer:
    """A ring of ``config.capacity`` transitions in preallocated numpy arrays.

    ``add`` writes one row in place (no allocation); when the ring is full the oldest row is
    overwritten. ``sample`` draws rows uniformly with the buffer's own numpy Generator.

    Persistence: given ``run_dir``, every ``config.flush_interval_steps`` added transitions
    (and on :meth:`flush` / :meth:`close`) the new ones are written to ``<run_dir>/replay/``;
    a crash loses at most ``flush_interval_steps`` transitions. :meth:`load` restores them.
    A flush happens inside the ``add`` that reaches the interval, so that call takes as long
    as writing one segment (see docs/replay.md for figures).

    Sharing: the arrays can be supplied (``storage=ReplayStorage.from_arrays(...)``), for
    example views of ``multiprocessing.shared_memory`` blocks, and are only written in place.
    The counters (head, size, total) live in this object; sharing them across processes is
    the async mode's job. One buffer is not safe for concurrent use from several threads.

    Raises ReplayShapeError if ``storage`` does not fit the config, ReplayRestoreError if
    ``run_dir`` already holds segments (use :meth:`load`), ReplayPersistenceError if the
    replay folder cannot be created.
    """

    def __init__(self, config: ReplayConfig, obs_dim: int, action_dim: int, *,
                 rng: np.random.Generator | int | None = None, storage: ReplayStorage | None = None,
                 run_dir: str | Path | None = None) -> None:
        self._config = config
        self._obs_dim, self._action_dim = obs_dim, action_dim
        self._signature = layout_signature(config.column_layout(obs_dim, action_dim))
        if storage is None:
            storage = ReplayStorage.allocate(config, obs_dim, action_dim)
        else:
            storage = ReplayStorage.from_arrays(config, obs_dim, action_dim, storage.columns())
        self._storage = storage
        self._obs, self._action, self._reward = storage.obs, storage.action, storage.reward
        self._next_obs, self._terminated, self._truncated = storage.next_obs, storage.terminated, storage.truncated
        self._extra_items = tuple(storage.extras.items())
        self._float = np.dtype(config.dtype)
        self._capacity = config.capacity
        self._head = self._size = self._total = 0
        self._rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self._writer: SegmentWriter | None = None
        self._next_flush_at = _NEVER
        self._closed = False
        if run_dir is not None:
            self._attach(SegmentWriter.create(run_dir, config, self._signature))

    # ----------------------------------------------------------------- properties

    @property
    def config(self) -> ReplayConfig:
        return self._config

    @property
    def storage(self) -> ReplayStorage:
        return self._storage

    @property
    def obs_dim(self) -> int:
        return self._obs_dim

    @property
    def action_dim(self) -> int:
        return self._action_dim

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def size(self) -> int:
        """Transitions held now (at most ``capacity``)."""
        return self._size

    @property
    def head(self) -> int:
        """Ring row the next transition goes to."""
        return self._head

    @property
    def total_added(self) -> int:
        """Transitions added over the run (across resumes); the next one's global index."""
        return self._total

    @property
    def flushed_total(self) -> int | None:
        """Transitions safely on disk, or None without a run directory."""
        return self._writer.flushed_total if self._writer else None

    @property
    def replay_dir(self) -> Path | None:
        """``<run_dir>/replay``, or None without a run directory."""
        return self._writer.directory if self._writer else None

    def __len__(self) -> int:
        return self._size

    def episode_ends(self, newest: int) -> int:
        """How many of the newest ``newest`` transitions held end an episode (terminated or
        truncated; after a restore the last one is marked truncated: its episode was cut)."""
        n = min(max(newest, 0), self._size)
        rows = (self._head - 1 - np.arange(n)) % self._capacity
        return int(np.count_nonzero(self._terminated[rows] | self._truncated[rows]))

    # ----------------------------------------------------------------- adding

    def add(self, obs: ArrayLike, action: ArrayLike, reward: float, next_obs: ArrayLike, terminated: bool,
            truncated: bool, extras: Mapping[str, float | int] | None = None) -> None:
        """Store one transition: O(1) row writes into the preallocated arrays.

        obs, next_obs: ``(obs_dim,)``; action: ``(action_dim,)``; extras: a value for every
        extra column of the config, by name. May flush to the run directory (see the class).
        Raises ReplayShapeError if a value does not fit its column (the counters do not move;
        the row at the write head may be partly written), ReplayPersistenceError if a flush
        fails (the transition is stored all the same) or the buffer was closed.
        """
        if self._closed:
            raise ReplayPersistenceError("this replay buffer was closed; it takes no more data")
        pos = self._head
        if len(self._extra_items) != (0 if extras is None else len(extras)):
            raise ReplayShapeError(self._extras_mismatch(extras))
        try:
            self._obs[pos] = obs
            self._next_obs[pos] = next_obs
            self._action[pos] = action
            self._reward[pos] = reward
            self._terminated[pos] = terminated
            self._truncated[pos] = truncated
            for name, column in self._extra_items:
                column[pos] = extras[name]  # type: ignore[index]
        except KeyError:
            raise ReplayShapeError(self._extras_mismatch(extras)) from None
        except (ValueError, TypeError) as exc:
            raise ReplayShapeError(f"add: a value does not fit its column "
                                   f"(obs_dim {self._obs_dim}, action_dim {self._action_dim}): {exc}") from exc
        self._head = pos + 1 if pos + 1 < self._capacity else 0
        if self._size < self._capacity:
            self._size += 1
        self._total += 1
        if self._total >= self._next_flush_at:
            self.flush()

    def add_batch(self, obs: ArrayLike, action: ArrayLike, reward: ArrayLike, next_obs: ArrayLike,
                  terminated: ArrayLike, truncated: ArrayLike,
                  extras: Mapping[str, ArrayLike] | None = None) -> None:
        """Store ``B`` consecutive transitions (rows in time order), as ``B`` calls of
        :meth:`add` would, flushes included, with vectorised writes.

        obs, next_obs: ``(B, obs_dim)``; action: ``(B, action_dim)``; reward, terminated,
        truncated and each extra column: ``(B,)``. Raises ReplayShapeError before writing
        anything if a shape or column name is wrong; ReplayPersistenceError if a flush fails.
        """
        if self._closed:
            raise ReplayPersistenceError("this replay buffer was closed; it takes no more data")
        columns = self._batch_columns(obs, action, reward, next_obs, terminated, truncated, extras)
        count, done = len(columns["reward"]), 0
        targets = self._storage.columns()
        while done < count:
            chunk = min(count - done, self._capacity - self._head, self._next_flush_at - self._total)
            rows = slice(self._head, self._head + chunk)
            for name, values in columns.items():
                targets[name][rows] = values[done:done + chunk]
            self._head = (self._head + chunk) % self._capacity
            self._size = min(self._size + chunk, self._capacity)
            self._total += chunk
            done += chunk
            if self._total >= self._next_flush_at:
                self.flush()

    def _batch_columns(self, obs: ArrayLike, action: ArrayLike, reward: ArrayLike, next_obs: ArrayLike,
                       terminated: ArrayLike, truncated: ArrayLike,
                       extras: Mapping[str, ArrayLike] | None) -> dict[str, np.ndarray]:
        given = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs,
                 "terminated": terminated, "truncated": truncated}
        names = {name for name, _ in self._extra_items}
        if set(extras or {}) != names:
            raise ReplayShapeError(self._extras_mismatch(extras))
        given.update(extras or {})
        columns = {name: np.asarray(values) for name, values in given.items()}
        count = len(columns["reward"]) if columns["reward"].ndim == 1 else -1
        for name, target in self._storage.columns().items():
            expected = (count, *target.shape[1:])
            if columns[name].shape != expected or count < 0:
                raise ReplayShapeError(f"add_batch: {name} has shape {columns[name].shape}, "
                                       f"expected {expected} (B from reward)")
        return columns

    def _extras_mismatch(self, extras: Mapping[str, Any] | None) -> str:
        expected = sorted(name for name, _ in self._extra_items)
        return f"extras must give exactly the extra columns {expected}, got {sorted(extras or {})}"

    # ----------------------------------------------------------------- sampling

    def future_next_obs(self, rows: np.ndarray, horizon: int) -> np.ndarray:
        """For each ring row in ``rows`` (a sample's ``indices``), the ``next_obs`` of a row drawn
        uniformly from it to the end of its episode (within ``horizon`` rows; episodes are
        stored one after another, as one loop writes them): hindsight's "future" goals."""
        positions, steps = episode_window(rows, (self._head - 1) % self._capacity, self._terminated,
                                          self._truncated, horizon)
        offsets = (self._rng.random(len(rows)) * steps).astype(np.int64)
        return self._next_obs.take(positions[np.arange(len(rows)), offsets], axis=0)

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions drawn uniformly (with replacement) from the stored rows.

        With ``n_step > 1`` each sample sums up to ``n_step`` rewards from consecutive rows,
        stopping at the first row that terminated or was truncated and at the newest row.
        Raises ReplayEmptyError if nothing is stored, ReplayValueError if ``batch_size < 1``.
        """
        if self._size == 0:
            raise ReplayEmptyError("cannot sample from an empty replay buffer")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ReplayValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        return self.sample_rows(self._rng.integers(0, self._size, batch_size))

    @property
    def rng(self) -> np.random.Generator:
        """The buffer's own generator (samplers drawing rows for :meth:`sample_rows` use it, so
        that a checkpoint's random state covers them)."""
        return self._rng

    def sample_rows(self, idx: np.ndarray) -> ReplaySample:
        """The transitions at ring rows ``idx`` (int64, each in ``[0, len(self))``), built as
        :meth:`sample` builds its draws (n-step windows included)."""
        batch_size = len(idx)
        gamma = self._config.gamma
        if self._config.n_step == 1:
            reward = self._reward.take(idx)
            last = idx
            discount = np.full(batch_size, gamma, dtype=self._float)
        else:
            window = nstep_window(idx, (self._head - 1) % self._capacity, self._reward, self._terminated,
                                  self._truncated, self._config.n_step, gamma)
            reward = window.reward.astype(self._float)
            last = window.last
            discount = (gamma ** window.steps.astype(np.float64)).astype(self._float)
        return ReplaySample(
            obs=self._obs.take(idx, axis=0),
            action=self._action.take(idx, axis=0),
            reward=reward,
            next_obs=self._next_obs.take(last, axis=0),
            done=self._terminated.take(last).astype(self._float),
            discount=discount,
            indices=idx,
            extras={name: column.take(idx) for name, column in self._extra_items},
        )

    # ----------------------------------------------------------------- persistence

    def flush(self) -> None:
        """Write the transitions added since the last flush to the run directory. A no-op
        without a run directory or after :meth:`close`. Raises ReplayPersistenceError if
        writing fails; nothing is marked flushed then, and the next flush retries."""
        if self._writer is None:
            return
        self._writer.flush(self._storage, self._head, self._size, self._total)
        self._next_flush_at = self._writer.next_flush_at

    def close(self) -> None:
        """Flush and stop persisting; adding afterwards raises ReplayPersistenceError.
        Sampling still works. Idempotent."""
        if self._writer is not None:
            self.flush()
            self._writer = None
            self._next_flush_at = _NEVER
        self._closed = True

    def __enter__(self) -> ReplayBuffer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _attach(self, writer: SegmentWriter) -> None:
        self._writer = writer
        self._next_flush_at = writer.next_flush_at

    @classmethod
    def load(cls, run_dir: str | Path, config: ReplayConfig, obs_dim: int, action_dim: int, *,
             expected_total: int | None = None, state: Mapping[str, Any] | None = None,
             rng: np.random.Generator | int | None = None, storage: ReplayStorage | None = None,
             persist: bool = True) -> tuple[ReplayBuffer, RestoreReport]:
        """A new buffer filled from ``<run_dir>/replay`` (``--resume``): the constructor
        (without ``run_dir``) followed by :meth:`restore`. Raises what they raise."""
        buffer = cls(config, obs_dim, action_dim, rng=rng, storage=storage)
        report = buffer.restore(run_dir, expected_total=expected_total, state=state, persist=persist)
        return buffer, report

    def restore(self, run_dir: str | Path, *, expected_total: int | None = None,
                state: Mapping[str, Any] | None = None, persist: bool = True) -> RestoreReport:
        """Fill this empty buffer (made without ``run_dir``) from ``<run_dir>/replay``.

        Reads the complete segments in order and keeps the newest ``config.capacity``
        transitions (fewer than stored if the capacity shrank). Damaged or leftover files are
        skipped with a SkippedSegmentWarning naming them; the good ones are all used.

        expected_total: the run's true transition count (the learner checkpoint's); with it
            the report's ``lost`` is exact. Defaults to ``state["total_added"]``.
        state: a :meth:`state_dict` from the checkpoint; its rng state is restored.
        persist: keep writing new transitions to ``run_dir`` (False: read only).

        The last restored transition, and the one before each earlier resume, are marked
        truncated in memory: those episodes were cut and n-step windows must not run on
        into the next, unrelated episode. Raises ReplayStateError if the buffer is not new and
        empty or ``state`` is malformed, ReplayRestoreError if the stored layout differs from
        this buffer's config and dims.
        """
        if self._total or self._writer is not None or self._closed:
            raise ReplayStateError("restore needs a new, empty buffer made without run_dir")
        if state is not None:
            _check_state(state)
            if expected_total is None:
                expected_total = int(state["total_added"])
        plan = plan_restore(run_dir, self._signature, self._capacity, expected_total)
        self._fill(plan.pieces)
        self._total = plan.report.total
        if state is not None:
            self._set_rng_state(state["rng"])
        if persist:
            self._attach(SegmentWriter.resume(run_dir, self._config, self._signature, self._total))
        return plan.report

    def _fill(self, pieces: tuple[tuple[Segment, int, int], ...]) -> None:
        """Copy rows ``lo:hi`` of each segment (oldest first) into the empty ring, cutting the
        episode at every seam where time does not run on, and after the last row."""
        targets = self._storage.columns()
        previous_end = None
        for segment, lo, hi in pieces:
            rows = slice(self._size, self._size + hi - lo)
            for name, values in segment.columns.items():
                targets[name][rows] = values[lo:hi]
            if self._size and (segment.break_before or segment.start + lo != previous_end):
                self._truncated[self._size - 1] = True
            self._size += hi - lo
            previous_end = segment.end
        if self._size:
            self._truncated[self._size - 1] = True
        self._head = self._size % self._capacity

    # ----------------------------------------------------------------- checkpoint state

    def state_dict(self) -> dict[str, Any]:
        """The buffer's pointers and sampling rng (small; the data lives in the segments):
        ``format``, ``capacity``, ``head``, ``size``, ``total_added``, ``rng``."""
        return {"format": STATE_FORMAT, "capacity": self._capacity, "head": self._head, "size": self._size,
                "total_added": self._total, "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore pointers and rng over arrays that still hold the data (for example shared
        memory). After a restart use :meth:`load` with ``state=`` instead.

        Raises ReplayStateError if ``state`` is malformed, does not fit this buffer, or would
        move the counters of a buffer that persists to a run directory."""
        _check_state(state, self._capacity)
        if self._writer is not None and int(state["total_added"]) != self._total:
            raise ReplayStateError("cannot move the counters of a persisting buffer; use ReplayBuffer.load")
        self._set_rng_state(state["rng"])
        self._head, self._size, self._total = int(state["head"]), int(state["size"]), int(state["total_added"])

    def _set_rng_state(self, rng_state: Any) -> None:
        try:
            self._rng.bit_generator.state = rng_state
        except (TypeError, ValueError, KeyError) as exc:
            raise ReplayStateError(f"replay rng state does not fit {type(self._rng.bit_generator).__name__}: "
                                   f"{exc}") from exc


def _check_state(state: Mapping[str, Any], capacity: int | None = None) -> None:
    """Check a state dict's keys and format; with ``capacity``, also that its pointers fit."""
    missing = [key for key in ("format", "capacity", "head", "size", "total_added", "rng") if key not in state]
    if missing:
        raise ReplayStateError(f"replay state dict lacks {', '.join(missing)}")
    if state["format"] != STATE_FORMAT:
        raise ReplayStateError(f"replay state format {state['format']!r}, this code reads {STATE_FORMAT}")
    head, size, total = int(state["head"]), int(state["size"]), int(state["total_added"])
    if total < 0:
        raise ReplayStateError(f"replay state total_added must be >= 0, got {total}")
    if capacity is None:
        return
    if state["capacity"] != capacity:
        raise ReplayStateError(f"replay state is for capacity {state['capacity']}, this buffer has {capacity}")
    if not (0 <= head < capacity and 0 <= size <= capacity and size <= total and (size == capacity or head == size)):
        raise ReplayStateError(f"inconsistent replay state: head {head}, size {size}, total_added {total}")
