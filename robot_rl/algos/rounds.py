"""Several updates given at once (``update_many``), run in rounds of one compiled graph each.

A compiled update costs its arithmetic plus a fixed price per call: the Python around it,
dynamo's guards, the entry into the graph. A round runs several consecutive updates in one
graph and pays that price once. Same arithmetic, same random numbers, same order as one
``update`` each; the learners check that their rounds leave them exactly where the single
updates would (``tests/algos``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from robot_rl.algos.batch import Batch

Metrics = dict[str, float]


def update_in_rounds(batches: Sequence[Batch], size: int, round_starts_here: Callable[[], bool],
                     update_one: Callable[[Batch], Metrics],
                     update_round: Callable[[Sequence[Batch]], list[Metrics]]) -> Metrics:
    """Each batch updated once, in order: ``size`` at a time by ``update_round`` wherever
    ``round_starts_here()`` and that many are left, otherwise one by ``update_one``.

    Returns each metric averaged over the updates that reported it."""
    sums: Metrics = {}
    counts: dict[str, int] = {}
    i = 0
    while i < len(batches):
        if len(batches) - i >= size > 1 and round_starts_here():
            results = update_round(batches[i:i + size])
            i += size
        else:
            results = [update_one(batches[i])]
            i += 1
        for result in results:
            for key, value in result.items():
                sums[key] = sums.get(key, 0.0) + value
                counts[key] = counts.get(key, 0) + 1
    return {key: sums[key] / counts[key] for key in sums}
