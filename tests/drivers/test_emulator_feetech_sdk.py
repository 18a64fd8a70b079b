"""Feetech's own Python SDK (``scservo_sdk``) as the client of the emulated STS bus."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import scservo_sdk as scs

from drivers.emulator import ServoSpec, VirtualBus
from drivers.feetech.protocol import StatusFlag
from drivers.feetech.tables import STS3215

BAUD = 1_000_000
A = {reg.name: reg.address for reg in STS3215}
PH = scs.PacketHandler(0)  # 0: little-endian words, the STS/SMS series


@pytest.fixture
def bus() -> Iterator[VirtualBus]:
    specs = [ServoSpec(id=i, model="STS3215") for i in range(1, 7)]
    with VirtualBus("feetech", specs, baud=BAUD) as vbus:
        yield vbus


@pytest.fixture
def port(bus: VirtualBus) -> Iterator[scs.PortHandler]:
    handler = scs.PortHandler(bus.port)
    assert handler.openPort() and handler.setBaudRate(BAUD)
    yield handler
    handler.closePort()


def _ok(result: int, error: int = 0) -> None:
    assert result == scs.COMM_SUCCESS, PH.getTxRxResult(result)
    assert error == 0, PH.getRxPacketError(error)


def test_ping_returns_the_sts3215_model_number(port: scs.PortHandler) -> None:
    model, result, error = PH.ping(port, 3)
    _ok(result, error)
    assert model == 777
    assert PH.ping(port, 9)[1] == scs.COMM_RX_TIMEOUT


def test_factory_defaults(port: scs.PortHandler) -> None:
    assert PH.read1ByteTxRx(port, 2, A["id"])[0] == 2
    assert PH.read1ByteTxRx(port, 2, A["baud_rate"])[0] == 0  # 1 Mbps
    assert PH.read2ByteTxRx(port, 2, A["max_position_limit"])[0] == 4095
    assert PH.read1ByteTxRx(port, 2, A["lock"])[0] == 1
    assert PH.read2ByteTxRx(port, 2, A["present_position"])[0] == 2048
    assert 60 <= PH.read1ByteTxRx(port, 2, A["present_voltage"])[0] <= 80
    firmware = PH.read1ByteTxRx(port, 2, A["firmware_major"])[0]
    assert firmware > 0


def test_read_and_write_one_and_two_bytes(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 1, A["acceleration"], 50))
    assert PH.read1ByteTxRx(port, 1, A["acceleration"])[:2] == (50, scs.COMM_SUCCESS)
    _ok(*PH.write2ByteTxRx(port, 1, A["goal_velocity"], 1500))
    assert PH.read2ByteTxRx(port, 1, A["goal_velocity"])[0] == 1500
    assert bus.read_register(1, "goal_velocity") == 1500


def test_sync_write_then_sync_read_one_status_packet_per_servo(bus: VirtualBus, port: scs.PortHandler) -> None:
    writer = scs.GroupSyncWrite(port, PH, A["acceleration"], 1)
    for motor_id in range(1, 7):
        assert writer.addParam(motor_id, [10 * motor_id])
    _ok(writer.txPacket())
    assert bus.wait_idle()
    reader = scs.GroupSyncRead(port, PH, A["acceleration"], 1)
    for motor_id in (6, 2, 4):
        assert reader.addParam(motor_id)
    _ok(reader.txRxPacket())
    assert [reader.getData(i, A["acceleration"], 1) for i in (6, 2, 4)] == [60, 20, 40]
    reader = scs.GroupSyncRead(port, PH, A["present_position"], 4)  # position and speed
    for motor_id in range(1, 7):
        reader.addParam(motor_id)
    _ok(reader.txRxPacket())
    assert [reader.getData(i, A["present_position"], 2) for i in range(1, 7)] == [2048] * 6


def test_goal_position_makes_present_position_converge(port: scs.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 5, A["torque_enable"], 1))
    _ok(*PH.write2ByteTxRx(port, 5, A["goal_position"], 1500))
    time.sleep(0.05)
    speed = PH.read2ByteTxRx(port, 5, A["present_velocity"])[0]
    assert speed & 0x8000 and speed & 0x7FFF > 100  # sign-magnitude: moving down, fast
    assert PH.read1ByteTxRx(port, 5, A["moving"])[0] == 1
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        position = PH.read2ByteTxRx(port, 5, A["present_position"])[0]
        if abs(position - 1500) <= 1 and PH.read1ByteTxRx(port, 5, A["moving"])[0] == 0:
            break
        time.sleep(0.02)
    assert abs(position - 1500) <= 1


def test_eeprom_writes_under_lock_apply_but_revert_on_power_cycle(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.write2ByteTxRx(port, 4, A["max_position_limit"], 3000))  # lock = 1 at power-on
    assert PH.read2ByteTxRx(port, 4, A["max_position_limit"])[0] == 3000
    bus.power_cycle(4)
    assert PH.read2ByteTxRx(port, 4, A["max_position_limit"])[0] == 4095
    _ok(*PH.write1ByteTxRx(port, 4, A["lock"], 0))
    _ok(*PH.write2ByteTxRx(port, 4, A["max_position_limit"], 3000))
    _ok(*PH.write1ByteTxRx(port, 4, A["lock"], 1))
    bus.power_cycle(4)
    assert PH.read2ByteTxRx(port, 4, A["max_position_limit"])[0] == 3000
    assert PH.read1ByteTxRx(port, 4, A["lock"])[0] == 1


def test_id_change_persists_only_when_unlocked(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 6, A["lock"], 0))
    _ok(*PH.write1ByteTxRx(port, 6, A["id"], 12))  # answered from the old id
    assert PH.ping(port, 12)[:2] == (777, scs.COMM_SUCCESS)
    bus.power_cycle()
    assert PH.ping(port, 12)[1] == scs.COMM_SUCCESS
    assert PH.ping(port, 6)[1] == scs.COMM_RX_TIMEOUT


def test_hardware_error_bits_in_every_status_and_torque_off(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 2, A["torque_enable"], 1))
    bus.inject_hardware_error(2, StatusFlag.OVERLOAD)
    value, result, error = PH.read1ByteTxRx(port, 2, A["torque_enable"])
    assert result == scs.COMM_SUCCESS and error == StatusFlag.OVERLOAD and value == 0
    assert PH.read1ByteTxRx(port, 2, A["status"])[0] == StatusFlag.OVERLOAD
    bus.inject_hardware_error(3, StatusFlag.VOLTAGE)  # not in the unloading mask: torque stays
    assert PH.write1ByteTxRx(port, 3, A["torque_enable"], 1) == (scs.COMM_SUCCESS, StatusFlag.VOLTAGE)
    assert PH.read1ByteTxRx(port, 3, A["torque_enable"])[:3] == (1, scs.COMM_SUCCESS, StatusFlag.VOLTAGE)
    bus.power_cycle(2)
    _ok(*PH.read1ByteTxRx(port, 2, A["status"])[1:])


def test_status_return_level_zero_answers_only_reads_and_ping(bus: VirtualBus, port: scs.PortHandler) -> None:
    bus.write_register(1, "status_return_level", 0)
    assert PH.write1ByteTxRx(port, 1, A["acceleration"], 7)[0] == scs.COMM_RX_TIMEOUT
    assert PH.read1ByteTxRx(port, 1, A["acceleration"])[:2] == (7, scs.COMM_SUCCESS)
    assert PH.ping(port, 1)[1] == scs.COMM_SUCCESS


def test_reg_write_then_action(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.regWriteTxRx(port, 1, A["acceleration"], 1, [33]))
    assert bus.read_register(1, "acceleration") == 0
    _ok(PH.action(port, scs.BROADCAST_ID))
    assert bus.wait_idle()
    assert bus.read_register(1, "acceleration") == 33


def test_torque_enable_128_calibrates_the_middle(bus: VirtualBus, port: scs.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 1, A["torque_enable"], 1))
    _ok(*PH.write2ByteTxRx(port, 1, A["goal_position"], 1000))
    deadline = time.monotonic() + 2.0
    while abs(PH.read2ByteTxRx(port, 1, A["present_position"])[0] - 1000) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    _ok(*PH.write1ByteTxRx(port, 1, A["torque_enable"], 0))
    _ok(*PH.write1ByteTxRx(port, 1, A["torque_enable"], 128))
    assert abs(PH.read2ByteTxRx(port, 1, A["present_position"])[0] - 2048) <= 1
    assert abs(bus.read_register(1, "homing_offset") - (1000 - 2048)) <= 1
