"""Choose the bus class for a protocol name."""

from __future__ import annotations

from collections.abc import Sequence

from drivers.bus import MotorBus
from drivers.errors import ConfigurationError
from drivers.motor import Motor
from drivers.transport import SerialTransport

PROTOCOLS = ("dynamixel", "feetech")


def bus_class(protocol: str) -> type[MotorBus]:
    if protocol == "dynamixel":
        from drivers.dynamixel.bus import DynamixelBus
        return DynamixelBus
    if protocol == "feetech":
        from drivers.feetech.bus import FeetechBus
        return FeetechBus
    raise ConfigurationError(f"unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")


def make_bus(protocol: str, port: str | SerialTransport, motors: Sequence[Motor] = (), **kwargs: object) -> MotorBus:
    """A bus of ``protocol`` on ``port``; ``kwargs`` go to the bus (baud, retries, ...)."""
    return bus_class(protocol)(port, motors, **kwargs)
