"""Checking a SYNC_READ's replies in one vectorised pass: it accepts exactly the clean blocks the
packet-by-packet decoder would read the same way, and the bus falls back for everything else."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.bus_factory import make_bus
from drivers.dynamixel import protocol as dxl
from drivers.emulator import ServoSpec, VirtualBus
from drivers.feetech import protocol as ft
from drivers.motor import Motor
from drivers.sync_reply import SyncReplyLayout
from drivers.transport import SerialTransport, wire_time_s

PROTOCOLS = {"dynamixel": dxl, "feetech": ft}
MODELS = {"dynamixel": "XM430-W350", "feetech": "STS3215"}


def _block(protocol, ids: list[int], length: int, seed: int = 1) -> tuple[bytes, list[bytes], list[int]]:
    rng = np.random.default_rng(seed)
    data = [bytes(rng.integers(0, 0xFD, length, dtype=np.uint8)) for _ in ids]  # no stuffing needed
    errors = [0, 0x20] + [0] * (len(ids) - 2)
    return b"".join(protocol.status(i, e, d) for i, e, d in zip(ids, errors, data)), data, errors


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_clean_block_splits_like_the_decoder(name: str) -> None:
    protocol = PROTOCOLS[name]
    ids = [3, 1, 7, 2]
    block, data, errors = _block(protocol, ids, 4)
    split = SyncReplyLayout(protocol, ids, 4).split(block)
    assert split is not None
    assert list(split[0]) == errors
    assert list(split[1]) == data


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
@pytest.mark.parametrize("length,word_format,signed", [(1, "B", False), (2, "H", False), (2, "h", True),
                                                       (4, "I", False), (4, "i", True)])
def test_word_layout_gives_the_data_as_integers(name: str, length: int, word_format: str, signed: bool) -> None:
    protocol = PROTOCOLS[name]
    ids = [3, 1, 7, 2]
    block, data, errors = _block(protocol, ids, length, seed=length)
    layout = SyncReplyLayout(protocol, ids, length, word_format)
    split = layout.split(block)
    assert split is not None
    expected = tuple(int.from_bytes(d, "little", signed=signed) for d in data)
    assert split == (tuple(errors), expected)
    assert layout.data_of(data) == expected  # the packet-by-packet path gives the same form
    assert SyncReplyLayout(protocol, ids, length).data_of(data) == tuple(data)
    with pytest.raises(ValueError, match="does not hold 3 bytes"):
        SyncReplyLayout(protocol, ids, 3, "H")


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_anything_else_is_left_to_the_decoder(name: str) -> None:
    protocol = PROTOCOLS[name]
    ids = [1, 2, 3]
    layout = SyncReplyLayout(protocol, ids, 2)
    block, _, _ = _block(protocol, ids, 2)
    for at in range(len(block)):  # any one flipped byte: header, id, length, error, data, checksum
        corrupt = bytearray(block)
        corrupt[at] ^= 0x41
        assert layout.split(bytes(corrupt)) is None, f"byte {at} flipped yet accepted"
    assert layout.split(block[:-1]) is None
    assert layout.split(block + b"\x00") is None
    swapped, _, _ = _block(protocol, [2, 1, 3], 2)
    assert layout.split(swapped) is None  # right packets, wrong order


def _unstuffed_status(motor_id: int, params: bytes) -> bytes:
    """A Dynamixel status packet sent as the SDK sends it: no stuffing, length and CRC to match."""
    length = len(params) + 4
    body = dxl.HEADER + bytes([motor_id, length & 0xFF, length >> 8, dxl.Instruction.STATUS, 0]) + params
    crc = dxl.crc16(body)
    return body + bytes([crc & 0xFF, crc >> 8])


def test_dynamixel_block_that_looks_stuffed_is_left_to_the_decoder() -> None:
    layout = SyncReplyLayout(dxl, [1, 2], 4)
    second = dxl.status(2, 0, b"\x01\x02\x03\x04")
    # FF FF FD FD in a field of the unstuffed length: the decoder would unstuff it (and find a
    # byte missing), so the fast path must not read it verbatim.
    assert layout.split(_unstuffed_status(1, b"\xff\xff\xfd\xfd") + second) is None
    # FF FF FD followed by anything else is read verbatim by both.
    plain = _unstuffed_status(1, b"\xff\xff\xfd\x05")
    split = layout.split(plain + second)
    assert split is not None and bytes(split[1][0]) == dxl.decode(plain).params == b"\xff\xff\xfd\x05"


def test_stuffed_reply_is_read_through_the_fallback() -> None:
    raw = -131073  # little-endian FF FF FD FF: the servo stuffs it, making its packet a byte longer
    specs = [ServoSpec(id=i, model="XM430-W350", return_delay_s=0.0,
                       initial_position_rad=raw * 2 * np.pi / 4096 if i == 2 else 1.0) for i in (1, 2, 3)]
    motors = [Motor(f"m{i}", i, "XM430-W350") for i in (1, 2, 3)]
    with VirtualBus("dynamixel", specs, baud=1_000_000) as virtual:
        truth = [virtual.read_register(i, "present_position") for i in (1, 2, 3)]
        with make_bus("dynamixel", virtual.port, motors, baud=1_000_000, return_delay_s=0.0) as bus:
            assert bus.read_raw("present_position").tolist() == truth
            assert truth[1] == raw
            position = bus.tables["m1"]["present_position"]
            assert position.decode_array(bus.group_read(position.address, 4, [1, 2, 3])).tolist() == truth
            assert bus.stats["failed"] == 0


@pytest.mark.parametrize("name", sorted(MODELS))
def test_group_read_records_and_clears_fault_bits(name: str) -> None:
    model = MODELS[name]
    specs = [ServoSpec(id=i, model=model, return_delay_s=0.0) for i in (1, 2, 3)]
    motors = [Motor(f"m{i}", i, model) for i in (1, 2, 3)]
    with VirtualBus(name, specs, baud=1_000_000) as virtual:
        with make_bus(name, virtual.port, motors, baud=1_000_000, return_delay_s=0.0) as bus:
            bus.read_raw("present_position")
            assert bus.fault_bits == {1: 0, 2: 0, 3: 0}
            virtual.inject_hardware_error(2, 0x20)  # overload (a Feetech status bit; Dynamixel ALERT)
            bus.read_raw("present_position")
            assert bus.fault_bits[1] == bus.fault_bits[3] == 0 and bus.fault_bits[2]
            virtual.clear_hardware_error(2)
            bus.read_raw("present_position")
            assert bus.fault_bits == {1: 0, 2: 0, 3: 0}


def test_tx_backlog_counts_bytes_still_on_the_line() -> None:
    transport = SerialTransport("loop://", 57_600).open()
    try:
        assert transport.tx_backlog_s() == 0.0
        before = time.monotonic()
        transport.write(bytes(30))
        transport.write(bytes(20))  # queued behind the first
        backlog = transport.tx_backlog_s()
        assert wire_time_s(50, 57_600) - (time.monotonic() - before) <= backlog <= wire_time_s(50, 57_600)
    finally:
        transport.close()
