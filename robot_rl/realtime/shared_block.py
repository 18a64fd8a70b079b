"""Named numpy arrays in one ``multiprocessing.shared_memory`` block.

The parent creates the block and passes its picklable :class:`BlockSpec` to the children,
which attach to the same memory. Only the creator unlinks it.
"""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory

import numpy as np

ALIGN = 64  # each array starts on its own cache line


@dataclass(frozen=True)
class BlockSpec:
    """name: the shared memory's name. arrays: (array name, shape, dtype string)."""

    name: str
    arrays: tuple[tuple[str, tuple[int, ...], str], ...]

    def offsets(self) -> tuple[dict[str, int], int]:
        offsets, offset = {}, 0
        for name, shape, dtype in self.arrays:
            offsets[name] = offset
            size = int(np.prod(shape)) * np.dtype(dtype).itemsize
            offset += -(-size // ALIGN) * ALIGN
        return offsets, max(offset, ALIGN)


def start_tracker_deaf_to_hangup() -> None:
    """Start multiprocessing's resource tracker (if it is not running) with SIGHUP ignored.

    The tracker, a process of the run's process group, ignores SIGINT and SIGTERM but not
    SIGHUP: when the terminal closes it would die at once, and the run's clean stop would then
    end in its tracebacks and leak the shared memory. An ignored signal stays ignored across
    the tracker's exec, so it lives until the run unlinks its blocks. (Off the main thread, as
    in a fleet's Ray actor, signals cannot be set: the tracker starts as it would anyway.)"""
    if threading.current_thread() is not threading.main_thread():
        resource_tracker.ensure_running()
        return
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        resource_tracker.ensure_running()
    finally:
        signal.signal(signal.SIGHUP, previous)


class SharedBlock:
    """``SharedBlock.create(arrays)`` in the parent; ``SharedBlock.attach(spec)`` in a child.
    ``block["name"]`` is a numpy view of that array."""

    def __init__(self, spec: BlockSpec, memory: shared_memory.SharedMemory, owner: bool) -> None:
        self.spec = spec
        self.memory = memory
        self.owner = owner
        offsets, _ = spec.offsets()
        self.views = {name: np.ndarray(shape, dtype=np.dtype(dtype), buffer=memory.buf, offset=offsets[name])
                      for name, shape, dtype in spec.arrays}

    @classmethod
    def create(cls, arrays: list[tuple[str, tuple[int, ...], str]]) -> "SharedBlock":
        start_tracker_deaf_to_hangup()
        probe = BlockSpec("", tuple(arrays))
        _, size = probe.offsets()
        memory = shared_memory.SharedMemory(create=True, size=size)
        block = cls(BlockSpec(memory.name, tuple(arrays)), memory, owner=True)
        for view in block.views.values():
            view[...] = 0
        return block

    @classmethod
    def attach(cls, spec: BlockSpec, detached: bool = False) -> "SharedBlock":
        """Spawned children share the parent's resource tracker, which tracks a name once: the
        parent's unlink at the end settles it (the child must not unregister it). A process
        started otherwise (``detached``: a fleet's loop) has a tracker of its own, which would
        unlink the creator's block when it exits: the name is taken off it."""
        memory = shared_memory.SharedMemory(name=spec.name)
        if detached:
            resource_tracker.unregister(memory._name, "shared_memory")  # the name as registered
        return cls(spec, memory, owner=False)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.views[name]

    def close(self) -> None:
        self.views = {}
        try:
            self.memory.close()
        except BufferError:  # a view is still alive somewhere; the OS frees it at exit
            pass
        if self.owner:
            try:
                self.memory.unlink()
            except FileNotFoundError:
                pass
