"""Keys from the terminal, one press at a time: the fallback for pausing and taking over.

``KeyboardKeys`` puts the terminal in cbreak mode (a key arrives without Enter, Ctrl-C still
signals) and reads it in a thread that sleeps in ``select``: a press toggles that key's flag.
A foot pedal is a USB keyboard sending one key, so it works the same. Without a terminal
(a service, a pipe, a test's subprocess) it reads nothing and every flag stays off. The
terminal's settings are put back on ``close``, whatever happened.

Keys: ``space`` pauses teleoperation, or takes over from the policy during real-time
training; pressed again, hands back.
"""

from __future__ import annotations

import logging
import os
import select
import sys
import termios
import threading
import tty
from types import TracebackType

log = logging.getLogger(__name__)
SPACE = " "


class KeyboardKeys:
    """Toggle flags of the keys pressed on terminal ``fd`` (default: standard input)."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = fd if fd is not None else (sys.stdin.fileno() if sys.stdin is not None else -1)
        self.available = False
        self._saved: list | None = None
        self._toggled: dict[str, bool] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.presses = 0

    def open(self) -> "KeyboardKeys":
        try:
            if self.fd < 0 or not os.isatty(self.fd):
                return self
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        except (OSError, termios.error) as exc:
            log.info("keyboard: not read (%s)", exc)
            return self
        self.available = True
        self._thread = threading.Thread(target=self._read, name="keyboard", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except (OSError, termios.error):
                pass
            self._saved = None
        self.available = False

    def __enter__(self) -> "KeyboardKeys":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def toggled(self, key: str) -> bool:
        """Whether ``key`` was pressed an odd number of times."""
        return self._toggled.get(key, False)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if not ready:
                    continue
                data = os.read(self.fd, 32)
            except OSError:
                return
            if not data:
                return
            for key in data.decode(errors="replace"):
                self._toggled[key] = not self._toggled.get(key, False)
                self.presses += 1
