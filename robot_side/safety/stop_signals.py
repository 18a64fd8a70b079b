"""SIGINT, SIGTERM and SIGHUP as one request: stop cleanly, torque off, save what is saved.

Ctrl-C (SIGINT), ``kill`` or a service manager stopping the unit (SIGTERM) and a closed
terminal or a dropped SSH session (SIGHUP) all mean the same to a program that drives a robot:
finish the step, turn torque off, write what must be written, exit. Python's default for
SIGTERM and SIGHUP kills the process on the spot instead, with torque left on. Every command
that moves a motor (deploy, sync and real-time training, the fleet) runs inside
:class:`StopSignals`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType, TracebackType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopNow(KeyboardInterrupt):
    """A second stop signal: stop at once (``finally`` blocks still run: torque goes off)."""


class StopSignals:
    """A context (main thread only) that turns SIGINT, SIGTERM and SIGHUP into a stop request.

    The first signal sets :attr:`requested`; with ``raise_on_first`` it also raises
    :class:`StopNow` where the program is (for code that cannot poll). A second signal raises
    :class:`StopNow` unless ``on_signal`` is given (then it decides, e.g. telling child
    processes to stop at once). ``on_signal(count, signum)`` is called for each one. The
    previous handlers come back on exit. :attr:`exit_code` is the shell's convention for
    the first signal: 128 + its number (130 SIGINT, 143 SIGTERM, 129 SIGHUP), None without one.
    """

    def __init__(self, on_signal: Callable[[int, int], None] | None = None, raise_on_first: bool = False) -> None:
        self.on_signal = on_signal
        self.raise_on_first = raise_on_first
        self.count = 0
        self.first: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.count > 0

    @property
    def exit_code(self) -> int | None:
        return None if self.first is None else 128 + self.first

    @property
    def name(self) -> str | None:
        """The first signal's name (``"SIGTERM"``), None without one."""
        return None if self.first is None else signal.Signals(self.first).name

    def __enter__(self) -> "StopSignals":
        for signum in SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.first is None:
            self.first = signum
        if self.on_signal is not None:
            self.on_signal(self.count, signum)
            return
        if self.count > 1 or self.raise_on_first:
            raise StopNow(signal.Signals(signum).name)


def ignore_in_child() -> None:
    """In a child process of a command that runs inside :class:`StopSignals`: SIGINT and SIGHUP
    (which the terminal sends the whole process group) are the parent's to act on, ignored here;
    SIGTERM stays the child's own stop request (see the callers)."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
