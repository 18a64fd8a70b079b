"""The ``VirtualBus`` Python API: construction checks, lifecycle, inspection, pluggable plant."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import serial

from drivers.dynamixel import protocol as dxl
from drivers.emulator import Plant, PlantCommand, PlantState, ServoSpec, VirtualBus
from drivers.errors import ConfigurationError, EmulatorError
from drivers.feetech import protocol as ft


@pytest.mark.parametrize("protocol, servos", [
    ("canopen", [ServoSpec(1, "XM430-W350")]),
    ("dynamixel", []),
    ("dynamixel", [ServoSpec(1, "STS3215")]),
    ("feetech", [ServoSpec(1, "STS3215"), ServoSpec(1, "STS3215")]),
])
def test_bad_configurations_are_refused_before_anything_opens(protocol: str, servos: list) -> None:
    with pytest.raises(ConfigurationError):
        VirtualBus(protocol, servos)


def test_a_baud_the_model_cannot_do_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="baud"):
        VirtualBus("feetech", [ServoSpec(1, "STS3215")], baud=9_600)


def test_spec_checks() -> None:
    with pytest.raises(ConfigurationError):
        ServoSpec(253, "XM430-W350")
    with pytest.raises(ConfigurationError):
        ServoSpec(1, "XM430-W350", return_delay_s=1e-3)
    assert ServoSpec(1, "XM430-W350", return_delay_s=100e-6).return_delay_raw == 50


def test_port_needs_a_started_bus_and_stop_is_idempotent() -> None:
    bus = VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350")])
    with pytest.raises(EmulatorError):
        _ = bus.port
    bus.start()
    assert bus.running and os.path.exists(bus.port)
    bus.stop()
    bus.stop()
    assert not bus.running
    bus.check()


def test_link_points_at_the_port_and_is_removed_on_stop(tmp_path: Path) -> None:
    link = tmp_path / "ttyVIRTUAL0"
    link.symlink_to("/dev/null")  # a stale link from an earlier run is replaced
    with VirtualBus("feetech", [ServoSpec(1, "STS3215")], link=link) as bus:
        assert os.readlink(link) == bus.port
        with serial.Serial(str(link), 1_000_000, timeout=0.2) as port:
            port.write(ft.ping(1))
            assert ft.decode(port.read(6)).motor_id == 1
    assert not link.exists() and not link.is_symlink()


def test_a_regular_file_is_never_replaced_by_the_link(tmp_path: Path) -> None:
    path = tmp_path / "precious"
    path.write_text("keep")
    with pytest.raises(ConfigurationError):
        VirtualBus("feetech", [ServoSpec(1, "STS3215")], link=path).start()
    assert path.read_text() == "keep"


def test_mixed_models_report_their_own_model_numbers() -> None:
    specs = [ServoSpec(1, "XM430-W350"), ServoSpec(2, "XL430-W250"), ServoSpec(3, "XL330-M288")]
    with VirtualBus("dynamixel", specs) as bus:
        assert [bus.read_register(i, "model_number") for i in (1, 2, 3)] == [1020, 1060, 1200]
        assert bus.read_register(2, "present_load") == 0  # XL430: load instead of current
        with pytest.raises(ConfigurationError):
            bus.read_register(2, "present_current")
        with pytest.raises(ConfigurationError):
            bus.read_register(9, "id")


def test_memory_poke_and_eeprom_bookkeeping() -> None:
    with VirtualBus("feetech", [ServoSpec(1, "STS3215")]) as bus:
        bus.write_register(1, "max_position_limit", 3000)  # lock = 1: not persisted
        assert bus.read_register(1, "max_position_limit") == 3000
        assert bus.saved_eeprom(1)[11:13] == (4095).to_bytes(2, "little")
        bus.write_memory(1, 55, b"\x00")  # unlock
        bus.write_register(1, "max_position_limit", 3001)
        assert bus.saved_eeprom(1)[11:13] == (3001).to_bytes(2, "little")
        assert bus.read_memory(1, 3, 2) == (777).to_bytes(2, "little")
        with pytest.raises(ConfigurationError):
            bus.write_register(1, "lock", 2)
        with pytest.raises(ConfigurationError):
            bus.inject_hardware_error(1, 0)


class _FixedPlant:
    """A plant that holds every shaft at 1 rad and records the commands it was given."""

    def __init__(self, n: int) -> None:
        self.goals: list[np.ndarray] = []
        self.n = n

    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        self.goals.append(command.goal_position_rad.copy())
        return PlantState(np.ones(self.n), np.zeros(self.n), np.zeros(self.n))


def test_a_custom_plant_drives_the_present_registers_and_sees_the_goals() -> None:
    plant = _FixedPlant(2)
    assert isinstance(plant, Plant)
    specs = [ServoSpec(1, "XM430-W350", return_delay_s=0.0), ServoSpec(2, "XM430-W350", return_delay_s=0.0)]
    with VirtualBus("dynamixel", specs, plant=plant) as bus, serial.Serial(bus.port, 1_000_000, timeout=0.2) as port:
        port.write(dxl.read(2, 132, 4))
        reply = dxl.decode(port.read(15))
        assert int.from_bytes(reply.params, "little") == round(1.0 / (2 * np.pi / 4096))
        bus.write_register(2, "torque_enable", 1)
        bus.write_register(2, "goal_position", 3072)
        bus.plant_state()
    assert plant.goals[-1][1] == pytest.approx(3072 * 2 * np.pi / 4096)
