"""Feetech STS packets: framing, checksum, round trips."""

from __future__ import annotations

import pytest

from drivers.errors import ChecksumError, ConfigurationError, MalformedReplyError
from drivers.feetech import protocol as p


def test_ping_and_read_bytes() -> None:
    assert p.ping(1) == bytes([0xFF, 0xFF, 0x01, 0x02, 0x01, 0xFB])
    # READ id 1, address 56, 2 bytes: checksum = ~(1 + 4 + 2 + 56 + 2) & 0xFF.
    assert p.read(1, 56, 2) == bytes([0xFF, 0xFF, 0x01, 0x04, 0x02, 0x38, 0x02, (~65) & 0xFF])


def test_sync_write_layout() -> None:
    packet = p.sync_write(42, 2, [(1, b"\x00\x08"), (2, b"\xff\x07")])
    assert packet[:7] == bytes([0xFF, 0xFF, 0xFE, 10, 0x83, 42, 2])
    assert packet[7:-1] == bytes([1, 0x00, 0x08, 2, 0xFF, 0x07])


def test_status_round_trip_and_corruption() -> None:
    packet = p.status(5, 0x20, b"\x10\x20")
    pkt = p.decode(packet)
    assert (pkt.motor_id, pkt.error, pkt.params) == (5, 0x20, b"\x10\x20")
    assert p.decode_status_error(0x25) == ("VOLTAGE", "OVERHEATING", "OVERLOAD")
    for i in range(2, len(packet)):
        bad = bytearray(packet)
        bad[i] ^= 0x01
        with pytest.raises((ChecksumError, MalformedReplyError)):
            p.decode(bytes(bad))


def test_bad_input() -> None:
    with pytest.raises(ConfigurationError, match="out of range"):
        p.write(300, 42, b"\0\0")
    with pytest.raises(ConfigurationError, match="expected 2"):
        p.sync_write(42, 2, [(1, b"\0")])


def test_sync_write_words_equals_item_builder() -> None:
    assert p.sync_write_words(42, 2, [1, 2], [0x0800, 0x87FF], "H") == p.sync_write(
        42, 2, [(1, b"\x00\x08"), (2, b"\xff\x87")])


def test_sync_write_block_equals_item_builder() -> None:
    import numpy as np

    data = np.array([[0x00, 0x08], [0xFF, 0x87]], dtype=np.uint8)
    assert p.sync_write_block(42, 2, [1, 2], data) == p.sync_write(42, 2, [(1, bytes(data[0])), (2, bytes(data[1]))])
