"""The safety stack on a real serial line (an emulated bus on a pseudo-terminal): commands that
are refused before a byte is sent, the per-step limit sized from the period in use, failed
reads retried, stood in for, and ended with torque off when they persist."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.bus_robot import BusRobot
from drivers.emulator import ServoSpec, VirtualBus
from drivers.emulator.faults import FaultConfig
from drivers.errors import BusTimeoutError
from drivers.robot_config import JointConfig, RobotConfig, SafetyConfig
from robot_side.errors import BusFaultPersistsError, InvalidCommandError, WatchdogTrippedError
from robot_side.safety.safe_robot import SafeRobot

MODELS = {"dynamixel": "XM430-W350", "feetech": "STS3215"}
RAD_PER_TICK = 2 * np.pi / 4096


def config(protocol: str, port: str) -> RobotConfig:
    joints = tuple(JointConfig(f"j{i}", i, MODELS[protocol], -1.0, 1.0, velocity_max_rad_s=5.0) for i in (1, 2))
    return RobotConfig("test", protocol, joints, backend="serial", port=port, control_rate_hz=50.0,
                       max_step_rad=0.25)


def register(virtual: VirtualBus, name: str, ids=(1, 2)) -> list[int]:
    virtual.wait_idle()
    return [virtual.read_register(i, name) for i in ids]


def wait_torque(virtual: VirtualBus, value: int, ids=(1, 2), timeout_s: float = 2.0) -> list[int]:
    """Torque Enable of ``ids`` once every one reads ``value`` (or after ``timeout_s``): the kernel
    hands a written packet to the emulator asynchronously, later under load."""
    deadline = time.monotonic() + timeout_s
    while (values := register(virtual, "torque_enable", ids)) != [value] * len(ids) and time.monotonic() < deadline:
        time.sleep(0.01)
    return values


@pytest.mark.parametrize("protocol", sorted(MODELS))
def test_a_non_finite_command_is_refused_before_any_byte(protocol: str) -> None:
    specs = [ServoSpec(id=i, model=MODELS[protocol], return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus(protocol, specs) as virtual, SafeRobot(BusRobot(config(protocol, virtual.port)), 0.02) as robot:
        goal = register(virtual, "goal_position")
        requests = virtual.stats.requests
        for bad in ([np.nan, 0.0], [0.0, np.inf], [0.1, 0.2, 0.3]):
            with pytest.raises(InvalidCommandError, match="non-finite|shape"):
                robot.write(np.array(bad))
        assert virtual.stats.requests == requests and register(virtual, "goal_position") == goal
        assert wait_torque(virtual, 1) == [1, 1]  # refused, not a fault: the robot holds


@pytest.mark.parametrize("rate_hz", [25.0, 100.0])
def test_the_step_limit_is_sized_from_the_period_in_use(rate_hz: float) -> None:
    specs = [ServoSpec(id=i, model="STS3215", return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus("feetech", specs) as virtual, \
            SafeRobot(BusRobot(config("feetech", virtual.port)), 1.0 / rate_hz) as robot:
        step = min(0.25, 5.0 / rate_hz)
        start = register(virtual, "goal_position")
        sent = robot.write(np.array([1.0, -1.0]))
        np.testing.assert_allclose(sent, [step, -step], atol=0.02)
        ticks = np.array(register(virtual, "goal_position")) - start
        assert np.all(np.abs(ticks) * RAD_PER_TICK <= step + 0.02)


def test_transient_read_errors_are_retried_then_stood_in_for() -> None:
    """A quarter of the replies lost: reads are retried within the period; a period whose read
    still fails holds the last good state (marked stale); nothing ends the run."""
    specs = [ServoSpec(id=i, model="STS3215", return_delay_s=0.0) for i in (1, 2)]
    faults = FaultConfig(drop_probability=0.25, seed=3)
    with VirtualBus("feetech", specs, faults=faults) as virtual:
        bus_robot = BusRobot(config("feetech", virtual.port))
        settings = SafetyConfig(read_retry_fraction=0.1, max_missed_reads=50)
        with SafeRobot(bus_robot, 0.02, settings) as robot:
            states = [robot.read() for _ in range(200)]
        assert virtual.stats.dropped > 20
        assert robot.stats["read_retries"] > 0 or robot.stats["stale_reads"] > 0
        stale = [s for s in states if s.stale]
        assert len(stale) == robot.stats["stale_reads"]
        assert all(np.all(np.isfinite(s.position_rad)) for s in states)


@pytest.mark.parametrize("protocol", sorted(MODELS))
def test_a_fault_that_persists_ends_the_run_with_torque_off(protocol: str) -> None:
    specs = [ServoSpec(id=i, model=MODELS[protocol], return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus(protocol, specs) as virtual:
        bus_robot = BusRobot(config(protocol, virtual.port))
        robot = SafeRobot(bus_robot, 0.02, SafetyConfig(max_missed_reads=3)).open()
        assert wait_torque(virtual, 1) == [1, 1]
        bus_robot.bus.transport.margin_s = 0.03  # generous: on a loaded machine motor 1 must still make it
        virtual.write_register(2, "id", 9)  # motor 2 vanishes from the bus (as if its cable broke)
        assert robot.read().stale and robot.read().stale  # two periods held on the last state
        with pytest.raises(BusFaultPersistsError, match="3 period") as info:
            robot.read()
        assert isinstance(info.value.__cause__, BusTimeoutError) and "motor 2" in str(info.value)
        assert wait_torque(virtual, 0, ids=(1,)) == [0]  # the motor still reachable was made safe
        robot.close()


def test_once_the_watchdog_cut_torque_the_robot_is_never_commanded_again() -> None:
    specs = [ServoSpec(id=i, model="STS3215", return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus("feetech", specs) as virtual, SafeRobot(BusRobot(config("feetech", virtual.port)), 0.02) as robot:
        fired: list[str] = []
        robot.start_watchdog(on_fire=fired.append, hold_after_s=0.05, torque_off_after_s=0.05)
        robot.write(np.array([0.1, 0.1]))
        deadline = time.monotonic() + 2.0
        while len(fired) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fired == ["hold", "torque_off"] and wait_torque(virtual, 0) == [0, 0]
        goal = register(virtual, "goal_position")
        with pytest.raises(WatchdogTrippedError):
            robot.write(np.array([0.2, 0.2]))
        assert register(virtual, "goal_position") == goal and wait_torque(virtual, 0) == [0, 0]
