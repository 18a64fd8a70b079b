"""Dynamixel Protocol 2.0 packets, written from the ROBOTIS e-Manual.

Instruction packet: ``FF FF FD 00 | ID | LEN_L LEN_H | INST | PARAM... | CRC_L CRC_H``.
Status packet: the same with ``INST = 0x55`` followed by an ERROR byte. ``LEN`` counts the
bytes after itself (instruction, error, parameters after stuffing, CRC). The CRC-16 (poly
0x8005, initial 0, not reflected) covers everything from the header to the last parameter.
Byte stuffing: ``FF FF FD`` inside the instruction/parameter field is sent as ``FF FF FD FD``
so that no header appears inside a packet.

Functions here are pure: bytes in, bytes or tuples out. I/O lives in the bus.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

from drivers.errors import ChecksumError, ConfigurationError, MalformedReplyError
from drivers.sync_write import sync_write_params

HEADER = b"\xff\xff\xfd\x00"
BROADCAST_ID = 0xFE
MAX_ID = 0xFC  # 252
STATUS_OVERHEAD = 11  # header 4, id 1, len 2, inst 1, error 1, crc 2
ERROR_OFFSET = 8  # of the error byte in a status packet; the parameters follow it
INSTRUCTION_OVERHEAD = 10  # header 4, id 1, len 2, inst 1, crc 2


class Instruction(enum.IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    FACTORY_RESET = 0x06
    REBOOT = 0x08
    CLEAR = 0x10
    STATUS = 0x55
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83
    FAST_SYNC_READ = 0x8A
    BULK_READ = 0x92
    BULK_WRITE = 0x93
    FAST_BULK_READ = 0x9A


class StatusCode(enum.IntEnum):
    """The low 7 bits of a status packet's error byte."""

    OK = 0x00
    RESULT_FAIL = 0x01
    INSTRUCTION = 0x02
    CRC = 0x03
    DATA_RANGE = 0x04
    DATA_LENGTH = 0x05
    DATA_LIMIT = 0x06
    ACCESS = 0x07


ALERT_BIT = 0x80  # the device has a hardware error: read Hardware Error Status


class HardwareError(enum.IntFlag):
    """Hardware Error Status (address 70) of the X series."""

    INPUT_VOLTAGE = 0x01
    OVERHEATING = 0x04
    MOTOR_ENCODER = 0x08
    ELECTRICAL_SHOCK = 0x10
    OVERLOAD = 0x20


def decode_status_error(error: int) -> tuple[str, ...]:
    """Names of what a status error byte says, e.g. ``("ACCESS",)`` or ``("ALERT",)``."""
    names: list[str] = []
    code = error & 0x7F
    if code:
        try:
            names.append(StatusCode(code).name)
        except ValueError:
            names.append(f"UNKNOWN_0x{code:02X}")
    if error & ALERT_BIT:
        names.append("ALERT")
    return tuple(names)


def decode_hardware_error(value: int) -> tuple[str, ...]:
    return tuple(flag.name for flag in HardwareError if value & flag and flag.name)


