"""``ServoSpec``: one emulated servo as a test or the command line describes it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers.emulator.servo_model import ServoParams
from drivers.errors import ConfigurationError

MAX_ID = 252


@dataclass(frozen=True)
class ServoSpec:
    """An emulated servo at power-on.

    id: its bus id (0..252). model: a model name of the bus's protocol, for example
        ``"XM430-W350"`` or ``"STS3215"``.
    initial_position_rad: encoder angle of the shaft at power-on (pi rad = tick 2048, the
        middle of the range).
    return_delay_s: value of the Return Delay Time register (2 us units, 0..508 us); None keeps
        the model's factory default (500 us on the Dynamixel X series, 0 on the STS3215).
    status_return_level: None keeps the factory default (Dynamixel 2: reply to everything;
        Feetech 1: reply to everything).
    params: the servo's mechanics; None uses the model's defaults
        (:data:`drivers.emulator.servo_model.SERVO_PARAMS`).
    """

    id: int
    model: str
    initial_position_rad: float = math.pi
    return_delay_s: float | None = None
    status_return_level: int | None = None
    params: ServoParams | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.id, int) and 0 <= self.id <= MAX_ID):
            raise ConfigurationError(f"servo id {self.id!r} is out of range 0..{MAX_ID}")
        if not math.isfinite(self.initial_position_rad):
            raise ConfigurationError(f"servo {self.id}: initial_position_rad must be finite")
        if self.return_delay_s is not None and not 0.0 <= self.return_delay_s <= 254 * 2e-6:
            raise ConfigurationError(
                f"servo {self.id}: return_delay_s {self.return_delay_s!r} is outside 0..508e-6 s")

    @property
    def return_delay_raw(self) -> int | None:
        """The Return Delay Time register value (2 us units) or None for the default."""
        return None if self.return_delay_s is None else round(self.return_delay_s / 2e-6)
