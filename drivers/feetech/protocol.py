"""Feetech STS/SMS packets, written from Feetech's communication protocol manual.

Instruction packet: ``FF FF | ID | LEN | INST | PARAM... | CHK``; status packet:
``FF FF | ID | LEN | ERROR | PARAM... | CHK``. ``LEN`` is the number of parameters + 2, and
``CHK = ~(ID + LEN + INST/ERROR + sum(PARAM)) & 0xFF``. Multi-byte values of the STS/SMS
series are little-endian; signed registers use sign-magnitude (see :mod:`drivers.registers`).
Unlike Dynamixel 2.0, SYNC_READ is answered by one ordinary status packet per servo.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from drivers.errors import ChecksumError, ConfigurationError, MalformedReplyError
from drivers.sync_write import sync_write_params

HEADER = b"\xff\xff"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC  # 252
STATUS_OVERHEAD = 6  # header 2, id 1, len 1, error 1, checksum 1
ERROR_OFFSET = 4  # of the error byte in a status packet; the parameters follow it
MAX_PARAMS = 253  # LEN is one byte


class Instruction(enum.IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83


class StatusFlag(enum.IntFlag):
    """Bits of a status packet's error byte (the servo's protection states)."""

    VOLTAGE = 0x01
    ANGLE_SENSOR = 0x02
    OVERHEATING = 0x04
    OVERCURRENT = 0x08
    OVERLOAD = 0x20


def decode_status_error(error: int) -> tuple[str, ...]:
    names = [flag.name for flag in StatusFlag if error & flag and flag.name]
    unknown = error & ~sum(StatusFlag) & 0xFF
    if unknown:
        names.append(f"UNKNOWN_0x{unknown:02X}")
    return tuple(names)


def checksum(body: bytes | bytearray) -> int:
    """``body`` is everything after the ``FF FF`` header up to the checksum."""
    return ~sum(body) & 0xFF


def _check_id(motor_id: int, allow_broadcast: bool = False) -> None:
    if not (0 <= motor_id <= MAX_ID or (allow_broadcast and motor_id == BROADCAST_ID)):
        raise ConfigurationError(
            f"Feetech id {motor_id} is out of range 0..{MAX_ID}"
            + (" (or 254 for broadcast)" if allow_broadcast else ""))


def packet(motor_id: int, instruction: int, params: bytes = b"") -> bytes:
    """A whole packet; for a status packet pass the error byte as ``instruction``."""
    if len(params) > MAX_PARAMS:
        raise ConfigurationError(f"Feetech packet with {len(params)} parameter bytes exceeds {MAX_PARAMS}")
    body = bytes([motor_id, len(params) + 2, instruction]) + params
    return HEADER + body + bytes([checksum(body)])


def ping(motor_id: int) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.PING)


def read(motor_id: int, address: int, length: int) -> bytes:
    _check_id(motor_id)
    return packet(motor_id, Instruction.READ, bytes([address, length]))


def write(motor_id: int, address: int, data: bytes) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.WRITE, bytes([address]) + data)


def reg_write(motor_id: int, address: int, data: bytes) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.REG_WRITE, bytes([address]) + data)


def action(motor_id: int = BROADCAST_ID) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.ACTION)


def _check_ids(ids: Iterable[int]) -> list[int]:
    ids = list(ids)
    for motor_id in ids:
        _check_id(motor_id)
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"duplicate motor ids in {ids}")
    return ids


def sync_read(address: int, length: int, ids: Sequence[int]) -> bytes:
    ids = _check_ids(ids)
    return packet(BROADCAST_ID, Instruction.SYNC_READ, bytes([address, length]) + bytes(ids))


def sync_write(address: int, length: int, items: Sequence[tuple[int, bytes]]) -> bytes:
    _check_ids(i for i, _ in items)
    params = bytearray([address, length])
    for motor_id, data in items:
        if len(data) != length:
            raise ConfigurationError(f"sync write to motor {motor_id}: {len(data)} bytes, expected {length}")
        params.append(motor_id)
        params += data
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, bytes(params))


def sync_write_block(address: int, length: int, ids: Sequence[int], data: np.ndarray) -> bytes:
    """SYNC_WRITE of ``data`` (uint8, shape (len(ids), length)) built without a Python loop;
    for the control loop, whose ids were checked once when the bus was set up."""
    rows = np.empty((len(ids), length + 1), dtype=np.uint8)
    rows[:, 0] = ids
    rows[:, 1:] = data
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, bytes([address, length]) + rows.tobytes())


def sync_write_words(address: int, length: int, ids: Sequence[int], words: Sequence[int], word_format: str) -> bytes:
    """SYNC_WRITE of one word per motor (``struct`` code ``word_format`` of ``length`` bytes),
    packed in one call; for the control loop, whose ids were checked when the bus was set up."""
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, sync_write_params("BB", address, length, ids, words,
                                                                          word_format))


class Packet(NamedTuple):
    """A decoded packet. For a status packet ``instruction`` holds the error byte and
    ``error`` repeats it; for an instruction packet ``error`` is None."""

    motor_id: int
    instruction: int
    error: int | None
    params: bytes


def declared_size(head: bytes) -> int:
    """Total size on the wire from the first 4 bytes (header, id, length)."""
    if head[:2] != HEADER:
        raise MalformedReplyError(f"bad Feetech header {head[:2].hex(' ')} at byte offset 0")
    if head[3] < 2:
        raise MalformedReplyError(f"Feetech length field {head[3]} at byte offset 3 is below 2")
    return 4 + head[3]


def decode(buf: bytes, *, expect_status: bool = True) -> Packet:
    if len(buf) < STATUS_OVERHEAD:
        raise MalformedReplyError(f"Feetech packet of {len(buf)} bytes is too short")
    size = declared_size(buf)
    if size != len(buf):
        raise MalformedReplyError(f"Feetech packet length field says {size} bytes, got {len(buf)}")
    expected = checksum(buf[2:-1])
    if expected != buf[-1]:
        raise ChecksumError(f"Feetech checksum mismatch from id {buf[2]}: computed 0x{expected:02X}, "
                            f"packet has 0x{buf[-1]:02X} at byte offset {len(buf) - 1}", buf[2])
    return Packet(buf[2], buf[4], buf[4] if expect_status else None, bytes(buf[5:-1]))


def status(motor_id: int, error: int, params: bytes = b"") -> bytes:
    return packet(motor_id, error, params)


def status_head_state(head: bytes) -> int:
    """The checksum's sum over a status packet's fixed head (the bytes before the error
    byte, from the id on), for :func:`intact_status_block` to carry on from."""
    return sum(head[2:])


def intact_status_block(block: bytes, size: int, head_states: Sequence[int]) -> bool:
    """Whether every ``size``-byte packet of ``block`` (whole status packets back to back,
    their heads already compared with the expected ones, whose :func:`status_head_state` are
    ``head_states``) carries the right checksum; :func:`decode` for a block of equal-size packets.

    ``CHK = ~(ID + LEN + ... ) & 0xFF``, so the bytes from ID to CHK sum to 0xFF (mod 256).
    A few small sums in plain Python: cheaper than array operations for a bus's dozen packets.
    """
    return all((sum(block[start + ERROR_OFFSET:start + size]) + head) & 0xFF == 0xFF
               for start, head in zip(range(0, len(block), size), head_states))
