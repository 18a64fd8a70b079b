"""Python's garbage collector kept out of the control periods.

CPython collects cyclic garbage whenever enough container objects have been allocated: most
collections look at the young objects only and take microseconds, but now and then one
walks every object the process holds. In a control-loop process that has imported numpy,
gymnasium and MuJoCo that is some 50,000 objects and 8-12 ms on this machine: a whole 100 Hz
period, at a moment nobody chose.

:class:`CollectBetweenEpisodes` moves everything that exists once the loop is set up (the
modules, the env, the policy) into the collector's permanent generation (``gc.freeze``),
turns automatic collection off, and collects only when told to: between episodes, when no
command is due. A collection then only walks what the episodes created since the last one,
a fraction of a millisecond.
"""

from __future__ import annotations

import gc
import time
from types import TracebackType


class CollectBetweenEpisodes:
    """A context: on entry, one full collection, then ``gc.freeze()`` and ``gc.disable()``;
    :meth:`collect` between episodes; on exit, automatic collection as it was before and the
    frozen objects back in the collector's care."""

    def __init__(self) -> None:
        self._was_enabled = gc.isenabled()
        self.last_collect_s = 0.0
        """How long the last :meth:`collect` took (seconds)."""

    def __enter__(self) -> CollectBetweenEpisodes:
        self._was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        return self

    def collect(self) -> float:
        """Collect the garbage the episodes made (call it where no command is due); returns
        the time it took in seconds."""
        start = time.perf_counter()
        gc.collect()
        self.last_collect_s = time.perf_counter() - start
        return self.last_collect_s

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        gc.unfreeze()
        if self._was_enabled:
            gc.enable()
