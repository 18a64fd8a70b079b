"""The control loop's garbage collection: none inside an episode, all of it between episodes."""

from __future__ import annotations

import gc
import weakref

from robot_side.gc_pauses import CollectBetweenEpisodes


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


def test_no_automatic_collection_inside_and_garbage_collected_between_episodes() -> None:
    assert gc.isenabled()
    with CollectBetweenEpisodes() as collector:
        assert not gc.isenabled() and gc.get_freeze_count() > 0  # the set-up objects are frozen
        refs = [cycle() for _ in range(5_000)]  # enough allocations to trigger collections if enabled
        assert all(r() is not None for r in refs), "collected inside an episode"
        collector.collect()
        assert all(r() is None for r in refs), "cyclic garbage survived the collection between episodes"
        assert collector.last_collect_s > 0.0
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_collector_left_as_it_was_when_it_was_off() -> None:
    gc.disable()
    try:
        with CollectBetweenEpisodes():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
