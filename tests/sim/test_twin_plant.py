"""TwinPlant: the emulated bus's plant with the twin as physics; its encoder frame, torque
and effort handling, clock, and agreement with SimRobot."""

from __future__ import annotations

import math

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from drivers.calibration import Calibration, MotorCalibration, joint_rad_to_ticks, ticks_to_joint_rad  # noqa: E402
from drivers.emulator.plant import Plant, PlantCommand  # noqa: E402
from drivers.robot_config import RobotConfig  # noqa: E402
from sim.sim_robot import RAD_PER_TICK, SimRobot  # noqa: E402
from sim.twin_plant import TwinPlant  # noqa: E402

TIMESTEP_S = 0.002


def holding(plant: TwinPlant) -> PlantCommand:
    """Torque on, every goal at the present position."""
    command = PlantCommand.idle(plant.position_rad)
    command.torque_on[:plant.n_joints] = True
    return command


def run(plant: TwinPlant, command: PlantCommand, start_s: float, duration_s: float, dt_s: float = 0.01) -> float:
    t = start_s
    for _ in range(round(duration_s / dt_s)):
        t += dt_s
        plant.advance(t, command)
    return t


def test_is_a_plant(robot_config: RobotConfig) -> None:
    plant = TwinPlant(robot_config)
    assert isinstance(plant, Plant)
    assert plant.n_servos == len(robot_config.joints) + len(robot_config.sensors)
    specs = plant.servo_specs()
    assert [s.id for s in specs] == [j.id for j in robot_config.joints] + [s.id for s in robot_config.sensors]
    np.testing.assert_allclose([s.initial_position_rad for s in specs], plant.position_rad)


def test_first_advance_only_sets_the_clock(so101_config: RobotConfig) -> None:
    plant = TwinPlant(so101_config)
    before = plant.data.qpos.copy()
    command = holding(plant)
    command.goal_position_rad[:] += 0.5
    plant.advance(1000.0, command)
    np.testing.assert_array_equal(plant.data.qpos, before)
    plant.advance(1000.0 + 5 * TIMESTEP_S + 1e-9, command)
    assert plant.data.time == pytest.approx(5 * TIMESTEP_S)


def test_encoder_convention(robot_config: RobotConfig) -> None:
    plant = TwinPlant(robot_config)
    joints = np.linspace(-0.3, 0.4, len(robot_config.joints))
    sensors = np.full(len(robot_config.sensors), 1.25)
    plant.set_state(joints, sensors)
    state = plant.advance(0.0, holding(plant))
    np.testing.assert_allclose(state.position_rad, np.concatenate([joints, sensors]) + math.pi)
    np.testing.assert_array_equal(state.torque_nm[len(joints):], 0.0)
    np.testing.assert_allclose(plant.encoder_to_joint(plant.joint_to_encoder(joints)), joints)


@pytest.mark.parametrize("fixture,sign", [("so101_config", -1), ("dclaw_config", 1)])
def test_calibration_frame_reads_back_through_the_driver(fixture: str, sign: int,
                                                         request: pytest.FixtureRequest) -> None:
    config: RobotConfig = request.getfixturevalue(fixture)
    n = len(config.joints)
    direction = np.where(np.arange(n) % 2 == 0, 1, -1)
    offsets = np.arange(n) * 97 - 200
    calibration = Calibration({j.name: MotorCalibration(j.id, int(h), int(d))
                               for j, h, d in zip(config.joints, offsets, direction)})
    plant = TwinPlant(config, calibration)
    joints = np.linspace(-0.4, 0.3, n)
    plant.set_state(joints)
    state = plant.advance(0.0, holding(plant))
    # What the emulated servo reports (present = actual + sign * offset, in ticks) and how the
    # driver maps it back.
    present_ticks = np.rint(state.position_rad[:n] / RAD_PER_TICK) + sign * offsets
    read_back = ticks_to_joint_rad(present_ticks, direction)
    assert np.max(np.abs(read_back - joints)) <= RAD_PER_TICK / 2 + 1e-12
    # And a goal the driver writes lands on the joint angle it meant.
    goal_ticks = joint_rad_to_ticks(joints + 0.1, direction)
    goal_encoder_rad = (goal_ticks - sign * offsets) * RAD_PER_TICK
    np.testing.assert_allclose(plant.encoder_to_joint(goal_encoder_rad), joints + 0.1, atol=RAD_PER_TICK / 2)


def test_goal_moves_the_joint(so101_config: RobotConfig) -> None:
    plant = TwinPlant(so101_config)
    plant.set_state(np.zeros(6))
    command = holding(plant)
    plant.advance(0.0, command)
    command.goal_position_rad[0] += 0.5  # shoulder_pan
    command.goal_position_rad[4] -= 0.3  # wrist_roll
    run(plant, command, 0.0, 1.0)
    joints = plant.joint_position_rad
    assert joints[0] == pytest.approx(0.5, abs=0.02)
    assert joints[4] == pytest.approx(-0.3, abs=0.02)


