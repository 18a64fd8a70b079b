"""Fault injection for the emulated bus: corrupted and dropped replies, late replies, a lost port.

Every random decision comes from one seeded generator, so a run with the same seed and the
same sequence of requests sees the same faults.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from drivers.errors import ConfigurationError


@dataclass(frozen=True)
class FaultConfig:
    """What goes wrong on the emulated bus. The defaults inject nothing.

    corrupt_probability: chance that a status packet (one servo's reply; the whole combined
        packet of a fast sync/bulk read) has one byte flipped, so the client sees a bad CRC,
        checksum, header or length.
    drop_probability: chance that a status packet is not sent at all (checked before
        corruption; a dropped packet is never also counted as corrupted).
    extra_delay_s: added to every reply's time on top of return delay and wire time.
    disconnect_after_packets: after this many request packets have been handled, the next
        request makes the emulator close the port, as an unplugged adapter would.
    seed: seed of the generator; None draws one from the operating system.
    """

    corrupt_probability: float = 0.0
    drop_probability: float = 0.0
    extra_delay_s: float = 0.0
    disconnect_after_packets: int | None = None
    seed: int | None = 0

    def __post_init__(self) -> None:
        for name in ("corrupt_probability", "drop_probability"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise ConfigurationError(f"FaultConfig.{name} must be within 0..1, got {value!r}")
        if not (math.isfinite(self.extra_delay_s) and self.extra_delay_s >= 0.0):
            raise ConfigurationError(f"FaultConfig.extra_delay_s must be >= 0, got {self.extra_delay_s!r}")
        if self.disconnect_after_packets is not None and self.disconnect_after_packets < 0:
            raise ConfigurationError(
                f"FaultConfig.disconnect_after_packets must be >= 0, got {self.disconnect_after_packets!r}")

    @property
    def active(self) -> bool:
        return bool(self.corrupt_probability or self.drop_probability)


class FaultInjector:
    """Applies a :class:`FaultConfig` to outgoing status packets and counts what it did."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        self.dropped = 0
        self.corrupted = 0

    def apply(self, reply: bytes) -> bytes | None:
        """The packet as sent: ``reply`` unchanged, with one byte flipped, or None (dropped)."""
        config = self.config
        if config.drop_probability and self._rng.random() < config.drop_probability:
            self.dropped += 1
            return None
        if config.corrupt_probability and self._rng.random() < config.corrupt_probability:
            self.corrupted += 1
            buf = bytearray(reply)
            index = self._rng.randrange(len(buf))
            buf[index] ^= self._rng.randrange(1, 256)
            return bytes(buf)
        return reply
