"""Control-table registers as typed constants: address, size, sign encoding and unit scale.

A :class:`Register` converts between the integer a motor stores (``raw``), the bytes on
the wire (little-endian for both Dynamixel 2.0 and Feetech STS) and SI units.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from drivers.errors import ConfigurationError


class Area(enum.Enum):
    EEPROM = "eeprom"  # persistent; writable only while torque is off
    RAM = "ram"


class Access(enum.Enum):
    R = "r"
    RW = "rw"


class Encoding(enum.Enum):
    UNSIGNED = "unsigned"
    TWOS_COMPLEMENT = "twos_complement"  # Dynamixel signed registers
    SIGN_MAGNITUDE = "sign_magnitude"  # Feetech: one bit (``sign_bit``) holds the sign


@dataclass(frozen=True)
class Register:
    """One entry of a control table.

    ``scale`` is the SI value of one count in ``unit`` (for example 2*pi/4096 rad per tick);
    ``unit`` is empty for plain integers. ``min_raw``/``max_raw`` bound what may be written.
    """

    name: str
    address: int
    size: int
    area: Area
    access: Access = Access.RW
    encoding: Encoding = Encoding.UNSIGNED
    sign_bit: int = 0
    unit: str = ""
    scale: float = 1.0
    min_raw: int | None = None
    max_raw: int | None = None

    # -- raw <-> bytes ---------------------------------------------------------------------
    @cached_property
    def raw_limits(self) -> tuple[int, int]:
        """The representable range, narrowed by ``min_raw``/``max_raw`` when set."""
        bits = 8 * self.size
        if self.encoding is Encoding.UNSIGNED:
            lo, hi = 0, (1 << bits) - 1
        elif self.encoding is Encoding.TWOS_COMPLEMENT:
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            lo, hi = -((1 << self.sign_bit) - 1), (1 << self.sign_bit) - 1
        return (lo if self.min_raw is None else max(lo, self.min_raw),
                hi if self.max_raw is None else min(hi, self.max_raw))

    def check_raw(self, raw: int, motor_id: int | None = None) -> int:
        lo, hi = self.raw_limits
        if not lo <= raw <= hi:
            who = f" of motor {motor_id}" if motor_id is not None else ""
            raise ConfigurationError(
                f"value {raw} is outside register {self.name}{who}: allowed {lo}..{hi}")
        return raw

    def encode(self, raw: int) -> bytes:
        """Little-endian bytes of ``raw``; raises :class:`ConfigurationError` if out of range."""
        raw = self.check_raw(int(raw))
        if self.encoding is Encoding.SIGN_MAGNITUDE and raw < 0:
            word = (-raw) | (1 << self.sign_bit)
        else:
            word = raw & ((1 << (8 * self.size)) - 1)
        return word.to_bytes(self.size, "little")

    def decode(self, data: bytes) -> int:
        word = int.from_bytes(data[: self.size], "little")
        if self.encoding is Encoding.TWOS_COMPLEMENT and word >> (8 * self.size - 1):
            return word - (1 << (8 * self.size))
        if self.encoding is Encoding.SIGN_MAGNITUDE and word >> self.sign_bit & 1:
            return -(word & ((1 << self.sign_bit) - 1))
        return word

    # -- vectorized, for group reads and writes --------------------------------------------
    @cached_property
    def _word_dtype(self) -> np.dtype | None:
        """The numpy dtype of one value on the wire, when numpy has one (sizes 1, 2, 4)."""
        if self.size not in (1, 2, 4):
            return None
        return np.dtype(f"<{'i' if self.encoding is Encoding.TWOS_COMPLEMENT else 'u'}{self.size}")

    @cached_property
    def _signed_word_dtype(self) -> np.dtype | None:
        """The signed numpy dtype of the register's size (sizes 1, 2, 4), for encoding."""
        return np.dtype(f"<i{self.size}") if self.size in (1, 2, 4) else None

    @cached_property
    def word_format(self) -> str | None:
        """The ``struct`` code of one value on the wire (sizes 1, 2, 4; signed for two's
        complement), or None for other sizes. Sign-magnitude words are read unsigned and
        converted by :meth:`decode_words`."""
        if self.size not in (1, 2, 4):
            return None
        code = {1: "B", 2: "H", 4: "I"}[self.size]
        return code.lower() if self.encoding is Encoding.TWOS_COMPLEMENT else code

    def decode_words(self, words: Sequence[int]) -> list[int]:
        """Raw values from words unpacked with :attr:`word_format` (the group-read path).

        Plain Python: for a bus's dozen values it costs less than array operations, and it
        runs between a reply and the next command."""
        if self.encoding is not Encoding.SIGN_MAGNITUDE:
            return list(words)
        bit = 1 << self.sign_bit
        return [-(w & (bit - 1)) if w & bit else w for w in words]

    def encode_words(self, raw: Sequence[int], motor_ids: Sequence[int] | None = None) -> list[int]:
        """Words to pack with :attr:`word_format` from raw values; raises naming the first
        motor out of range (the group-write path, plain Python as :meth:`decode_words`)."""
        lo, hi = self.raw_limits
        if raw and (min(raw) < lo or max(raw) > hi):
            i = next(i for i, r in enumerate(raw) if not lo <= r <= hi)
            self.check_raw(int(raw[i]), motor_ids[i] if motor_ids else None)
        if self.encoding is not Encoding.SIGN_MAGNITUDE:
            return list(raw)
        bit = 1 << self.sign_bit  # in range, so -r | sign bit == sign bit - r
        return [bit - r if r < 0 else r for r in raw]

    def decode_array(self, block: np.ndarray) -> np.ndarray:
        """``block``: uint8 array (n_motors, size) -> int64 raw values (n_motors,)."""
        block = np.ascontiguousarray(block, dtype=np.uint8)
        signed = self.encoding is Encoding.TWOS_COMPLEMENT
        if self._word_dtype is not None:
            words = block.view(self._word_dtype).reshape(-1).astype(np.int64)
        else:
            words = np.zeros(block.shape[0], dtype=np.int64)
            for i in range(self.size):
                words |= block[:, i].astype(np.int64) << (8 * i)
            if signed:
                top = np.int64(1) << (8 * self.size - 1)
                words = np.where(words & top, words - (top << 1), words)
        if self.encoding is Encoding.SIGN_MAGNITUDE:
            bit = 1 << self.sign_bit
            words = np.where(words & bit, -(words & (bit - 1)), words)
        return words

    def encode_array(self, raw: np.ndarray, motor_ids: Sequence[int] | None = None) -> np.ndarray:
        """int raw values (n,) -> uint8 (n, size); raises naming the first motor out of range."""
        raw = np.asarray(raw, dtype=np.int64)
        lo, hi = self.raw_limits
        # The ufuncs' own reductions: ndarray.min/max add a Python-level wrapper per call.
        if raw.size and (np.minimum.reduce(raw) < lo or np.maximum.reduce(raw) > hi):
            i = int(np.flatnonzero((raw < lo) | (raw > hi))[0])
            self.check_raw(int(raw[i]), motor_ids[i] if motor_ids else None)
        if self.encoding is Encoding.SIGN_MAGNITUDE:  # in range, so -raw | sign bit == sign bit - raw
            raw = np.where(raw < 0, (1 << self.sign_bit) - raw, raw)
        if self._signed_word_dtype is not None:
            # Two's complement wraps naturally in the cast; values were range-checked above.
            return raw.astype(self._signed_word_dtype).view(np.uint8).reshape(-1, self.size)
        words = raw & ((np.int64(1) << (8 * self.size)) - 1)
        return np.stack([(words >> (8 * i)) & 0xFF for i in range(self.size)], axis=1).astype(np.uint8)

    # -- raw <-> SI --------------------------------------------------------------------------
    def to_si(self, raw: np.ndarray | int) -> np.ndarray | float:
        return np.asarray(raw, dtype=np.float64) * self.scale

    def from_si(self, value: np.ndarray | float) -> np.ndarray:
        return np.rint(np.asarray(value, dtype=np.float64) / self.scale).astype(np.int64)