def test_torque_off_lets_the_arm_fall_and_torque_on_lifts_it_again(so101_config: RobotConfig) -> None:
    plant = TwinPlant(so101_config)
    start = np.array([0.0, 0.3, -0.5, 0.0, 0.0, 0.0])  # gripper about 0.3 m above the table
    plant.set_state(start)
    command = holding(plant)
    plant.advance(0.0, command)

    def height() -> float:
        return float(plant.data.site("gripper_site").xpos[2])

    t = run(plant, command, 0.0, 0.5)
    assert height() > 0.15  # held (the P loop sags under gravity, as the real arm does)
    command.torque_on[:] = False
    t = run(plant, command, t, 0.5)
    state = plant.advance(t, command)
    assert height() < 0.05  # fell onto the table
    np.testing.assert_array_equal(state.torque_nm, 0.0)
    command.torque_on[:] = True
    command.goal_position_rad[:] = plant.joint_to_encoder(start)
    run(plant, command, t, 1.0)
    assert height() > 0.15


def test_effort_limit_caps_the_torque(so101_config: RobotConfig) -> None:
    plant = TwinPlant(so101_config)
    plant.set_state(np.zeros(6))
    command = holding(plant)
    command.goal_position_rad[0] += 1.0
    command.effort_limit[:] = 0.1
    plant.advance(0.0, command)
    state = plant.advance(0.02, command)
    stall_nm = 1.912
    assert abs(state.torque_nm[0]) == pytest.approx(0.1 * stall_nm, rel=1e-6)
    command.effort_limit[:] = 1.0
    state = plant.advance(0.04, command)
    assert abs(state.torque_nm[0]) > 0.5 * stall_nm


def test_a_long_gap_is_capped(so101_config: RobotConfig) -> None:
    plant = TwinPlant(so101_config, max_gap_s=0.1)
    command = holding(plant)
    plant.advance(10.0, command)
    plant.advance(110.0, command)
    assert plant.data.time == pytest.approx(0.1)
    assert plant.skipped_s == pytest.approx(99.9)
    plant.advance(110.01, command)  # the clock carries on from the skip
    assert plant.data.time == pytest.approx(0.11)


# --- Twin and virtual hardware agree ----------------------------------------------------------

def test_sim_robot_and_twin_plant_agree(robot_config: RobotConfig) -> None:
    """The same commands through SimRobot (joint frame) and through the plant (as the emulated
    bus would pass them: goal ticks from the driver's conversion) give the same readings."""
    n = len(robot_config.joints)
    start = robot_config.home_rad
    sensors = np.full(len(robot_config.sensors), 0.1)
    robot = SimRobot(robot_config).open()
    robot.set_state(start, sensors)
    plant = TwinPlant(robot_config)
    plant.set_state(start, sensors)
    command = holding(plant)
    plant.advance(0.0, command)
    period_s = 1.0 / robot_config.control_rate_hz
    direction = np.ones(n)
    rng = np.random.default_rng(5)
    low, high = robot_config.position_min_rad, robot_config.position_max_rad
    worst = 0.0
    for k in range(1, 21):
        sent = robot.write(rng.uniform(low, high))
        command.goal_position_rad[:n] = joint_rad_to_ticks(sent, direction) * RAD_PER_TICK  # identity calibration
        robot.sleep_until(k * period_s)
        state = plant.advance(k * period_s, command)
        reading = robot.read()
        ticks = np.rint(state.position_rad / RAD_PER_TICK)
        from_bus = ticks_to_joint_rad(ticks, np.ones(plant.n_servos))
        twin = np.concatenate([reading.position_rad, reading.sensor_position_rad])
        worst = max(worst, float(np.max(np.abs(from_bus - twin))))
    assert worst <= RAD_PER_TICK + 1e-12, worst


def test_virtual_hardware_reads_and_moves_the_twin(dclaw_config: RobotConfig) -> None:
    """End to end: the real driver (BusRobot) over an emulated bus whose plant is the twin."""
    from drivers.bus_robot import BusRobot
    from drivers.calibration import load_calibration
    from drivers.emulator import VirtualBus

    plant = TwinPlant(dclaw_config, load_calibration(dclaw_config.calibration))
    plant.set_state(dclaw_config.home_rad, np.array([0.3]))
    with VirtualBus(dclaw_config.protocol, plant.servo_specs(), baud=dclaw_config.baud, plant=plant) as bus:
        with BusRobot(dclaw_config, port=bus.port) as robot:
            state = robot.read()
            np.testing.assert_allclose(state.position_rad, dclaw_config.home_rad, atol=RAD_PER_TICK)
            assert state.sensor_position_rad == pytest.approx([0.3], abs=RAD_PER_TICK)
            goal = dclaw_config.home_rad + 0.2
            tick = robot.now_s()
            for _ in range(3):
                robot.write(goal)
                tick += 1.0 / dclaw_config.control_rate_hz
                robot.sleep_until(tick)
            state = robot.read()
    np.testing.assert_allclose(state.position_rad, goal, atol=0.02)
    assert np.max(np.abs(plant.joint_position_rad - state.position_rad)) < 0.02
