"""Our Feetech STS packet builders against the bytes Feetech's ``scservo_sdk`` sends."""

from __future__ import annotations

import os
import select
import tty
from collections.abc import Callable, Iterator

import pytest
import scservo_sdk as scs

from drivers.feetech import protocol as ft

PH = scs.PacketHandler(0)


class Capture:
    """An SDK port on a pty whose master side the test reads."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.port = scs.PortHandler(os.ttyname(self.slave))
        assert self.port.openPort()

    def sent_by(self, action: Callable[[scs.PortHandler], object]) -> bytes:
        action(self.port)
        self.port.is_using = False
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


def _sync_read_tx(address: int, length: int, ids: list[int]) -> Callable[[scs.PortHandler], object]:
    def run(port: scs.PortHandler) -> object:
        group = scs.GroupSyncRead(port, PH, address, length)
        for motor_id in ids:
            group.addParam(motor_id)
        return group.txPacket()
    return run


def _sync_write_tx(address: int, length: int, items: list[tuple[int, bytes]]) -> Callable[[scs.PortHandler], object]:
    def run(port: scs.PortHandler) -> object:
        group = scs.GroupSyncWrite(port, PH, address, length)
        for motor_id, data in items:
            group.addParam(motor_id, list(data))
        return group.txPacket()
    return run


def _ping_tx(port: scs.PortHandler) -> object:
    # PacketHandler.ping also reads the model number after the ping: send only the ping.
    packet = [0] * 6
    packet[2], packet[3], packet[4] = 1, 2, scs.INST_PING
    return PH.txPacket(port, packet)


CASES: dict[str, tuple[Callable[[scs.PortHandler], object], bytes]] = {
    "ping": (_ping_tx, ft.ping(1)),
    "read": (lambda p: PH.readTx(p, 3, 56, 2), ft.read(3, 56, 2)),
    "write_1": (lambda p: PH.write1ByteTxOnly(p, 2, 40, 1), ft.write(2, 40, b"\x01")),
    "write_2": (lambda p: PH.write2ByteTxOnly(p, 6, 42, 0x0800), ft.write(6, 42, b"\x00\x08")),
    "write_broadcast": (lambda p: PH.write1ByteTxOnly(p, ft.BROADCAST_ID, 55, 0),
                        ft.write(ft.BROADCAST_ID, 55, b"\x00")),
    "reg_write": (lambda p: PH.regWriteTxOnly(p, 4, 42, 2, [0xFF, 0x0F]), ft.reg_write(4, 42, b"\xff\x0f")),
    "action": (lambda p: PH.action(p, ft.BROADCAST_ID), ft.action()),
    "sync_read": (_sync_read_tx(56, 4, [1, 2, 3, 4, 5, 6]), ft.sync_read(56, 4, [1, 2, 3, 4, 5, 6])),
    "sync_write": (_sync_write_tx(42, 2, [(1, b"\x00\x08"), (2, b"\xff\xff")]),
                   ft.sync_write(42, 2, [(1, b"\x00\x08"), (2, b"\xff\xff")])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_packet_equals_the_sdk_packet(capture: Capture, name: str) -> None:
    action, ours = CASES[name]
    assert capture.sent_by(action).hex(" ") == ours.hex(" ")


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_decoder_accepts_the_sdk_packet(capture: Capture, name: str) -> None:
    action, ours = CASES[name]
    theirs = capture.sent_by(action)
    decoded = ft.decode(theirs, expect_status=False)
    assert decoded == ft.decode(ours, expect_status=False)
    assert (decoded.motor_id, decoded.instruction) == (theirs[2], theirs[4])
