"""Policy weights from the learner to the control loop, versioned, without locks.

A sequence lock: the writer makes the sequence odd, copies the weights, makes it even. The
reader copies only when the sequence is even and new, and keeps the copy only if the
sequence did not change meanwhile; otherwise it keeps its current weights and tries again
at the next step. The control loop therefore never waits: at worst it uses the previous
version one step longer. The version is the number of publications (sequence / 2), or, in a fleet, the learner's version
that the actor's bridge copies in (``publish(flat, version)``).
"""

from __future__ import annotations

import numpy as np

from robot_rl.realtime.shared_block import BlockSpec, SharedBlock


class WeightBoard:
    def __init__(self, block: SharedBlock) -> None:
        self.block = block
        self._sequence = block["sequence"]
        self._weights = block["weights"]

    @classmethod
    def create(cls, size: int) -> "WeightBoard":
        return cls(SharedBlock.create([("sequence", (8,), "int64"), ("weights", (size,), "float32")]))

    @classmethod
    def attach(cls, spec: BlockSpec, detached: bool = False) -> "WeightBoard":
        return cls(SharedBlock.attach(spec, detached))

    @property
    def spec(self) -> BlockSpec:
        return self.block.spec

    @property
    def version(self) -> int:
        return int(self._sequence[0]) // 2

    def publish(self, flat: np.ndarray, version: int | None = None) -> int:
        """Writer (one process only). ``version``: the version to publish as (greater than the
        current one); None: the next. Returns the new version."""
        sequence = int(self._sequence[0])
        new = sequence // 2 + 1 if version is None else int(version)
        if new <= sequence // 2:
            raise ValueError(f"weight version {new} is not newer than the published {sequence // 2}")
        self._sequence[0] = sequence + 1
        self._weights[:] = flat
        self._sequence[0] = 2 * new
        return new

    def read_if_newer(self, version: int, out: np.ndarray) -> int | None:
        """Copy a version newer than ``version`` into ``out`` (a scratch buffer: use it only when a
        version is returned; on None it may hold a torn copy). Returns that version or None."""
        before = int(self._sequence[0])
        if before & 1 or before // 2 <= version:
            return None
        out[:] = self._weights
        if int(self._sequence[0]) != before:
            return None  # torn: the writer started again while we copied
        return before // 2

    def close(self) -> None:
        self._sequence = self._weights = None
        self.block.close()
