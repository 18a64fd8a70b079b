"""The servos on one emulated bus, found by their current id among those listening at the
client's baud, and the ``Reply`` a protocol handler returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from drivers.emulator.servo import VirtualServo


class Reply(NamedTuple):
    """One status packet as its servo sends it, after ``delay_s`` (its return delay)."""

    data: bytes
    delay_s: float


class ServoSet:
    """Every servo of a bus, in the order of the bus's servo list (the plant's order).

    Lookups are by the id the servo's ID register holds now, so a client that rewrites an id
    finds the servo under the new one. Two servos with one id both answer, as on a real bus
    (where their replies would collide).
    """

    def __init__(self, servos: Sequence[VirtualServo]) -> None:
        self.servos = tuple(servos)
        self._views: dict[int | None, tuple[dict[int, list[VirtualServo]], list[VirtualServo]]] = {}
        for servo in self.servos:
            servo.on_identity_change = self._views.clear

    def listening(self, client_baud: int | None) -> tuple[dict[int, list[VirtualServo]], list[VirtualServo]]:
        """``(by id, all in id order)`` of the servos whose baud is ``client_baud``; every
        servo when ``client_baud`` is None. The result is cached until an id or baud changes."""
        view = self._views.get(client_baud)
        if view is None:
            listening = [s for s in self.servos if client_baud is None or s.baud == client_baud]
            listening.sort(key=lambda s: s.id)
            by_id: dict[int, list[VirtualServo]] = {}
            for servo in listening:
                by_id.setdefault(servo.id, []).append(servo)
            view = self._views[client_baud] = (by_id, listening)
        return view

    def by_current_id(self, motor_id: int) -> list[VirtualServo]:
        """Servos whose ID register holds ``motor_id``, whatever their baud."""
        return [s for s in self.servos if s.id == motor_id]
