"""Our Protocol 2.0 packet builders against the bytes ROBOTIS's SDK puts on the wire.

The SDK is given the slave side of a pseudo-terminal; the test reads what it wrote from the
master side. For every instruction our bytes must equal the SDK's, and our decoder must
accept the SDK's packet and give back the same id, instruction and parameters.
"""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Callable, Iterator

import dynamixel_sdk as sdk
import pytest

from drivers.dynamixel import protocol as dxl

PH = sdk.PacketHandler(2.0)


class Capture:
    """An SDK port on a pty whose master side the test reads."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = sdk.PortHandler(os.ttyname(self.slave))
        assert self.port.openPort()

    def sent_by(self, action: Callable[[sdk.PortHandler], object]) -> bytes:
        """Run ``action`` (which may wait for a reply that never comes) and return its bytes."""
        action(self.port)
        self.port.is_using = False  # the *Tx-only calls leave the port marked busy
        chunks = []
        while select.select([self.master], [], [], 0.02)[0]:
            chunks.append(os.read(self.master, 4096))
        return b"".join(chunks)

    def close(self) -> None:
        self.port.closePort()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture(scope="module")
def capture() -> Iterator[Capture]:
    cap = Capture()
    yield cap
    cap.close()


def _sync_read_tx(address: int, length: int, ids: list[int], fast: bool) -> Callable[[sdk.PortHandler], object]:
    def run(port: sdk.PortHandler) -> object:
        group = sdk.GroupSyncRead(port, PH, address, length)
        for motor_id in ids:
            group.addParam(motor_id)
        return group.fastSyncReadTxPacket() if fast else group.txPacket()
    return run


def _sync_write_tx(address: int, length: int, items: list[tuple[int, bytes]]) -> Callable[[sdk.PortHandler], object]:
    def run(port: sdk.PortHandler) -> object:
        group = sdk.GroupSyncWrite(port, PH, address, length)
        for motor_id, data in items:
            group.addParam(motor_id, list(data))
        return group.txPacket()
    return run


def _bulk_read_tx(items: list[tuple[int, int, int]]) -> Callable[[sdk.PortHandler], object]:
    def run(port: sdk.PortHandler) -> object:
        group = sdk.GroupBulkRead(port, PH)
        for motor_id, address, length in items:
            group.addParam(motor_id, address, length)
        return group.txPacket()
    return run


def _bulk_write_tx(items: list[tuple[int, int, bytes]]) -> Callable[[sdk.PortHandler], object]:
    def run(port: sdk.PortHandler) -> object:
        group = sdk.GroupBulkWrite(port, PH)
        for motor_id, address, data in items:
            group.addParam(motor_id, address, len(data), list(data))
        return group.txPacket()
    return run


CASES: dict[str, tuple[Callable[[sdk.PortHandler], object], bytes]] = {
    "ping": (lambda p: PH.ping(p, 1), dxl.ping(1)),
    "read": (lambda p: PH.readTx(p, 3, 132, 4), dxl.read(3, 132, 4)),
    "write_1": (lambda p: PH.write1ByteTxOnly(p, 2, 64, 1), dxl.write(2, 64, b"\x01")),
    "write_4": (lambda p: PH.write4ByteTxOnly(p, 7, 116, 0x12345678),
                dxl.write(7, 116, (0x12345678).to_bytes(4, "little"))),
    "write_broadcast": (lambda p: PH.write1ByteTxOnly(p, dxl.BROADCAST_ID, 65, 1),
                        dxl.write(dxl.BROADCAST_ID, 65, b"\x01")),
    "reg_write": (lambda p: PH.regWriteTxOnly(p, 4, 116, 4, [0, 8, 0, 0]), dxl.reg_write(4, 116, b"\x00\x08\x00\x00")),
    "action": (lambda p: PH.action(p, dxl.BROADCAST_ID), dxl.action()),
    "action_unicast": (lambda p: PH.action(p, 5), dxl.action(5)),
    "reboot": (lambda p: PH.reboot(p, 9), dxl.reboot(9)),
    "sync_read": (_sync_read_tx(132, 4, [1, 2, 3], fast=False), dxl.sync_read(132, 4, [1, 2, 3])),
    "fast_sync_read": (_sync_read_tx(126, 10, [3, 1, 2], fast=True), dxl.fast_sync_read(126, 10, [3, 1, 2])),
    "sync_write": (_sync_write_tx(116, 4, [(1, b"\x00\x08\x00\x00"), (2, b"\x10\x02\x00\x00")]),
                   dxl.sync_write(116, 4, [(1, b"\x00\x08\x00\x00"), (2, b"\x10\x02\x00\x00")])),
    "bulk_read": (_bulk_read_tx([(1, 132, 4), (7, 126, 10)]), dxl.bulk_read([(1, 132, 4), (7, 126, 10)])),
    "bulk_write": (_bulk_write_tx([(1, 64, b"\x01"), (2, 116, b"\x00\x04\x00\x00")]),
                   dxl.bulk_write([(1, 64, b"\x01"), (2, 116, b"\x00\x04\x00\x00")])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_packet_equals_the_sdk_packet(capture: Capture, name: str) -> None:
    action, ours = CASES[name]
    theirs = capture.sent_by(action)
    assert theirs.hex(" ") == ours.hex(" ")


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_decoder_accepts_the_sdk_packet(capture: Capture, name: str) -> None:
    action, ours = CASES[name]
    theirs = capture.sent_by(action)
    decoded = dxl.decode(theirs, expect_status=False)
    assert decoded == dxl.decode(ours, expect_status=False)
    assert decoded.motor_id == theirs[4] and decoded.instruction == theirs[7]


def test_stuffing_a_parameter_field_that_contains_a_header() -> None:
    """``FF FF FD`` in the parameters is sent as ``FF FF FD FD``, the length counts the extra
    byte, the CRC covers the stuffed bytes, and decoding restores the original parameters."""
    data = b"\xff\xff\xfd\x01"
    ours = dxl.write(1, 116, data)
    assert ours[7:-2] == bytes([dxl.Instruction.WRITE, 116, 0]) + b"\xff\xff\xfd\xfd\x01"
    assert ours[5] | ours[6] << 8 == 10  # 1 instruction + 2 address + 5 stuffed data + 2 CRC
    assert dxl.crc16(ours[:-2]) == ours[-2] | ours[-1] << 8
    assert dxl.decode(ours, expect_status=False).params == bytes([116, 0]) + data
    status = dxl.status(1, 0, b"\x00\xff\xff\xfd\x02")
    assert b"\xff\xff\xfd\xfd" in status[7:]
    assert dxl.decode(status).params == b"\x00\xff\xff\xfd\x02"


def test_the_sdk_does_not_stuff_but_our_decoder_still_reads_it(capture: Capture) -> None:
    """dynamixel-sdk's Python ``txPacket`` discards the list its ``addStuffing`` builds when the
    length changes, so it sends ``FF FF FD`` unstuffed (with a length and CRC that match what it
    sent). Our builder stuffs as the e-Manual says; our decoder accepts both forms."""
    data = b"\xff\xff\xfd\x01"
    theirs = capture.sent_by(lambda p: PH.writeTxOnly(p, 1, 116, 4, list(data)))
    ours = dxl.write(1, 116, data)
    assert len(theirs) == len(ours) - 1 and b"\xff\xff\xfd\xfd" not in theirs
    assert dxl.decode(theirs, expect_status=False).params == dxl.decode(ours, expect_status=False).params


def test_status_packets_we_build_are_what_the_sdk_parses() -> None:
    """The SDK's receive path (header search, length, CRC, destuffing) on our status packets."""
    master, slave = os.openpty()
    tty.setraw(slave)
    port = sdk.PortHandler(os.ttyname(slave))
    try:
        assert port.openPort()
        os.write(master, dxl.status(3, 0x80 | dxl.StatusCode.ACCESS, b"\x01\xff\xff\xfd\x02"))
        port.setPacketTimeoutMillis(200)
        packet, result = PH.rxPacket(port, False)
        assert result == sdk.COMM_SUCCESS
        assert packet[4] == 3 and packet[8] == 0x87
        assert packet[9:14] == [1, 0xFF, 0xFF, 0xFD, 2]
        blocks = [(0, 1, b"\x00\x08\x00\x00"), (0x80, 2, b"\x10\x02\x00\x00")]
        os.write(master, dxl.fast_sync_status(blocks))
        port.setPacketTimeoutMillis(200)
        packet, result = PH.rxPacket(port, True)
        assert result == sdk.COMM_SUCCESS and packet[4] == dxl.BROADCAST_ID
        assert dxl.decode_fast_sync(bytes(packet), [1, 2], 4) == [(0, blocks[0][2]), (0x80, blocks[1][2])]
    finally:
        port.closePort()
        os.close(master)
        os.close(slave)
