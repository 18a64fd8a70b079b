"""Has a process died? The control loop watches its supervisor, a fleet's robot actor its loop.

The control loop stops safely (torque off) when its supervisor is gone, since nobody would
ever stop it otherwise. In the single-machine mode the supervisor is the parent: when it
dies, the loop is re-parented and ``os.getppid`` changes. A fleet's robot actor starts its
loop detached (see :mod:`robot_rl.fleet.detached_loop`), because Ray kills a worker's child
processes with SIGKILL when it ends the worker, which would leave a robot commanded with
torque on; that loop watches the actor's pid instead, through a pidfd, which becomes readable
the moment the process exits (a zombie included), in a microsecond-cheap poll.
"""

from __future__ import annotations

import os
import select


class ProcessWatch:
    """``gone()``: whether process ``pid`` (None: this process's parent) has exited. Works for
    any process, not only children (a pidfd)."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.parent = os.getppid()
        self._fd: int | None = None
        if pid is not None:
            try:
                self._fd = os.pidfd_open(pid)
            except ProcessLookupError:
                self._fd = -1  # already gone

    def gone(self) -> bool:
        if self._fd is None:
            return os.getppid() != self.parent
        if self._fd < 0:
            return True
        readable, _, _ = select.select([self._fd], [], [], 0)
        return bool(readable)

    def describe(self) -> str:
        return "the parent process" if self.pid is None else f"its supervisor (pid {self.pid})"

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
        self._fd = None
