"""The watchdog: outside the control loop's code path, it makes the robot safe when no
command has been written for too long (the loop froze, a call hung).

Stage 1, after ``hold_after_s`` without a command: hold the present position. Stage 2,
``torque_off_after_s`` later: torque off. It runs as a thread of the loop's process and talks
to the robot through the same (locked) bus. Dynamixel servos also offer a Bus Watchdog
register that stops a servo on its own when the bus goes quiet; see docs/realtime.md.

While the loop deliberately sends nothing (a scripted reset motion, waiting for the learner
between episodes) it suspends the watchdog; the servos hold their last goal meanwhile.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from robot_side.errors import WatchdogTrippedError

__all__ = ["Watchdog", "WatchdogTrippedError"]

log = logging.getLogger(__name__)


class Watchdog:
    """hold / torque_off: the robot's two safe actions (called from the watchdog's thread).
    hold_after_s: quiet time before holding; torque_off_after_s: further quiet time before torque
    off. on_fire(stage): told ``"hold"`` or ``"torque_off"`` as each stage fires. ``torque_cut``
    stays True once torque was turned off: the loop must then stop rather than command a limp robot."""

    def __init__(self, hold: Callable[[], None], torque_off: Callable[[], None], hold_after_s: float,
                 torque_off_after_s: float, on_fire: Callable[[str], None] | None = None) -> None:
        self.hold = hold
        self.torque_off = torque_off
        self.hold_after_s = hold_after_s
        self.torque_off_after_s = torque_off_after_s
        self.on_fire = on_fire
        self.last_command_s = time.monotonic()
        self.stage = 0
        self.torque_cut = False  # sticky: once the watchdog turned torque off, the loop must stop
        self._suspended = 0  # depth of nested suspensions
        self._lock = threading.Lock()  # a stage never fires half-way into a suspension
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> "Watchdog":
        self.last_command_s = time.monotonic()
        self._thread.start()
        return self

    def kick(self) -> None:
        """The loop wrote a command."""
        self.last_command_s = time.monotonic()
        self.stage = 0

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """No checks inside (the loop is not meant to command then); the clock restarts after
        the outermost one (they nest: the env's reset motion inside the loop's pause)."""
        with self._lock:
            self._suspended += 1
        try:
            yield
        finally:
            self.kick()
            with self._lock:
                self._suspended -= 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        poll = max(self.hold_after_s / 5, 0.001)
        while not self._stop.wait(poll):
            with self._lock:
                if not self._suspended:
                    self._check(time.monotonic() - self.last_command_s)

    def _check(self, quiet: float) -> None:
        try:
            if self.stage == 0 and quiet > self.hold_after_s:
                self.stage = 1
                log.error("watchdog: no command for %.1f ms: holding position", quiet * 1e3)
                self._notify("hold")
                self.hold()
            elif self.stage == 1 and quiet > self.hold_after_s + self.torque_off_after_s:
                self.stage = 2
                self.torque_cut = True
                log.error("watchdog: still no command after %.1f ms: torque off", quiet * 1e3)
                self._notify("torque_off")
                self.torque_off()
        except Exception as exc:  # noqa: BLE001 - the watchdog must keep watching
            log.error("watchdog: could not make the robot safe: %s", exc)

    def _notify(self, what: str) -> None:
        if self.on_fire is not None:
            self.on_fire(what)
