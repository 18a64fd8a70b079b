"""Typed errors of the hardware abstraction layer.

Every failure the drivers can meet at run time is one of these, raised ``from`` its cause,
so callers can decide by type: retry a transient bus error, stop on a lost port, fix the
configuration on a :class:`ConfigurationError` (raised before any byte is sent).
"""

from __future__ import annotations


class DriverError(Exception):
    """Base of every error raised by ``drivers``."""


class ConfigurationError(DriverError, ValueError):
    """Bad input found before anything was sent: id out of range, unknown register,
    value outside a register's range, wrong model in a config, malformed calibration."""


class TransportError(DriverError, OSError):
    """The serial port could not be opened, configured, read or written."""


class PortNotFoundError(TransportError):
    """The device path or URL does not name a port that exists."""


class PortLostError(TransportError):
    """The port went away while open (adapter unplugged, emulator stopped)."""


class EmulatorError(DriverError):
    """The emulated servo bus could not start, was used while stopped, or its serving thread
    failed (the original exception is the ``__cause__``)."""


class BusError(DriverError):
    """A transaction on an open bus failed. ``motor_id`` names the motor when known."""

    def __init__(self, message: str, motor_id: int | None = None) -> None:
        super().__init__(message)
        self.motor_id = motor_id


class TransientBusError(BusError):
    """A failure that a retry may cure: noise, a lost byte, a late reply."""


class BusTimeoutError(TransientBusError, TimeoutError):
    """No complete reply arrived before the deadline computed from baud and size."""


class ChecksumError(TransientBusError):
    """A reply arrived whole but its checksum (Feetech) or CRC-16 (Dynamixel) is wrong."""


class MalformedReplyError(TransientBusError):
    """A reply with a bad header, the wrong id, length or instruction."""


class StatusError(BusError):
    """The motor answered with an error in its status packet.

    ``flags`` is the tuple of decoded flag names, for example ``("ACCESS",)`` or
    ``("OVERLOAD", "OVERHEATING")``.
    """

    def __init__(self, message: str, motor_id: int, flags: tuple[str, ...]) -> None:
        super().__init__(message, motor_id)
        self.flags = flags


class HardwareFaultError(StatusError):
    """The motor reports a hardware fault (overload, overheating, voltage, encoder,
    electrical shock). The motor usually switches its torque off by itself."""
