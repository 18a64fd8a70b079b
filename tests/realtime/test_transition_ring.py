"""The shared transition ring: order, wrap-around, and rows overwritten before a drain counted lost."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from robot_rl.realtime.transition_ring import TransitionRing

OBS, ACT = 3, 2


@pytest.fixture
def ring() -> Iterator[TransitionRing]:
    ring = TransitionRing.create(8, OBS, ACT)
    yield ring
    ring.close()


def push(ring: TransitionRing, k: int) -> None:
    """Transition number ``k``: every field derived from k, so a mixed-up row shows."""
    ring.push(np.full(OBS, k, np.float32), np.full(ACT, -k, np.float32), float(k), np.full(OBS, k + 0.5, np.float32),
              k % 5 == 4, False, weight_version=k // 3, episode=k // 5)


def check(drained, ks: list[int]) -> None:
    assert drained.reward.tolist() == [float(k) for k in ks]
    np.testing.assert_array_equal(drained.obs[:, 0], ks)
    np.testing.assert_array_equal(drained.action[:, 1], [-k for k in ks])
    np.testing.assert_array_equal(drained.next_obs[:, 2], [k + 0.5 for k in ks])
    assert drained.terminated.tolist() == [k % 5 == 4 for k in ks]
    assert drained.weight_version.tolist() == [k // 3 for k in ks]
    assert drained.episode.tolist() == [k // 5 for k in ks]


def test_push_then_drain_in_order_with_limit(ring: TransitionRing) -> None:
    for k in range(5):
        push(ring, k)
    drained, position = ring.drain(0, limit=3)
    check(drained, [0, 1, 2])
    assert position == 3 and drained.lost == 0
    drained, position = ring.drain(position)
    check(drained, [3, 4])
    assert position == 5 == ring.written
    drained, position = ring.drain(position)
    assert len(drained) == 0 and position == 5


def test_wrap_around_keeps_every_row(ring: TransitionRing) -> None:
    position = 0
    for k in range(30):  # almost four times round the ring of 8, drained every 6
        push(ring, k)
        if k % 6 == 5:
            drained, position = ring.drain(position)
            check(drained, list(range(k - 5, k + 1)))
            assert drained.lost == 0


def test_rows_overwritten_before_the_drain_are_lost_not_used(ring: TransitionRing) -> None:
    for k in range(20):
        push(ring, k)
    drained, position = ring.drain(0)
    assert drained.lost == 12  # rows 0..11 were overwritten by 8..19
    check(drained, list(range(12, 20)))
    assert position == 20


def test_a_row_being_overwritten_during_the_copy_is_dropped(ring: TransitionRing) -> None:
    for k in range(8):
        push(ring, k)
    # The producer laps the consumer on row 3 while it copies: the stamp no longer matches.
    ring._rows["stamp"][3] = 11
    drained, _ = ring.drain(0)
    assert drained.lost == 1
    check(drained, [0, 1, 2, 4, 5, 6, 7])


def test_a_second_handle_sees_the_same_memory(ring: TransitionRing) -> None:
    other = TransitionRing.attach(ring.spec)
    try:
        push(ring, 7)
        drained, _ = other.drain(0)
        check(drained, [7])
    finally:
        other.close()


def test_rows_pushed_from_another_ring_keep_their_fields_and_actor(ring: TransitionRing) -> None:
    """A fleet's learner pushes the robots' drained batches into its own ring."""
    source = TransitionRing.create(16, OBS, ACT)
    try:
        for k in range(6):
            push(source, k)
        batch, _ = source.drain(0)
        batch.actor[:] = 3
        ring.push_rows(batch)
        drained, position = ring.drain(0)
        check(drained, list(range(6)))
        assert drained.actor.tolist() == [3] * 6 and position == 6 and drained.lost == 0
        for k in range(6, 16):
            push(source, k)
        batch, _ = source.drain(6)  # ten rows into a ring of eight: the two oldest are lost
        ring.push_rows(batch)
        drained, position = ring.drain(6)
        check(drained, list(range(8, 16)))
        assert drained.lost == 2 and position == 16 and drained.actor.tolist() == [0] * 8
    finally:
        source.close()