# -- CRC ------------------------------------------------------------------------------------
def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-16/BUYPASS (poly 0x8005, init 0, no reflection), as Protocol 2.0 specifies;
    ``crc`` carries on from the CRC of the bytes before ``data``.

    A 256-entry table, one step per byte. (A 65,536-entry table, two bytes a step, was 3x
    faster warm but no faster in a bus cycle: right after a reply its entries are cache
    misses, and checking the replies got slower, 21 against 18 us.)"""
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[((crc >> 8) ^ byte) & 0xFF]
    return crc


def crc16_past_field(crc: int) -> int:
    """The CRC carried on past a CRC field that holds ``crc`` itself (little-endian, as
    packets carry it): ``crc16(bytes([crc & 0xFF, crc >> 8]), crc)`` without the bytes."""
    table = _CRC_TABLE
    low, high = crc & 0xFF, crc >> 8
    crc = ((crc << 8) & 0xFFFF) ^ table[high ^ low]
    return ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ high]


# -- byte stuffing --------------------------------------------------------------------------
def stuff(field: bytes) -> bytes:
    """Insert 0xFD after every ``FF FF FD`` in the instruction/parameter field."""
    if b"\xff\xff\xfd" not in field:
        return field
    out = bytearray()
    i = 0
    while i < len(field):
        out.append(field[i])
        if field[i] == 0xFD and i >= 2 and field[i - 2] == 0xFF and field[i - 1] == 0xFF:
            out.append(0xFD)
        i += 1
    return bytes(out)


def unstuff(field: bytes) -> bytes:
    """Remove the 0xFD that follows every ``FF FF FD`` (inverse of :func:`stuff`)."""
    if b"\xff\xff\xfd\xfd" not in field:
        return field
    out = bytearray()
    i = 0
    while i < len(field):
        out.append(field[i])
        if (field[i] == 0xFD and i >= 2 and field[i - 2] == 0xFF and field[i - 1] == 0xFF
                and i + 1 < len(field) and field[i + 1] == 0xFD):
            i += 1
        i += 1
    return bytes(out)


# -- instruction packets ----------------------------------------------------------------------
def _check_id(motor_id: int, allow_broadcast: bool = False) -> None:
    if not (0 <= motor_id <= MAX_ID or (allow_broadcast and motor_id == BROADCAST_ID)):
        raise ConfigurationError(
            f"Dynamixel id {motor_id} is out of range 0..{MAX_ID}"
            + (" (or 254 for broadcast)" if allow_broadcast else ""))


def packet(motor_id: int, instruction: int, params: bytes = b"") -> bytes:
    """A whole packet (instruction or status) with stuffing and CRC."""
    field = stuff(bytes([instruction]) + params)
    length = len(field) + 2
    body = HEADER + bytes([motor_id, length & 0xFF, length >> 8]) + field
    crc = crc16(body)
    return body + bytes([crc & 0xFF, crc >> 8])


def _u16(value: int) -> bytes:
    return int(value).to_bytes(2, "little")


def ping(motor_id: int) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.PING)


def read(motor_id: int, address: int, length: int) -> bytes:
    _check_id(motor_id)
    return packet(motor_id, Instruction.READ, _u16(address) + _u16(length))


def write(motor_id: int, address: int, data: bytes) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.WRITE, _u16(address) + data)


def reg_write(motor_id: int, address: int, data: bytes) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.REG_WRITE, _u16(address) + data)


def action(motor_id: int = BROADCAST_ID) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.ACTION)


def reboot(motor_id: int) -> bytes:
    _check_id(motor_id, allow_broadcast=True)
    return packet(motor_id, Instruction.REBOOT)


def _check_ids(ids: Iterable[int]) -> list[int]:
    ids = list(ids)
    for motor_id in ids:
        _check_id(motor_id)
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"duplicate motor ids in {ids}")
    return ids


def sync_read(address: int, length: int, ids: Sequence[int]) -> bytes:
    ids = _check_ids(ids)
    return packet(BROADCAST_ID, Instruction.SYNC_READ, _u16(address) + _u16(length) + bytes(ids))


def fast_sync_read(address: int, length: int, ids: Sequence[int]) -> bytes:
    ids = _check_ids(ids)
    return packet(BROADCAST_ID, Instruction.FAST_SYNC_READ,
                  _u16(address) + _u16(length) + bytes(ids))


def sync_write(address: int, length: int, items: Sequence[tuple[int, bytes]]) -> bytes:
    _check_ids(i for i, _ in items)
    params = bytearray(_u16(address) + _u16(length))
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
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, _u16(address) + _u16(length) + rows.tobytes())


def sync_write_words(address: int, length: int, ids: Sequence[int], words: Sequence[int], word_format: str) -> bytes:
    """SYNC_WRITE of one word per motor (``struct`` code ``word_format`` of ``length`` bytes),
    packed in one call; for the control loop, whose ids were checked when the bus was set up."""
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, sync_write_params("HH", address, length, ids, words,
                                                                          word_format))


def bulk_read(items: Sequence[tuple[int, int, int]]) -> bytes:
    """``items``: (id, address, length) per motor."""
    _check_ids(i for i, _, _ in items)
    params = bytearray()
    for motor_id, address, length in items:
        params.append(motor_id)
        params += _u16(address) + _u16(length)
    return packet(BROADCAST_ID, Instruction.BULK_READ, bytes(params))


def bulk_write(items: Sequence[tuple[int, int, bytes]]) -> bytes:
    """``items``: (id, address, data) per motor."""
    _check_ids(i for i, _, _ in items)
    params = bytearray()
    for motor_id, address, data in items:
        params.append(motor_id)
        params += _u16(address) + _u16(len(data)) + data
    return packet(BROADCAST_ID, Instruction.BULK_WRITE, bytes(params))


# -- decoding -------------------------------------------------------------------------------
class Packet(NamedTuple):
    """A decoded packet: for a status packet ``instruction`` is 0x55 and ``params`` starts
    after the error byte; for an instruction packet ``error`` is None."""

    motor_id: int
    instruction: int
    error: int | None
    params: bytes


def declared_size(head: bytes) -> int:
    """Total packet size on the wire from its first 7 bytes (header, id, length)."""
    if head[:4] != HEADER:
        raise MalformedReplyError(f"bad Dynamixel header {head[:4].hex(' ')} at byte offset 0")
    return 7 + (head[5] | head[6] << 8)


def decode(buf: bytes, *, expect_status: bool = True, destuff: bool = True) -> Packet:
    """Decode one whole packet; raises :class:`ChecksumError` or :class:`MalformedReplyError`."""
    if len(buf) < INSTRUCTION_OVERHEAD:
        raise MalformedReplyError(f"Dynamixel packet of {len(buf)} bytes is too short")
    size = declared_size(buf)
    if size != len(buf):
        raise MalformedReplyError(f"Dynamixel packet length field says {size} bytes, got {len(buf)}")
    crc = crc16(buf[:-2])
    got = buf[-2] | buf[-1] << 8
    if crc != got:
        raise ChecksumError(f"Dynamixel CRC mismatch from id {buf[4]}: computed 0x{crc:04X}, "
                            f"packet has 0x{got:04X} at byte offset {len(buf) - 2}", buf[4])
    field = unstuff(buf[7:-2]) if destuff else buf[7:-2]
    instruction = field[0]
    if expect_status:
        if instruction != Instruction.STATUS or len(field) < 2:
            raise MalformedReplyError(
                f"expected a status packet from id {buf[4]}, got instruction 0x{instruction:02X}", buf[4])
        return Packet(buf[4], instruction, field[1], bytes(field[2:]))
    return Packet(buf[4], instruction, None, bytes(field[1:]))


def status(motor_id: int, error: int, params: bytes = b"") -> bytes:
    """A status packet, as a servo (or the emulator) sends it."""
    return packet(motor_id, Instruction.STATUS, bytes([error]) + params)


_STUFFED = HEADER[:3] + b"\xfd"


def status_head_state(head: bytes) -> int:
    """The CRC of a status packet's fixed head (header, id, length, instruction: the bytes
    before the error byte), for :func:`intact_status_block` to carry on from."""
    return crc16(head)


def intact_status_block(block: bytes, size: int, head_states: Sequence[int]) -> bool:
    """Whether every ``size``-byte packet of ``block`` (whole status packets back to back,
    their heads already compared with the expected ones, whose :func:`status_head_state` are
    ``head_states``) has the right CRC and no stuffed byte; then each packet's parameters are
    its bytes as they stand, as :func:`decode` would return them. (A stuffed packet is one
    byte longer than its layout says; one that merely looks stuffed is refused too, to be safe.)

    Only the error byte and the data are fed to the CRC: a few table steps per packet in
    plain Python, which costs less than array operations right after the bytes arrive (they
    were measured 18 against 35-45 us there, on a core whose caches the wait had cooled)."""
    for start, crc in zip(range(0, len(block), size), head_states):
        end = start + size - 2
        if crc16(block[start + ERROR_OFFSET:end], crc) != block[end] | block[end + 1] << 8:
            return False
    return _STUFFED not in block


def fast_sync_status(blocks: Sequence[tuple[int, int, bytes]]) -> bytes:
    """The single status packet that answers FAST_SYNC_READ: per motor ``(error, id, data)``.

    Each motor appends ``ERR ID DATA CRC``, where its CRC covers the packet so far, so the
    last motor's CRC is the packet CRC. No stuffing is applied (the SDK does not remove it).
    """
    length = 1 + sum(len(data) + 4 for _, _, data in blocks)
    out = bytearray(HEADER + bytes([BROADCAST_ID, length & 0xFF, length >> 8, Instruction.STATUS]))
    crc = crc16(out)
    for error, motor_id, data in blocks:
        block = bytes([error, motor_id]) + data
        crc = crc16(block, crc)  # the CRC of the packet so far, carried on
        field = bytes([crc & 0xFF, crc >> 8])
        crc = crc16(field, crc)
        out += block + field
    return bytes(out)


def fast_sync_size(length: int, n_motors: int) -> int:
    return 8 + n_motors * (length + 4)


def decode_fast_sync(buf: bytes, ids: Sequence[int], length: int) -> list[tuple[int, bytes]]:
    """Split a FAST_SYNC_READ reply into ``(error, data)`` in the order of ``ids``."""
    size = declared_size(buf)
    if size != len(buf) or size != fast_sync_size(length, len(ids)):
        raise MalformedReplyError(
            f"fast sync read reply of {len(buf)} bytes (length field {size}), expected "
            f"{fast_sync_size(length, len(ids))} for {len(ids)} motors x {length} bytes")
    if buf[7] != Instruction.STATUS:
        raise MalformedReplyError(f"fast sync read reply has instruction 0x{buf[7]:02X}")
    out: list[tuple[int, bytes]] = []
    offset = 8
    crc = crc16(buf[:offset])
    for motor_id in ids:
        end = offset + 2 + length
        crc = crc16(buf[offset:end], crc)  # each block's CRC covers the packet up to its data
        got = buf[end] | buf[end + 1] << 8
        if crc != got:
            raise ChecksumError(f"fast sync read: CRC mismatch in the block of id {buf[offset + 1]} "
                                f"at byte offset {end}", motor_id)
        crc = crc16(buf[end:end + 2], crc)
        if buf[offset + 1] != motor_id:
            raise MalformedReplyError(
                f"fast sync read: block at byte offset {offset} is from id {buf[offset + 1]}, expected {motor_id}",
                motor_id)
        out.append((buf[offset], bytes(buf[offset + 2:end])))
        offset = end + 2
    return out
