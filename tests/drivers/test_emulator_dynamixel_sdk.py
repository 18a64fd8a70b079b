"""ROBOTIS's own Python SDK as the client of the emulated Dynamixel bus.

The SDK is an independent implementation of Protocol 2.0: if it can ping, read, write and
group-read the emulator and sees the error codes a real X-series servo returns, the emulator
speaks the protocol, not just our own reading of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import dynamixel_sdk as sdk
import pytest

from drivers.dynamixel.protocol import ALERT_BIT, HardwareError, StatusCode
from drivers.dynamixel.tables import XL330_M288, XM430_W350
from drivers.emulator import ServoSpec, VirtualBus

BAUD = 1_000_000
XM = XM430_W350
ADDR = {name: XM[name].address for name in ("id", "baud_rate", "return_delay_time", "operating_mode",
                                             "max_position_limit", "torque_enable", "led", "status_return_level",
                                             "hardware_error_status", "goal_position", "present_position",
                                             "present_velocity", "present_current", "profile_velocity",
                                             "present_input_voltage", "present_temperature", "firmware_version",
                                             "model_number", "registered_instruction", "velocity_limit")}


@pytest.fixture
def bus() -> Iterator[VirtualBus]:
    specs = [ServoSpec(id=i, model="XM430-W350", return_delay_s=0.0) for i in (1, 2, 3)]
    specs.append(ServoSpec(id=7, model="XL330-M288", return_delay_s=0.0, initial_position_rad=1.0))
    with VirtualBus("dynamixel", specs, baud=BAUD) as vbus:
        yield vbus


@pytest.fixture
def port(bus: VirtualBus) -> Iterator[sdk.PortHandler]:
    handler = sdk.PortHandler(bus.port)
    assert handler.openPort() and handler.setBaudRate(BAUD)
    yield handler
    handler.closePort()


PH = sdk.PacketHandler(2.0)


def _ok(result: int, error: int = 0) -> None:
    assert result == sdk.COMM_SUCCESS, PH.getTxRxResult(result)
    assert error == 0, PH.getRxPacketError(error)


def _signed32(value: int) -> int:
    return value - (1 << 32) if value & 0x8000_0000 else value


def test_ping_reports_model_number_and_firmware(port: sdk.PortHandler) -> None:
    model, result, error = PH.ping(port, 1)
    _ok(result, error)
    assert model == 1020
    model, result, error = PH.ping(port, 7)
    _ok(result, error)
    assert model == 1200
    firmware, result, error = PH.read1ByteTxRx(port, 1, ADDR["firmware_version"])
    _ok(result, error)
    assert firmware > 0
    _, result, _ = PH.ping(port, 4)
    assert result == sdk.COMM_RX_TIMEOUT


def test_broadcast_ping_every_servo_answers_in_id_order(port: sdk.PortHandler) -> None:
    found, result = PH.broadcastPing(port)
    _ok(result)
    assert list(found) == [1, 2, 3, 7]
    assert [found[i][0] for i in (1, 2, 3, 7)] == [1020, 1020, 1020, 1200]


def test_factory_defaults_match_the_bus(port: sdk.PortHandler) -> None:
    assert PH.read1ByteTxRx(port, 2, ADDR["baud_rate"])[0] == 3  # 1 Mbps
    assert PH.read1ByteTxRx(port, 2, ADDR["id"])[0] == 2
    assert PH.read1ByteTxRx(port, 2, ADDR["return_delay_time"])[0] == 0
    assert PH.read1ByteTxRx(port, 2, ADDR["operating_mode"])[0] == 3
    assert PH.read4ByteTxRx(port, 2, ADDR["max_position_limit"])[0] == 4095
    assert PH.read1ByteTxRx(port, 2, ADDR["status_return_level"])[0] == 2
    assert PH.read1ByteTxRx(port, 2, ADDR["torque_enable"])[0] == 0
    assert PH.read4ByteTxRx(port, 2, ADDR["present_position"])[0] == 2048
    assert PH.read4ByteTxRx(port, 2, ADDR["goal_position"])[0] == 2048
    assert 110 <= PH.read2ByteTxRx(port, 2, ADDR["present_input_voltage"])[0] <= 125
    assert 20 <= PH.read1ByteTxRx(port, 2, ADDR["present_temperature"])[0] <= 40


def test_read_and_write_one_two_and_four_bytes(port: sdk.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 1, ADDR["led"], 1))
    assert PH.read1ByteTxRx(port, 1, ADDR["led"])[:2] == (1, 0)
    _ok(*PH.write4ByteTxRx(port, 1, ADDR["profile_velocity"], 123))
    assert PH.read4ByteTxRx(port, 1, ADDR["profile_velocity"])[0] == 123
    assert PH.read2ByteTxRx(port, 1, ADDR["profile_velocity"])[0] == 123
    _ok(*PH.write2ByteTxRx(port, 1, XM["goal_pwm"].address, 300))
    assert PH.read2ByteTxRx(port, 1, XM["goal_pwm"].address)[0] == 300
    data, result, error = PH.readTxRx(port, 1, 0, 147)  # the whole control table at once
    _ok(result, error)
    assert len(data) == 147 and data[0] | data[1] << 8 == 1020


def test_eeprom_write_with_torque_on_is_refused_with_access_error(bus: VirtualBus, port: sdk.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 3, ADDR["torque_enable"], 1))
    result, error = PH.write1ByteTxRx(port, 3, ADDR["operating_mode"], 4)
    assert result == sdk.COMM_SUCCESS and error == StatusCode.ACCESS == 7
    assert bus.read_register(3, "operating_mode") == 3
    _ok(*PH.write1ByteTxRx(port, 3, ADDR["torque_enable"], 0))
    _ok(*PH.write1ByteTxRx(port, 3, ADDR["operating_mode"], 4))
    assert bus.read_register(3, "operating_mode") == 4


def test_error_codes_of_refused_writes(bus: VirtualBus, port: sdk.PortHandler) -> None:
    # Read-only register.
    assert PH.write4ByteTxRx(port, 1, ADDR["present_position"], 5)[1] == StatusCode.ACCESS
    # Half of a 4-byte register.
    assert PH.write2ByteTxRx(port, 1, ADDR["goal_position"], 100)[1] == StatusCode.DATA_LENGTH
    # Outside the register's range (torque enable is 0..1).
    assert PH.write1ByteTxRx(port, 1, ADDR["torque_enable"], 2)[1] == StatusCode.DATA_RANGE
    # Inside the register's range but beyond the position limits of position mode.
    _ok(*PH.write4ByteTxRx(port, 1, ADDR["max_position_limit"], 3000))
    assert PH.write4ByteTxRx(port, 1, ADDR["goal_position"], 3500)[1] == StatusCode.DATA_LIMIT
    assert bus.read_register(1, "goal_position") == 2048
    # Past the end of the control table.
    assert PH.readTxRx(port, 1, 140, 20)[2] == StatusCode.ACCESS
    # An instruction the servo does not know.
    packet = [0] * 10
    packet[4], packet[5], packet[7] = 1, 3, 0x50
    _, result, error = PH.txRxPacket(port, packet)
    assert result == sdk.COMM_SUCCESS and error == StatusCode.INSTRUCTION


def test_group_sync_write_then_sync_read_and_fast_sync_read(bus: VirtualBus, port: sdk.PortHandler) -> None:
    writer = sdk.GroupSyncWrite(port, PH, ADDR["led"], 1)
    for motor_id, value in ((1, 1), (2, 0), (3, 1)):
        assert writer.addParam(motor_id, [value])
    _ok(writer.txPacket())
    assert bus.wait_idle()  # a broadcast write has no reply to wait for
    assert [bus.read_register(i, "led") for i in (1, 2, 3)] == [1, 0, 1]

    reader = sdk.GroupSyncRead(port, PH, ADDR["present_position"], 4)
    for motor_id in (1, 2, 3, 7):
        assert reader.addParam(motor_id)
    _ok(reader.txRxPacket())
    assert [reader.getData(i, ADDR["present_position"], 4) for i in (1, 2, 3)] == [2048] * 3
    assert reader.getData(7, ADDR["present_position"], 4) == round(1.0 / XM["present_position"].scale)

    reader = sdk.GroupSyncRead(port, PH, ADDR["led"], 1)
    for motor_id in (3, 1, 2):
        reader.addParam(motor_id)
    _ok(reader.fastSyncRead())
    assert [reader.getData(i, ADDR["led"], 1) for i in (1, 2, 3)] == [1, 0, 1]


def test_group_bulk_read_across_models_and_bulk_write(bus: VirtualBus, port: sdk.PortHandler) -> None:
    writer = sdk.GroupBulkWrite(port, PH)
    assert writer.addParam(1, ADDR["led"], 1, [1])
    assert writer.addParam(7, XL330_M288["profile_velocity"].address, 4, [50, 0, 0, 0])
    _ok(writer.txPacket())
    assert bus.wait_idle()
    reader = sdk.GroupBulkRead(port, PH)
    assert reader.addParam(1, ADDR["led"], 1)
    assert reader.addParam(7, XL330_M288["model_number"].address, 2)
    assert reader.addParam(2, ADDR["present_position"], 4)
    _ok(reader.txRxPacket())
    assert reader.getData(1, ADDR["led"], 1) == 1
    assert reader.getData(7, 0, 2) == 1200
    assert reader.getData(2, ADDR["present_position"], 4) == 2048
    assert bus.read_register(7, "profile_velocity") == 50


def test_goal_position_moves_present_position(port: sdk.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 1, ADDR["torque_enable"], 1))
    _ok(*PH.write4ByteTxRx(port, 1, ADDR["goal_position"], 2048 + 600))
    time.sleep(0.05)
    moving_velocity = _signed32(PH.read4ByteTxRx(port, 1, ADDR["present_velocity"])[0])
    current = PH.read2ByteTxRx(port, 1, ADDR["present_current"])[0]
    assert moving_velocity > 50  # 0.229 rpm units: well above zero while it travels
    assert 0 < current < XM["current_limit"].max_raw
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        position = PH.read4ByteTxRx(port, 1, ADDR["present_position"])[0]
        velocity = _signed32(PH.read4ByteTxRx(port, 1, ADDR["present_velocity"])[0])
        if abs(position - 2648) <= 1 and velocity == 0:
            break
        time.sleep(0.02)
    assert abs(position - 2648) <= 1 and velocity == 0


def test_reg_write_applies_on_action(bus: VirtualBus, port: sdk.PortHandler) -> None:
    _ok(*PH.regWriteTxRx(port, 2, ADDR["led"], 1, [1]))
    assert bus.read_register(2, "led") == 0
    assert bus.read_register(2, "registered_instruction") == 1
    _ok(PH.action(port, sdk.BROADCAST_ID))
    assert bus.wait_idle()
    assert bus.read_register(2, "led") == 1
    assert bus.read_register(2, "registered_instruction") == 0


def test_hardware_error_sets_alert_turns_torque_off_until_reboot(bus: VirtualBus, port: sdk.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 2, ADDR["torque_enable"], 1))
    bus.inject_hardware_error(2, HardwareError.OVERLOAD)
    value, result, error = PH.read1ByteTxRx(port, 2, ADDR["hardware_error_status"])
    assert result == sdk.COMM_SUCCESS and error == ALERT_BIT and value == HardwareError.OVERLOAD
    assert PH.read1ByteTxRx(port, 2, ADDR["torque_enable"])[0] == 0
    PH.write1ByteTxRx(port, 2, ADDR["torque_enable"], 1)
    assert bus.read_register(2, "torque_enable") == 0  # cannot come back on before a reboot
    assert PH.ping(port, 1)[2] == 0  # other servos are unaffected
    result, error = PH.reboot(port, 2)
    assert result == sdk.COMM_SUCCESS
    value, result, error = PH.read1ByteTxRx(port, 2, ADDR["hardware_error_status"])
    _ok(result, error)
    assert value == 0


def test_status_return_level_one_answers_reads_only(bus: VirtualBus, port: sdk.PortHandler) -> None:
    bus.write_register(3, "status_return_level", 1)
    result, _ = PH.write1ByteTxRx(port, 3, ADDR["led"], 1)
    assert result == sdk.COMM_RX_TIMEOUT
    assert bus.read_register(3, "led") == 1  # applied, just not answered
    assert PH.read1ByteTxRx(port, 3, ADDR["led"])[:2] == (1, sdk.COMM_SUCCESS)


def test_rewritten_id_answers_under_the_new_id(bus: VirtualBus, port: sdk.PortHandler) -> None:
    _ok(*PH.write1ByteTxRx(port, 3, ADDR["id"], 9))
    assert PH.ping(port, 9)[:2] == (1020, sdk.COMM_SUCCESS)
    assert PH.ping(port, 3)[1] == sdk.COMM_RX_TIMEOUT
    assert bus.ids == [1, 2, 9, 7]


def test_servos_only_hear_a_client_at_their_baud(bus: VirtualBus, port: sdk.PortHandler) -> None:
    assert port.setBaudRate(57_600)
    assert PH.ping(port, 1)[1] == sdk.COMM_RX_TIMEOUT
    assert port.setBaudRate(BAUD)
    _ok(*PH.write1ByteTxRx(port, 1, ADDR["baud_rate"], 1))  # the reply still leaves at 1 Mbps
    assert PH.ping(port, 1)[1] == sdk.COMM_RX_TIMEOUT
    assert port.setBaudRate(57_600)
    assert PH.ping(port, 1)[:2] == (1020, sdk.COMM_SUCCESS)
    assert PH.ping(port, 2)[1] == sdk.COMM_RX_TIMEOUT
