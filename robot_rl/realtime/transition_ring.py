"""A single-producer, single-consumer ring of transitions in shared memory.

The control loop (producer) writes a row and then advances the shared counter; it never
waits. The learner (consumer) copies the rows it has not seen into its replay buffer, which
does the persistence, so no file I/O ever happens in the control loop. Each row carries its
sequence number, written last: a row overwritten while the consumer copied it (the consumer
fell more than a ring behind) is detected and counted as lost, never used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robot_rl.realtime.shared_block import BlockSpec, SharedBlock


@dataclass
class Drained:
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    weight_version: np.ndarray
    episode: np.ndarray
    actor: np.ndarray  # which control loop collected the row (0 outside a fleet)
    source: np.ndarray  # who chose the action: robot_rl.replay.human_share (0 policy, 2 intervention)
    lost: int

    def __len__(self) -> int:
        return int(self.reward.shape[0])


ROW_NAMES = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "weight_version", "episode", "actor",
             "source")


def ring_arrays(capacity: int, obs_dim: int, action_dim: int) -> list[tuple[str, tuple[int, ...], str]]:
    return [("count", (8,), "int64"), ("obs", (capacity, obs_dim), "float32"),
            ("action", (capacity, action_dim), "float32"), ("reward", (capacity,), "float32"),
            ("next_obs", (capacity, obs_dim), "float32"), ("terminated", (capacity,), "bool"),
            ("truncated", (capacity,), "bool"), ("weight_version", (capacity,), "int64"),
            ("episode", (capacity,), "int64"), ("actor", (capacity,), "int64"), ("source", (capacity,), "int8"),
            ("stamp", (capacity,), "int64")]


class TransitionRing:
    def __init__(self, block: SharedBlock) -> None:
        self.block = block
        self.capacity = block["reward"].shape[0]
        self._count = block["count"]
        self._rows = {name: block[name] for name in ROW_NAMES + ("stamp",)}

    @classmethod
    def create(cls, capacity: int, obs_dim: int, action_dim: int) -> "TransitionRing":
        ring = cls(SharedBlock.create(ring_arrays(capacity, obs_dim, action_dim)))
        ring._rows["stamp"][:] = -1
        return ring

    @classmethod
    def attach(cls, spec: BlockSpec, detached: bool = False) -> "TransitionRing":
        return cls(SharedBlock.attach(spec, detached))

    @property
    def spec(self) -> BlockSpec:
        return self.block.spec

    @property
    def written(self) -> int:
        return int(self._count[0])

    # -- producer --------------------------------------------------------------------------------
    def push(self, obs: np.ndarray, action: np.ndarray, reward: float, next_obs: np.ndarray, terminated: bool,
             truncated: bool, weight_version: int, episode: int, actor: int = 0, source: int = 0) -> None:
        k = int(self._count[0])
        i = k % self.capacity
        rows = self._rows
        rows["stamp"][i] = -1  # invalid while written (see drain)
        rows["obs"][i] = obs
        rows["action"][i] = action
        rows["reward"][i] = reward
        rows["next_obs"][i] = next_obs
        rows["terminated"][i] = terminated
        rows["truncated"][i] = truncated
        rows["weight_version"][i] = weight_version
        rows["episode"][i] = episode
        rows["actor"][i] = actor
        rows["source"][i] = source
        rows["stamp"][i] = k
        self._count[0] = k + 1

    def push_rows(self, drained: Drained) -> None:
        """Push rows drained from another ring (a fleet's learner takes in the actors' batches).
        A batch longer than the ring keeps only its newest rows, as the consumer would have."""
        n = len(drained)
        k = int(self._count[0])
        sequence = np.arange(k, k + n, dtype=np.int64)[-self.capacity:]
        index = sequence % self.capacity
        rows = self._rows
        rows["stamp"][index] = -1  # invalid while written (see drain)
        for name in ROW_NAMES:
            rows[name][index] = getattr(drained, name)[n - len(sequence):]
        rows["stamp"][index] = sequence
        self._count[0] = k + n

    # -- consumer --------------------------------------------------------------------------------
    def drain(self, start: int, limit: int | None = None) -> tuple[Drained, int]:
        """Rows from sequence number ``start`` to the newest (at most ``limit``); returns them and
        the next ``start``. Rows already overwritten are skipped and counted in ``lost``."""
        end = int(self._count[0])
        lost = 0
        if end - start > self.capacity:
            lost = end - start - self.capacity
            start = end - self.capacity
        if limit is not None:
            end = min(end, start + limit)
        sequence = np.arange(start, end, dtype=np.int64)
        index = sequence % self.capacity
        # A row is taken only if its stamp was its sequence number both before and after the
        # copy: the producer writing it meanwhile (the consumer a ring behind) shows in either.
        before = self._rows["stamp"][index]
        rows = {name: self._rows[name][index] for name in ROW_NAMES}  # fancy indexing copies
        valid = (before == sequence) & (self._rows["stamp"][index] == sequence)
        if not np.all(valid):
            lost += int((~valid).sum())
            rows = {name: array[valid] for name, array in rows.items()}
        drained = Drained(**{name: rows[name] for name in ROW_NAMES}, lost=lost)
        return drained, end

    def close(self) -> None:
        self._rows = {}
        self._count = None
        self.block.close()