class ControlTable:
    """The registers of one servo model, looked up by name with a clear error."""

    def __init__(self, model: str, model_number: int, registers: list[Register], *,
                 ticks_per_turn: int = 4096, homing_offset_sign: int = 1,
                 baud_rates: dict[int, int] | None = None,
                 torque_constant_nm_per_a: float | None = None) -> None:
        self.model = model
        self.model_number = model_number
        self.ticks_per_turn = ticks_per_turn
        # +1: present = actual + offset (Dynamixel); -1: present = actual - offset (Feetech).
        self.homing_offset_sign = homing_offset_sign
        self.baud_rates = dict(baud_rates or {})  # register value -> baud
        self.torque_constant_nm_per_a = torque_constant_nm_per_a
        self._by_name = {r.name: r for r in registers}
        if len(self._by_name) != len(registers):
            raise ValueError(f"{model}: duplicate register names")

    def __getitem__(self, name: str) -> Register:
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"{self.model} has no register {name!r}; known: {', '.join(sorted(self._by_name))}"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __iter__(self):
        return iter(self._by_name.values())

    @property
    def memory_size(self) -> int:
        return max(r.address + r.size for r in self)

    def baud_value(self, baud: int) -> int:
        """The Baud Rate register value for ``baud``; raises if the model cannot do it."""
        for value, rate in self.baud_rates.items():
            if rate == baud:
                return value
        raise ConfigurationError(
            f"{self.model} cannot run at {baud} baud; supported: {sorted(self.baud_rates.values())}")
