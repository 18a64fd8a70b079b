"""Protocol 2.0 behaviour of the emulator the vendor SDK cannot show: raw packets in, bytes out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import serial

from drivers.dynamixel import protocol as dxl
from drivers.dynamixel.protocol import StatusCode
from drivers.dynamixel.tables import XM430_W350 as XM
from drivers.emulator import ServoSpec, VirtualBus

BAUD = 1_000_000


@pytest.fixture
def bus() -> Iterator[VirtualBus]:
    specs = [ServoSpec(id=i, model="XM430-W350", return_delay_s=0.0) for i in (1, 2, 3)]
    with VirtualBus("dynamixel", specs, baud=BAUD) as vbus:
        yield vbus


@pytest.fixture
def port(bus: VirtualBus) -> Iterator[serial.Serial]:
    with serial.Serial(bus.port, BAUD, timeout=0.2) as ser:
        yield ser


def _transact(port: serial.Serial, request: bytes, n_replies: int = 1) -> list[dxl.Packet]:
    port.reset_input_buffer()
    port.write(request)
    replies = []
    for _ in range(n_replies):
        head = port.read(7)
        assert len(head) == 7, "no reply"
        replies.append(dxl.decode(head + port.read(dxl.declared_size(head) - 7)))
    return replies


def _silent(port: serial.Serial, request: bytes) -> bool:
    port.reset_input_buffer()
    port.write(request)
    port.timeout = 0.03
    try:
        return port.read(1) == b""
    finally:
        port.timeout = 0.2


def test_a_bad_crc_is_answered_with_crc_error_only_when_unicast(port: serial.Serial) -> None:
    bad = bytearray(dxl.read(2, 132, 4))
    bad[-1] ^= 0xFF
    (reply,) = _transact(port, bytes(bad))
    assert (reply.motor_id, reply.error) == (2, StatusCode.CRC)
    bad_broadcast = bytearray(dxl.sync_read(132, 4, [1, 2]))
    bad_broadcast[-1] ^= 0xFF
    assert _silent(port, bytes(bad_broadcast))


def test_read_with_wrong_parameter_count_is_a_data_length_error(port: serial.Serial) -> None:
    (reply,) = _transact(port, dxl.packet(1, dxl.Instruction.READ, b"\x84\x00\x04"))
    assert reply.error == StatusCode.DATA_LENGTH


def test_action_without_reg_write_is_an_instruction_error(port: serial.Serial) -> None:
    (reply,) = _transact(port, dxl.action(3))
    assert reply.error == StatusCode.INSTRUCTION


def test_broadcast_write_applies_to_all_and_gets_no_reply(bus: VirtualBus, port: serial.Serial) -> None:
    assert _silent(port, dxl.write(dxl.BROADCAST_ID, XM["led"].address, b"\x01"))
    assert [bus.read_register(i, "led") for i in (1, 2, 3)] == [1, 1, 1]


def test_sync_read_replies_in_the_order_of_the_request(port: serial.Serial) -> None:
    replies = _transact(port, dxl.sync_read(XM["id"].address, 1, [3, 1, 2]), 3)
    assert [r.motor_id for r in replies] == [3, 1, 2]
    assert [r.params for r in replies] == [b"\x03", b"\x01", b"\x02"]


def test_fast_sync_read_is_one_packet_and_leaves_out_absent_servos(port: serial.Serial) -> None:
    port.write(dxl.fast_sync_read(XM["present_position"].address, 4, [2, 3]))
    expected = dxl.fast_sync_size(4, 2)
    reply = port.read(expected)
    assert dxl.decode_fast_sync(reply, [2, 3], 4) == [(0, (2048).to_bytes(4, "little"))] * 2
    port.write(dxl.fast_sync_read(XM["id"].address, 1, [1, 9, 3]))
    reply = port.read(dxl.fast_sync_size(1, 2))
    assert dxl.decode_fast_sync(reply, [1, 3], 1) == [(0, b"\x01"), (0, b"\x03")]


def test_fast_bulk_read_combines_different_spans(port: serial.Serial) -> None:
    request = dxl.packet(dxl.BROADCAST_ID, dxl.Instruction.FAST_BULK_READ,
                         bytes([1, 7, 0, 1, 0, 2, 0, 0, 2, 0]))  # id 1: 1 byte at 7; id 2: 2 bytes at 0
    port.write(request)
    reply = port.read(8 + (1 + 4) + (2 + 4))
    assert reply[8:10] == b"\x00\x01" and reply[10] == 1  # error, id, data of servo 1
    assert dxl.crc16(reply[:-2]) == reply[-2] | reply[-1] << 8
    assert reply[13:15] == b"\x00\x02" and reply[15:17] == (1020).to_bytes(2, "little")


def test_bulk_write_and_bulk_read(bus: VirtualBus, port: serial.Serial) -> None:
    assert _silent(port, dxl.bulk_write([(1, XM["led"].address, b"\x01"),
                                         (3, XM["profile_velocity"].address, (77).to_bytes(4, "little"))]))
    replies = _transact(port, dxl.bulk_read([(3, XM["profile_velocity"].address, 4), (1, XM["led"].address, 1)]), 2)
    assert [(r.motor_id, r.params) for r in replies] == [(3, (77).to_bytes(4, "little")), (1, b"\x01")]


def test_reboot_restores_ram_defaults_and_keeps_eeprom(bus: VirtualBus, port: serial.Serial) -> None:
    _transact(port, dxl.write(2, XM["max_position_limit"].address, (3000).to_bytes(4, "little")))
    _transact(port, dxl.write(2, XM["led"].address, b"\x01"))
    (reply,) = _transact(port, dxl.reboot(2))
    assert reply.error == 0
    assert bus.read_register(2, "led") == 0
    assert bus.read_register(2, "max_position_limit") == 3000


def test_factory_reset_except_id(bus: VirtualBus, port: serial.Serial) -> None:
    _transact(port, dxl.write(2, XM["max_position_limit"].address, (3000).to_bytes(4, "little")))
    (reply,) = _transact(port, dxl.packet(2, dxl.Instruction.FACTORY_RESET, b"\x01"))
    assert reply.error == 0
    assert bus.read_register(2, "max_position_limit") == 4095
    assert bus.read_register(2, "id") == 2
    assert bus.read_register(2, "baud_rate") == 1  # the factory 57,600 baud: silent at 1 Mbps now
    assert _silent(port, dxl.ping(2))


def test_eeprom_writes_are_persisted_through_a_power_cycle(bus: VirtualBus, port: serial.Serial) -> None:
    _transact(port, dxl.write(1, XM["homing_offset"].address, (100).to_bytes(4, "little", signed=True)))
    bus.power_cycle()
    assert bus.read_register(1, "homing_offset") == 100
    assert bus.read_register(1, "present_position") == 2048 + 100  # present = actual + offset


def test_status_return_level_zero_answers_only_ping(bus: VirtualBus, port: serial.Serial) -> None:
    bus.write_register(1, "status_return_level", 0)
    assert _silent(port, dxl.read(1, XM["id"].address, 1))
    assert _transact(port, dxl.ping(1))[0].params[:2] == (1020).to_bytes(2, "little")
