"""MotorBus over the emulated bus: group reads/writes in SI units, errors before bytes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from drivers.bus_factory import make_bus
from drivers.dynamixel.bus import DynamixelBus
from drivers.emulator import ServoSpec, VirtualBus
from drivers.errors import ConfigurationError, StatusError
from drivers.motor import Motor

CASES = {"dynamixel": "XM430-W350", "feetech": "STS3215"}


@pytest.fixture(params=sorted(CASES))
def bus_pair(request):
    protocol = request.param
    model = CASES[protocol]
    specs = [ServoSpec(id=i, model=model, return_delay_s=0.0) for i in (1, 2, 3)]
    motors = [Motor(f"m{i}", i, model) for i in (1, 2, 3)]
    with VirtualBus(protocol, specs, baud=1_000_000) as virtual:
        with make_bus(protocol, virtual.port, motors, baud=1_000_000, return_delay_s=0.0) as bus:
            yield virtual, bus


def test_ping_reports_model_and_firmware(bus_pair) -> None:
    virtual, bus = bus_pair
    result = bus.ping(2)
    assert result.model == bus.motors["m2"].model
    assert result.model_number == bus.tables["m2"].model_number
    assert result.firmware


def test_group_write_then_read_in_si_units(bus_pair) -> None:
    virtual, bus = bus_pair
    goal = np.array([3.0, 3.2, 2.9])
    bus.write_raw("torque_enable", [1, 1, 1])
    bus.write("goal_position", goal)
    virtual.wait_idle()
    ticks = [virtual.read_register(i, "goal_position") for i in (1, 2, 3)]
    assert ticks == list(np.rint(goal / (2 * np.pi / 4096)).astype(int))
    values = bus.read("goal_position")
    assert np.allclose(values, goal, atol=2 * np.pi / 4096)


def test_read_many_is_one_transaction(bus_pair) -> None:
    virtual, bus = bus_pair
    before = virtual.stats.requests
    out = bus.read_many(["present_position", "present_velocity"])
    assert virtual.stats.requests == before + 1
    assert out["present_position"].shape == (3,)
    assert np.allclose(out["present_position"], np.pi, atol=0.01)  # power-on pose: tick 2048


@pytest.mark.parametrize("call,message", [
    (lambda bus: bus.write("goal_position", [1e6, 0, 0]), r"outside register goal_position of motor 1"),
    (lambda bus: bus.read("present_postion"), r"no register 'present_postion'"),
    (lambda bus: bus.read("present_position", ["m9"]), r"no motor named 'm9'"),
    (lambda bus: bus.write_raw("torque_enable", [1, 1]), r"2 values for 3 motors"),
    (lambda bus: bus.write_raw("present_position", [1, 1, 1]), r"read-only"),
    (lambda bus: bus.read_register_one(300, bus.motors["m1"].model, "id"), r"out of range"),
])
def test_bad_input_fails_before_any_byte(bus_pair, call, message) -> None:
    virtual, bus = bus_pair
    before = virtual.stats.requests
    with pytest.raises(ConfigurationError, match=message):
        call(bus)
    virtual.wait_idle()
    assert virtual.stats.requests == before


def test_unknown_model_in_config() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown Feetech model 'STS9999' \(motor 'a'\)"):
        make_bus("feetech", "loop://", [Motor("a", 1, "STS9999")])


def test_two_threads_share_one_bus(bus_pair) -> None:
    virtual, bus = bus_pair
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(100):
                assert bus.read("present_position").shape == (3,)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(100):
        bus.read_raw("present_temperature")
    for t in threads:
        t.join()
    assert not errors  # (retries may happen on a loaded machine; interleaving must not corrupt)


def test_dynamixel_eeprom_refused_with_torque_on() -> None:
    specs = [ServoSpec(id=1, model="XM430-W350", return_delay_s=0.0)]
    with VirtualBus("dynamixel", specs) as virtual, DynamixelBus(virtual.port, [Motor("a", 1, "XM430-W350")],
                                                                return_delay_s=0.0) as bus:
        bus.write_register_one(1, "XM430-W350", "torque_enable", 1)
        with pytest.raises(ConfigurationError, match="while its torque is on") as info:
            bus.write_register_one(1, "XM430-W350", "return_delay_time", 0)
        assert isinstance(info.value.__cause__, StatusError) and info.value.__cause__.flags == ("ACCESS",)


def test_dynamixel_fast_sync_read_and_bulk_read_agree() -> None:
    specs = [ServoSpec(id=i, model="XM430-W350", initial_position_rad=1.0 + i, return_delay_s=0.0)
             for i in (1, 2)]
    motors = [Motor(f"m{i}", i, "XM430-W350") for i in (1, 2)]
    with VirtualBus("dynamixel", specs) as virtual, DynamixelBus(virtual.port, motors, return_delay_s=0.0) as bus:
        plain = bus.read_raw("present_position")
        bus.fast_sync_read = True
        fast = bus.read_raw("present_position")
        bulk = [int.from_bytes(b, "little") for b in bus.bulk_read([(1, 132, 4), (2, 132, 4)])]
    assert list(plain) == list(fast) == bulk
    assert plain[1] - plain[0] == pytest.approx(4096 / (2 * np.pi), abs=2)


def test_feetech_eeprom_write_is_locked_again_and_persists() -> None:
    specs = [ServoSpec(id=1, model="STS3215")]
    with VirtualBus("feetech", specs) as virtual, make_bus("feetech", virtual.port, [Motor("a", 1, "STS3215")]) as bus:
        bus.write_register_one(1, "STS3215", "max_position_limit", 3000)
        assert virtual.read_register(1, "lock") == 1
        virtual.power_cycle(1)
        assert virtual.read_register(1, "max_position_limit") == 3000


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_set_id_and_baud(protocol: str) -> None:
    model = CASES[protocol]
    with VirtualBus(protocol, [ServoSpec(id=1, model=model, return_delay_s=0.0)]) as virtual:
        with make_bus(protocol, virtual.port, baud=1_000_000, return_delay_s=0.0) as bus:
            bus.write_register_one(1, model, "id", 7)
            assert bus.ping(7).model == model
            value = bus.table(model).baud_value(500_000 if protocol == "feetech" else 2_000_000)
            bus.write_register_one(7, model, "baud_rate", value)
            bus.transport.set_baud(bus.table(model).baud_rates[value])
            assert bus.ping(7).id == 7
