"""Named motors on a bus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Motor:
    """One servo on a bus: ``name`` as the robot config calls it, bus ``id``, ``model``
    (a key of the protocol's ``MODELS`` table, e.g. ``"XM430-W350"`` or ``"STS3215"``)."""

    name: str
    id: int
    model: str


@dataclass(frozen=True)
class PingResult:
    """What a motor says about itself when pinged."""

    id: int
    model_number: int
    firmware: str
    model: str | None  # None when the model number is not in our tables
    baud: int

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "model": self.model or f"unknown({self.model_number})",
                "model_number": self.model_number, "firmware": self.firmware, "baud": self.baud}
