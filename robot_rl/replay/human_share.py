"""Where a transition came from, and batches that give the human's transitions a fixed share.

Every transition carries a ``source`` (an extra replay column, int8): the policy acting
(:data:`POLICY`), a demonstration recorded by ``robot-rl record-demos``
(:data:`DEMONSTRATION`), or an operator's intervention during training
(:data:`INTERVENTION`). The column is stored and flushed with the rest, so the flags survive a
``--resume`` like any transition.

:class:`HumanShare` draws batches as RLPD and HIL-SERL do: ``share`` of each batch uniformly
from the human transitions (demonstrations and interventions), the rest uniformly from the
whole replay (human rows included), as long as any human row is stored; without one, the
whole batch is uniform. A few dozen demonstrations then keep their weight when the replay
holds tens of thousands of the policy's own steps.
"""

from __future__ import annotations

import numpy as np

from robot_rl.replay.buffer import ReplayBuffer, ReplaySample

POLICY, DEMONSTRATION, INTERVENTION = 0, 1, 2
SOURCE_NAMES = {POLICY: "policy", DEMONSTRATION: "demonstration", INTERVENTION: "intervention"}
SOURCE_COLUMN = {"name": "source", "dtype": "int8"}
FULL_RESCAN_EVERY = 1_000
"""Once the ring has wrapped, the human rows are looked up again after this many added rows
(overwritten human rows in between are drawn as what replaced them: a share off by at most
that many rows of a full ring)."""


class HumanShare:
    """Batches of ``replay`` (which has a ``source`` column) with ``share`` of their rows human."""

    def __init__(self, replay: ReplayBuffer, share: float) -> None:
        if "source" not in replay.storage.extras:
            raise ValueError("the replay has no 'source' column (ReplayConfig extra_columns: source int8)")
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"the human share of a batch must be in [0, 1], got {share!r}")
        self.replay = replay
        self.share = share
        self._source = replay.storage.extras["source"]
        self._rows = np.zeros(0, dtype=np.int64)
        self._scanned_total = 0  # replay.total_added when the rows were last brought up to date
        self._last_human = 0
        self._last_batch = 0

    def human_rows(self) -> np.ndarray:
        """Ring rows holding a demonstration or an intervention (kept up to date incrementally)."""
        replay = self.replay
        total, size = replay.total_added, len(replay)
        new = total - self._scanned_total
        if new <= 0:
            return self._rows
        if size < replay.capacity and total == size:  # not wrapped: only the new rows need a look
            start = size - new
            found = np.flatnonzero(self._source[start:size] > 0) + start
            self._rows = np.concatenate([self._rows, found]) if len(found) else self._rows
            self._scanned_total = total
        elif new >= FULL_RESCAN_EVERY or self._scanned_total == 0:
            self._rows = np.flatnonzero(self._source[:size] > 0)
            self._scanned_total = total
        return self._rows

    def sample(self, batch_size: int) -> ReplaySample:
        """``batch_size`` transitions: ``round(share * batch_size)`` human ones (when any are
        stored), the rest uniform over the replay."""
        rows = self.human_rows()
        self._last_batch = batch_size
        if not len(rows) or self.share == 0.0:
            self._last_human = 0
            return self.replay.sample(batch_size)
        rng = self.replay.rng
        n_human = int(round(self.share * batch_size))
        idx = np.concatenate([rows[rng.integers(0, len(rows), n_human)],
                              rng.integers(0, len(self.replay), batch_size - n_human)])
        self._last_human = n_human
        return self.replay.sample_rows(idx)

    @property
    def last_share(self) -> float:
        """The human share of the last batch drawn (0 while no human row is stored)."""
        return self._last_human / self._last_batch if self._last_batch else 0.0

    def counts(self) -> dict[str, int]:
        """Stored transitions per source (``policy``, ``demonstration``, ``intervention``)."""
        sources = np.bincount(self._source[:len(self.replay)].astype(np.int64), minlength=3)
        return {SOURCE_NAMES[k]: int(sources[k]) for k in SOURCE_NAMES}
