"""MotorBus over the emulated bus: group reads/writes in SI units, errors before bytes."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from drivers.bus_factory import make_bus
from drivers.dynamixel import protocol as dxl
from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.fast_sync_reply import FastSyncReplyLayout
from drivers.emulator import PlantCommand, PlantState, ServoModelPlant, ServoSpec, VirtualBus, params_for
from drivers.emulator.pty import PseudoTerminal
from drivers.errors import BusTimeoutError, ConfigurationError, StatusError
from drivers.feetech import protocol as ft
from drivers.motor import Motor
from drivers.sync_reply import SyncReplyLayout
from drivers.transport import SerialTransport

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
    positions = [virtual.read_register(i, "present_position") for i in (1, 2, 3)]
    temperatures = [virtual.read_register(i, "present_temperature") for i in (1, 2, 3)]
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(100):
                assert bus.read_raw("present_position").tolist() == positions
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(100):
            assert bus.read_raw("present_temperature").tolist() == temperatures
    finally:
        for t in threads:
            t.join()
    # Retries may happen on a loaded machine, and a reply too late for one thread's read may
    # arrive during another's: it is skipped, never taken for the other's reply.
    print(f"\n{bus.name}, 2 threads reading positions, 1 temperatures: bus: {dict(bus.stats)}")  # bench/bus_stress.py
    assert not errors


class _StallablePlant:
    """The default plant, able to hold the emulator's serving thread where it next advances
    the shafts (on its idle tick or while answering a request), as a loaded machine that
    keeps that thread off the CPU would: the replies it owes then come late."""

    def __init__(self, specs: Sequence[ServoSpec]) -> None:
        self._plant = ServoModelPlant([params_for(s.model) for s in specs], [s.initial_position_rad for s in specs])
        self._go = threading.Event()
        self._go.set()

    def stall(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        self._go.wait(timeout=5.0)
        return self._plant.advance(now_s, command)


class _PortWithHook(SerialTransport):
    """A serial port that calls ``after_write`` (once) when the next packet has been written."""

    after_write: Callable[[], None] | None = None

    def write(self, data: bytes) -> None:
        super().write(data)
        hook, self.after_write = self.after_write, None
        if hook is not None:
            hook()


@pytest.mark.parametrize("late,awaited", [("present_temperature", "present_position"),
                                          ("present_position", "present_temperature")])
@pytest.mark.parametrize("protocol,how", [("dynamixel", "read"), ("dynamixel", "sync read"),
                                          ("dynamixel", "fast sync read"), ("feetech", "read"),
                                          ("feetech", "sync read")])
def test_late_reply_from_the_same_motor_is_skipped(protocol: str, how: str, late: str, awaited: str) -> None:
    """One read times out; its reply (1 data byte, or 4 or 2) arrives during the next read of
    the same motors, after that read dropped stale input, and before the awaited reply (2 or
    4 data bytes, or 1). The late reply names the same motor: it is told apart by its size,
    skipped, and the next read returns the right values."""
    model = CASES[protocol]
    ids = (1, 2, 3)
    specs = [ServoSpec(id=i, model=model, initial_position_rad=0.5 * i + 1.0, return_delay_s=0.0) for i in ids]
    motors = [Motor(f"m{i}", i, model) for i in ids]
    plant = _StallablePlant(specs)
    with VirtualBus(protocol, specs, plant=plant) as virtual:
        truth = [virtual.read_register(i, awaited) for i in ids]
        port = _PortWithHook(virtual.port, 1_000_000, margin_s=0.2)
        extra = {"fast_sync_read": True} if how == "fast sync read" else {}
        with make_bus(protocol, port, motors, retries=0, return_delay_s=0.0, **extra) as bus:

            def read(register: str) -> list[int]:
                if how == "read":
                    return [bus.read_register_one(1, model, register)]
                return bus.read_raw(register).tolist()

            plant.stall()
            try:
                with pytest.raises(BusTimeoutError):
                    read(late)
                port.after_write = plant.resume  # the emulator answers once the next request is out
                values = read(awaited)
            finally:
                plant.resume()
        assert values == truth[:len(values)]
        late_packets = 3 if how == "sync read" else 1
        assert bus.stats["stale_replies"] == late_packets
        assert virtual.stats.replies == 2 * late_packets  # the late replies were sent, and skipped


@pytest.mark.parametrize("name", ["dynamixel", "dynamixel fast sync read", "feetech"])
def test_one_pass_split_refuses_late_replies_of_another_size(name: str) -> None:
    """The fast path takes a block only when it is exactly the awaited packets: a block that
    starts with late replies of another size goes to the packet-by-packet parse."""
    ids = [1, 2, 3]
    length = 2 if name == "feetech" else 4

    def replies(size: int) -> bytes:  # to a read of ``size`` bytes from ``ids``
        if name == "dynamixel fast sync read":
            return dxl.fast_sync_status([(0, i, bytes([i]) + bytes(size - 1)) for i in ids])
        protocol = ft if name == "feetech" else dxl
        return b"".join(protocol.status(i, 0, bytes([i]) + bytes(size - 1)) for i in ids)

    if name == "dynamixel fast sync read":
        layout = FastSyncReplyLayout(ids, length)
    else:
        layout = SyncReplyLayout(ft if name == "feetech" else dxl, ids, length)
    awaited, late = replies(length), replies(1)
    assert layout.split(awaited) is not None
    assert layout.split((late + awaited)[:layout.size]) is None


def test_a_written_request_is_pending_at_once() -> None:
    """What makes ``VirtualBus.wait_idle`` exact (``test_group_write_then_read_in_si_units``
    relies on it): a byte the client has written counts as pending for the emulator as soon as
    the write returns, although the kernel hands it to the master side later."""
    pty = PseudoTerminal()
    client = os.open(pty.slave_path, os.O_RDWR | os.O_NOCTTY)
    try:
        for n in range(5000):  # a bare FIONREAD missed 1 to 93 % of writes here, run to run
            os.write(client, bytes(n % 40 + 1))
            assert pty.pending_bytes() == n % 40 + 1, f"write {n}: not all of it pending at once"
            while pty.pending_bytes():
                os.read(pty.master_fd, 4096)
    finally:
        os.close(client)
        pty.close()


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
