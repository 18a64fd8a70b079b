"""BusRobot on the emulated bus: checks at open, limits, torque off on close. (Torque off on a
failed read is the safety stack's: tests/robot_side/test_safe_robot.py.)"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from drivers.bus_robot import BusRobot
from drivers.calibration import Calibration, CalibrationMismatchError, MotorCalibration
from drivers.emulator import ServoSpec, VirtualBus
from drivers.errors import ConfigurationError
from drivers.robot import Robot
from drivers.robot_config import JointConfig, RobotConfig, SensorConfig
from robot_side.safety.safe_robot import SafeRobot

MODELS = {"dynamixel": "XM430-W350", "feetech": "STS3215"}


def config(protocol: str, port: str, **kw) -> RobotConfig:
    model = MODELS[protocol]
    joints = tuple(JointConfig(f"j{i}", i, model, -1.0, 1.0, velocity_max_rad_s=5.0) for i in (1, 2))
    return RobotConfig("test", protocol, joints, backend="serial", port=port, control_rate_hz=50.0,
                       max_step_rad=0.05, **kw)


def torque(virtual: VirtualBus, ids=(1, 2), expect: int | None = None) -> list[int]:
    """Torque Enable of ``ids``; with ``expect``, waits up to 2 s for every one to read it (the
    kernel hands a written packet to the emulator asynchronously, later under load)."""
    deadline = time.monotonic() + 2.0
    while True:
        virtual.wait_idle()
        values = [virtual.read_register(i, "torque_enable") for i in ids]
        if expect is None or all(v == expect for v in values) or time.monotonic() > deadline:
            return values
        time.sleep(0.01)


@pytest.mark.parametrize("protocol", sorted(MODELS))
def test_open_read_write_close(protocol: str) -> None:
    specs = [ServoSpec(id=i, model=MODELS[protocol], return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus(protocol, specs) as virtual:
        robot = BusRobot(config(protocol, virtual.port))
        assert isinstance(robot, Robot)
        with robot:
            assert torque(virtual, expect=1) == [1, 1]
            # The servo's own limits were programmed: +/-1 rad around tick 2048.
            assert virtual.read_register(1, "min_position_limit") == round(2048 - 1.0 / (2 * math.pi / 4096))
            state = robot.read()
            assert np.allclose(state.position_rad, 0.0, atol=0.01) and not state.has_fault
            sent = robot.write(np.array([0.02, -0.02]))
            assert np.allclose(sent, [0.02, -0.02])
        assert torque(virtual, expect=0) == [0, 0]


@pytest.mark.parametrize("protocol", sorted(MODELS))
def test_poll_replies_polls_the_whole_wait(protocol: str) -> None:
    specs = [ServoSpec(id=i, model=MODELS[protocol], return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus(protocol, specs) as virtual:
        default = BusRobot(config(protocol, virtual.port))
        assert default.bus.transport.spin_s == pytest.approx(0.5e-3)  # sleeps until 0.5 ms before a reply
        with BusRobot(config(protocol, virtual.port, poll_replies=True)) as robot:
            assert robot.bus.transport.spin_s == math.inf
            assert np.allclose(robot.read().position_rad, 0.0, atol=0.01)
            assert np.allclose(robot.write(np.array([0.02, -0.02])), [0.02, -0.02])


@pytest.mark.parametrize("protocol", sorted(MODELS))
@pytest.mark.parametrize("behind_the_safety_stack", [False, True])
def test_extreme_commands_never_pass_the_limits(protocol: str, behind_the_safety_stack: bool) -> None:
    """The robot's own write clips to the joint range; behind the safety stack (as every caller
    drives it) the per-step limit holds too."""
    specs = [ServoSpec(id=i, model=MODELS[protocol], return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus(protocol, specs) as virtual, BusRobot(config(protocol, virtual.port)) as bus_robot:
        robot = SafeRobot(bus_robot, 1 / 50) if behind_the_safety_stack else bus_robot
        step = 0.05 if behind_the_safety_stack else 2.0
        rng = np.random.default_rng(0)
        last = robot.read().position_rad
        max_tick = round(1.0 / (2 * math.pi / 4096))
        for _ in range(200):
            sent = robot.write(rng.choice([-100.0, 100.0], size=2))
            assert np.all(np.abs(sent) <= 1.0) and np.all(np.abs(sent - last) <= step + 1e-9)
            last = sent
            virtual.wait_idle()
            goals = [virtual.read_register(i, "goal_position") - 2048 for i in (1, 2)]
            assert all(abs(g) <= max_tick for g in goals)


def test_wrong_model_is_refused_and_torque_stays_off() -> None:
    specs = [ServoSpec(id=1, model="XL430-W250", return_delay_s=0.0), ServoSpec(id=2, model="XM430-W350")]
    with VirtualBus("dynamixel", specs) as virtual:
        with pytest.raises(ConfigurationError, match=r"motor 'j1' \(id 1\) is a XL430-W250 .* config says XM430-W350"):
            BusRobot(config("dynamixel", virtual.port)).open()
        assert torque(virtual, expect=0) == [0, 0]


def test_calibration_mismatch_names_the_joint() -> None:
    specs = [ServoSpec(id=i, model="STS3215") for i in (1, 2)]
    calibration = Calibration({"j1": MotorCalibration(1, 0), "j2": MotorCalibration(2, 120)})
    with VirtualBus("feetech", specs) as virtual:
        with pytest.raises(CalibrationMismatchError, match=r"j2 \(id 2\) holds 0, calibration says 120"):
            BusRobot(config("feetech", virtual.port), calibration=calibration).open()


def test_limits_outside_calibrated_range_refused() -> None:
    calibration = Calibration({"j1": MotorCalibration(1, 0, 1, -0.5, 0.5), "j2": MotorCalibration(2, 0)})
    with pytest.raises(ConfigurationError, match=r"joint j1: limits .* exceed the calibrated range"):
        BusRobot(config("feetech", "loop://"), calibration=calibration)


def test_hardware_fault_is_reported_per_joint() -> None:
    specs = [ServoSpec(id=i, model="XM430-W350", return_delay_s=0.0) for i in (1, 2)]
    with VirtualBus("dynamixel", specs) as virtual, BusRobot(config("dynamixel", virtual.port)) as robot:
        virtual.inject_hardware_error(2, 0x20)  # overload
        state = robot.read()
        assert state.faults == ((), ("OVERLOAD",))
        assert "j2: OVERLOAD" in state.fault_summary(robot.spec.joint_names)


def test_passive_sensor_is_read_and_never_torqued() -> None:
    specs = [ServoSpec(id=i, model="XM430-W350", return_delay_s=0.0) for i in (1, 2)]
    specs.append(ServoSpec(id=15, model="XM430-W350", initial_position_rad=math.pi + 0.3, return_delay_s=0.0))
    with VirtualBus("dynamixel", specs) as virtual:
        cfg = config("dynamixel", virtual.port, sensors=(SensorConfig("valve", 15, "XM430-W350"),))
        with BusRobot(cfg) as robot:
            state = robot.read()
            assert robot.spec.sensor_names == ("valve",)
            assert state.sensor_position_rad == pytest.approx([0.3], abs=2e-3)
            assert torque(virtual, (15,), expect=0) == [0]
