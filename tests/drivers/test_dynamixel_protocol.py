"""Dynamixel 2.0 packets against the e-Manual's worked examples and round trips."""

from __future__ import annotations

import random

import pytest

from drivers.dynamixel import protocol as p
from drivers.errors import ChecksumError, ConfigurationError, MalformedReplyError

# Examples printed in the ROBOTIS Protocol 2.0 e-Manual.
PING_ID1 = bytes.fromhex("FF FF FD 00 01 03 00 01 19 4E")
READ_ID1_132_4 = bytes.fromhex("FF FF FD 00 01 07 00 02 84 00 04 00 1D 15")
STATUS_PING_ID1 = bytes.fromhex("FF FF FD 00 01 07 00 55 00 06 04 26 65 5D")


def test_manual_examples() -> None:
    assert p.ping(1) == PING_ID1
    assert p.read(1, 132, 4) == READ_ID1_132_4
    assert p.status(1, 0, bytes([0x06, 0x04, 0x26])) == STATUS_PING_ID1
    pkt = p.decode(STATUS_PING_ID1)
    assert (pkt.motor_id, pkt.error, pkt.params) == (1, 0, bytes([0x06, 0x04, 0x26]))


def test_crc_check_value() -> None:
    # CRC-16/BUYPASS check value for the ASCII string "123456789".
    assert p.crc16(b"123456789") == 0xFEE8


def _crc_bit_by_bit(data: bytes, crc: int = 0) -> int:
    """The CRC as the polynomial division it is: one bit at a time, no table."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def test_crc_table_equals_the_bitwise_division_and_carries_on() -> None:
    rng = random.Random(0)
    for n in range(0, 70):
        for _ in range(5):
            data = bytes(rng.randrange(256) for _ in range(n))
            start = rng.randrange(1 << 16)  # carrying on from an earlier CRC
            expected = _crc_bit_by_bit(data, start)
            assert p.crc16(data, start) == expected, f"{n} bytes"
            assert p.crc16(bytearray(data), start) == p.crc16(memoryview(data), start) == expected
            cut = rng.randrange(n + 1)
            assert p.crc16(data[cut:], p.crc16(data[:cut], start)) == expected
            field = bytes([expected & 0xFF, expected >> 8])
            assert p.crc16_past_field(expected) == _crc_bit_by_bit(field, expected)


def test_stuffing_round_trip_and_length() -> None:
    data = bytes([0xFF, 0xFF, 0xFD, 0x01, 0xFF, 0xFF, 0xFD])
    packet = p.write(1, 116, data)
    assert packet.count(b"\xff\xff\xfd\xfd") == 2
    decoded = p.decode(packet, expect_status=False)
    assert decoded.params == (116).to_bytes(2, "little") + data
    assert p.unstuff(p.stuff(data)) == data


def test_corruption_is_detected_at_every_byte() -> None:
    packet = p.status(3, 0, bytes(range(10)))
    for i in range(7, len(packet)):
        bad = bytearray(packet)
        bad[i] ^= 0x10
        with pytest.raises((ChecksumError, MalformedReplyError)):
            p.decode(bytes(bad))


def test_error_byte_and_hardware_flags() -> None:
    assert p.decode_status_error(0x07) == ("ACCESS",)
    assert p.decode_status_error(0x80) == ("ALERT",)
    assert p.decode_hardware_error(0x24) == ("OVERHEATING", "OVERLOAD")


def test_fast_sync_read_round_trip() -> None:
    blocks = [(0, 1, b"\x01\x02\x03\x04"), (0x80, 2, b"\xff\xff\xfd\x00")]
    packet = p.fast_sync_status(blocks)
    assert len(packet) == p.fast_sync_size(4, 2)
    assert p.decode_fast_sync(packet, [1, 2], 4) == [(0, b"\x01\x02\x03\x04"), (0x80, b"\xff\xff\xfd\x00")]
    with pytest.raises(MalformedReplyError, match="expected 1"):
        p.decode_fast_sync(p.fast_sync_status([(0, 5, b"\0" * 4), (0, 2, b"\0" * 4)]), [1, 2], 4)


def test_bad_ids_refused_before_sending() -> None:
    with pytest.raises(ConfigurationError, match="id 253 is out of range"):
        p.read(253, 0, 1)
    with pytest.raises(ConfigurationError, match="duplicate"):
        p.sync_read(132, 4, [1, 1])


def test_sync_write_words_equals_item_builder() -> None:
    # -131073 is FF FF FD FF little-endian: the packet needs byte stuffing
    assert p.sync_write_words(116, 4, [1, 2], [0x04030201, -131073], "i") == p.sync_write(
        116, 4, [(1, b"\x01\x02\x03\x04"), (2, b"\xff\xff\xfd\xff")])


def test_sync_write_block_equals_item_builder() -> None:
    import numpy as np

    data = np.array([[1, 2, 3, 4], [0xFF, 0xFF, 0xFD, 0]], dtype=np.uint8)
    assert p.sync_write_block(116, 4, [1, 2], data) == p.sync_write(116, 4, [(1, bytes(data[0])), (2, bytes(data[1]))])
