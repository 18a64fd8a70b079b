"""Counters and flags the three processes share (float64 slots in shared memory).

Each slot has exactly one writer: the control loop writes the ``actor_*`` slots, its overrun
count and largest period error; the learner the ``learner_*`` and ``resume_*`` slots; the
parent the ``stop`` flags, ``learner_dead``, ``actor_exited``, the loop's timing percentiles
(from the shared timing rows) and the start step before the loop runs.
"""

from __future__ import annotations

import enum
import logging

import numpy as np

from robot_rl.realtime.loop_timing import COLUMNS, SUMMARY_ROWS, TimingFileWriter, newest_rows, window_summary
from robot_rl.realtime.shared_block import BlockSpec, SharedBlock


class Slot(enum.IntEnum):
    STOP = 0  # parent: 1 = finish cleanly, 2 = stop at once (second Ctrl-C)
    LOOP_STALE_READS = 1  # loop: periods whose state read failed (the last command held; SafeRobot.read)
    ACTOR_STEPS = 2
    ACTOR_EPISODES = 3
    ACTOR_HEARTBEAT_S = 4
    ACTOR_STATE = 5  # see ActorState
    ACTOR_WEIGHT_VERSION = 6
    ACTOR_LAST_RETURN = 7
    ACTOR_LAST_SUCCESS = 8
    LOOP_PERIOD_ERR_P50_S = 9  # parent: over the newest timing rows, once a second
    LOOP_PERIOD_ERR_P99_S = 10  # parent
    LOOP_PERIOD_ERR_MAX_S = 11  # loop: the run's largest
    LOOP_LATENCY_P99_S = 12  # parent
    LOOP_OVERRUNS = 13  # loop: the run's count
    LOOP_COMPUTE_P99_S = 14  # parent
    WATCHDOG_FIRED = 15
    LEARNER_UPDATES = 16
    LEARNER_HEARTBEAT_S = 17
    LEARNER_STATE = 18  # see LearnerState
    LEARNER_PUBLISHED_VERSION = 19
    LEARNER_DEAD = 20  # parent: the learner process died; the loop applies its policy
    EVAL_RETURN = 21
    EVAL_SUCCESS = 22
    EVAL_COUNT = 23
    RING_LOST = 24
    RESUME_RESTORED = 25  # learner: transitions put back from the run directory on --resume
    RESUME_LOST = 26  # learner: transitions of the run that were not on disk (the unflushed tail)
    ACTOR_EXITED = 27  # parent: the control-loop process has exited (however it ended)
    LEARNER_EARNING_STEPS = 28  # learner: steps that earned updates this session (the ratio's denominator)
    HUMAN_KEY_TAKEOVER = 29  # parent: 1 while the operator's key (space, a pedal) says they drive


log = logging.getLogger("robot_rl.async")
N_SLOTS = 32
LOOP_TIMING_ROWS = 16_384  # the loop's timing ring: seconds of steps between the parent's drains


class ActorState(enum.IntEnum):
    STARTING = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3  # device lost or another error: motors made safe


class LearnerState(enum.IntEnum):
    STARTING = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3


class StatusBoard:
    """``board[Slot.X]`` reads and writes a slot. ``loop_timing`` / ``loop_timing_count``: the
    control loop's per-step timing rows, a ring the loop writes (see
    :class:`~robot_rl.realtime.loop_timing.TimingRecorder`) and the parent drains into files and
    summarises, off the loop's critical path."""

    def __init__(self, block: SharedBlock) -> None:
        self.block = block
        self.slots = block["slots"]
        self.loop_timing = block["loop_timing"]
        self.loop_timing_count = block["loop_timing_count"]

    @classmethod
    def create(cls) -> "StatusBoard":
        return cls(SharedBlock.create([("slots", (N_SLOTS,), "float64"),
                                       ("loop_timing", (LOOP_TIMING_ROWS, len(COLUMNS)), "float64"),
                                       ("loop_timing_count", (8,), "int64")]))

    @classmethod
    def attach(cls, spec: BlockSpec, detached: bool = False) -> "StatusBoard":
        return cls(SharedBlock.attach(spec, detached))

    @property
    def spec(self) -> BlockSpec:
        return self.block.spec

    def __getitem__(self, slot: Slot) -> float:
        return float(self.slots[slot])

    def __setitem__(self, slot: Slot, value: float) -> None:
        self.slots[slot] = value

    def add(self, slot: Slot, value: float = 1.0) -> None:
        self.slots[slot] += value

    def summarise_timing(self, timing: TimingFileWriter) -> None:
        """The loop's recent timing percentiles into their slots (the loop only records rows;
        its supervisor, the async mode's parent or a fleet's robot actor, calls this about once
        a second)."""
        summary = window_summary(newest_rows(self.loop_timing, int(self.loop_timing_count[0]), SUMMARY_ROWS))
        if summary:
            self[Slot.LOOP_PERIOD_ERR_P50_S] = summary["period_error_p50_s"]
            self[Slot.LOOP_PERIOD_ERR_P99_S] = summary["period_error_p99_s"]
            self[Slot.LOOP_LATENCY_P99_S] = summary["latency_p99_s"]
            self[Slot.LOOP_COMPUTE_P99_S] = summary["compute_p99_s"]
        if timing.lost:
            log.warning("%d timing rows of the control loop were lost (its supervisor fell behind)", timing.lost)
            timing.lost = 0

    def snapshot(self) -> dict[str, float]:
        return {slot.name.lower(): float(self.slots[slot]) for slot in Slot}

    def close(self) -> None:
        self.slots = np.zeros(0)
        self.loop_timing = self.loop_timing_count = np.zeros(0)
        self.block.close()
