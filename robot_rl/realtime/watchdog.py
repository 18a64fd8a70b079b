"""The watchdog: outside the control loop's code path, it makes the robot safe when no
command has been written for too long (the loop froze, a call hung).

Stage 1, after ``hold_after_s`` without a command: hold the present position. Stage 2,
``torque_off_after_s`` later: torque off. It runs as a thread of the loop's process and talks
to the robot through the same (locked) bus. Dynamixel servos also offer a Bus Watchdog
register that stops a servo on its own when the bus goes quiet; see docs/realtime.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, hold: Callable[[], None], torque_off: Callable[[], None], hold_after_s: float,
                 torque_off_after_s: float, on_fire: Callable[[str], None] | None = None) -> None:
        self.hold = hold
        self.torque_off = torque_off
        self.hold_after_s = hold_after_s
        self.torque_off_after_s = torque_off_after_s
        self.on_fire = on_fire
        self.last_command_s = time.monotonic()
        self.stage = 0
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

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        poll = max(self.hold_after_s / 5, 0.001)
        while not self._stop.wait(poll):
            quiet = time.monotonic() - self.last_command_s
            try:
                if self.stage == 0 and quiet > self.hold_after_s:
                    self.stage = 1
                    log.error("watchdog: no command for %.1f ms: holding position", quiet * 1e3)
                    self._notify("hold")
                    self.hold()
                elif self.stage == 1 and quiet > self.hold_after_s + self.torque_off_after_s:
                    self.stage = 2
                    log.error("watchdog: still no command after %.1f ms: torque off", quiet * 1e3)
                    self._notify("torque_off")
                    self.torque_off()
            except Exception as exc:  # noqa: BLE001 - the watchdog must keep watching
                log.error("watchdog: could not make the robot safe: %s", exc)

    def _notify(self, what: str) -> None:
        if self.on_fire is not None:
            self.on_fire(what)
