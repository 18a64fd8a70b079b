"""SimRobot: the Robot protocol on the MuJoCo twin, its clock, latency, noise, quantisation,
domain randomisation, limits, sensors and rendering."""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from drivers.robot import Robot  # noqa: E402
from drivers.robot_config import RobotConfig  # noqa: E402
from drivers.servo_params import STS3215_PARAMS  # noqa: E402
from robot_side.safety.safe_robot import SafeRobot  # noqa: E402
from sim.errors import RenderUnavailableError, RobotNotOpenError, SimConfigurationError  # noqa: E402
from sim.sim_config import DomainRandomization, SimConfig  # noqa: E402
from sim.sim_robot import RAD_PER_TICK, SimRobot, control_period_steps  # noqa: E402

TIMESTEP_S = 0.002


def opened(config: RobotConfig, sim: SimConfig = SimConfig(), seed: int | None = 0,
           start: np.ndarray | None = None) -> SimRobot:
    robot = SimRobot(config, sim, seed=seed).open()
    robot.set_state(config.home_rad if start is None else start)
    return robot


def random_commands(config: RobotConfig, n: int, seed: int = 0, span: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    low, high = config.position_min_rad, config.position_max_rad
    middle, half = (low + high) / 2, span * (high - low) / 2
    return [rng.uniform(middle - half, middle + half) for _ in range(n)]


# --- The interface and the clock --------------------------------------------------------------

def test_is_a_robot(robot_config: RobotConfig) -> None:
    robot = SimRobot(robot_config)
    assert isinstance(robot, Robot)
    assert robot.spec.joint_names == robot_config.joint_names
    assert robot.spec.sensor_names == robot_config.sensor_names
    assert robot.period_steps == round(1 / robot_config.control_rate_hz / TIMESTEP_S)
    with robot:
        state = robot.read()
    n = len(robot_config.joints)
    assert state.position_rad.shape == state.velocity_rad_s.shape == state.effort.shape == (n,)
    assert state.sensor_position_rad.shape == (len(robot_config.sensors),)
    assert state.faults == tuple(() for _ in robot_config.joints) and not state.has_fault


def test_closed_robot_refuses(so101_config: RobotConfig) -> None:
    robot = SimRobot(so101_config)
    with pytest.raises(RobotNotOpenError, match="not open"):
        robot.read()
    with robot:
        robot.read()
    with pytest.raises(RobotNotOpenError):
        robot.write(so101_config.home_rad)


@pytest.mark.parametrize("rate_hz", [30.0, 7.0, 1000.0])
def test_control_period_must_be_whole_steps(so101_config: RobotConfig, rate_hz: float) -> None:
    config = dataclasses.replace(so101_config, control_rate_hz=rate_hz)
    with pytest.raises(SimConfigurationError, match=r"control period .* ms .* physics steps of 2 ms") as info:
        SimRobot(config)
    assert f"{1e3 / rate_hz:g} ms" in str(info.value)


def test_control_period_steps() -> None:
    assert control_period_steps(20.0, 0.002) == 25
    assert control_period_steps(500.0, 0.002) == 1
    with pytest.raises(SimConfigurationError, match="16.67 steps"):
        control_period_steps(30.0, 0.002)


def test_sleep_until_steps_exactly_like_raw_mujoco(so101_config: RobotConfig) -> None:
    robot = opened(so101_config)
    reference = mujoco.MjData(robot.model)
    mujoco.mj_copyData(reference, robot.model, robot.data)
    start_s = robot.now_s()
    command = robot.write(so101_config.home_rad + 0.2)
    reference.ctrl[robot.twin.actuator] = np.rint(command / RAD_PER_TICK) * RAD_PER_TICK
    for k in range(1, 4):
        late = robot.sleep_until(start_s + k * 0.05)
        assert late == 0.0
        assert robot.now_s() == pytest.approx(start_s + k * 0.05, abs=1e-12)
        mujoco.mj_step(robot.model, reference, 25)
        np.testing.assert_array_equal(robot.data.qpos, reference.qpos)
        np.testing.assert_array_equal(robot.data.qvel, reference.qvel)


def test_sleep_until_rounds_up_to_a_step_and_never_goes_back(so101_config: RobotConfig) -> None:
    robot = opened(so101_config)
    start_s = robot.now_s()
    late = robot.sleep_until(start_s + 0.0031)  # 1.55 steps -> 2 steps
    assert robot.now_s() == pytest.approx(start_s + 0.004)
    assert late == pytest.approx(0.0009)
    assert robot.sleep_until(start_s) == pytest.approx(0.004)  # in the past: no step
    assert robot.now_s() == pytest.approx(start_s + 0.004)
    robot.set_state(so101_config.home_rad)  # a new episode: time keeps running
    assert robot.now_s() == pytest.approx(start_s + 0.004)


def test_realtime_paces_to_the_wall_clock(so101_config: RobotConfig) -> None:
    robot = opened(so101_config, SimConfig(realtime=True))
    start_wall, start_s = time.monotonic(), robot.now_s()
    for k in range(1, 4):
        late = robot.sleep_until(start_s + k * 0.05)
        assert 0.0 <= late < 0.03
    assert time.monotonic() - start_wall >= 0.15 - 0.005


# --- Latency ---------------------------------------------------------------------------------------

def test_action_latency_delays_the_effect(so101_config: RobotConfig) -> None:
    sim = SimConfig(action_latency_s=0.01, quantize=False)  # 5 physics steps
    moved, held = opened(so101_config, sim), opened(so101_config, sim)
    assert moved.action_latency_s == pytest.approx(0.01)
    home = so101_config.home_rad
    moved.write(home + 0.2)
    held.write(home)
    for k in range(1, 6):  # steps 1..5 still run under the old goal
        moved.sleep_until(k * TIMESTEP_S)
        held.sleep_until(k * TIMESTEP_S)
        np.testing.assert_array_equal(moved.data.qpos, held.data.qpos)
    moved.sleep_until(6 * TIMESTEP_S)
    held.sleep_until(6 * TIMESTEP_S)
    assert np.all(moved.data.qpos[moved.twin.joint_qpos] > held.data.qpos[held.twin.joint_qpos])


def test_action_latency_equals_writing_later(so101_config: RobotConfig) -> None:
    late_robot = opened(so101_config, SimConfig(action_latency_s=0.008))  # 4 steps
    ideal = opened(so101_config)
    commands = random_commands(so101_config, 6, span=0.3)
    for k, command in enumerate(commands):
        tick = k * 0.05
        late_robot.sleep_until(tick)
        late_robot.write(command)
        ideal.sleep_until(tick + 0.008)
        ideal.write(command)
    late_robot.sleep_until(0.5)
    ideal.sleep_until(0.5)
    np.testing.assert_array_equal(late_robot.data.qpos, ideal.data.qpos)


def test_observation_latency_returns_the_past_state(robot_config: RobotConfig) -> None:
    delayed = opened(robot_config, SimConfig(observation_latency_s=0.006))  # 3 steps
    ideal = opened(robot_config)
    period_s = 1.0 / robot_config.control_rate_hz
    for k, command in enumerate(random_commands(robot_config, 8, span=0.5), start=1):
        delayed.write(command)
        ideal.write(command)
        delayed.sleep_until(k * period_s)
        ideal.sleep_until(k * period_s - 0.006)
        past = ideal.read()
        ideal.sleep_until(k * period_s)
        now = delayed.read()
        assert now.timestamp_s == pytest.approx(k * period_s)
        np.testing.assert_array_equal(now.position_rad, past.position_rad)
        np.testing.assert_array_equal(now.velocity_rad_s, past.velocity_rad_s)
        np.testing.assert_array_equal(now.effort, past.effort)
        np.testing.assert_array_equal(now.sensor_position_rad, past.sensor_position_rad)
    np.testing.assert_array_equal(delayed.data.qpos, ideal.data.qpos)  # the physics is the same


def test_observation_latency_over_short_sleeps(so101_config: RobotConfig) -> None:
    # Sleeps shorter than the latency: the state asked for lies several sleeps back.
    delayed = opened(so101_config, SimConfig(observation_latency_s=0.01, quantize=False))  # 5 steps
    ideal = opened(so101_config, SimConfig(quantize=False))
    delayed.write(so101_config.home_rad + 0.2)
    ideal.write(so101_config.home_rad + 0.2)
    history = [ideal.read().position_rad]
    for k in range(1, 15):
        ideal.sleep_until(k * TIMESTEP_S)
        history.append(ideal.read().position_rad)
    at_rest = delayed.read().position_rad
    for k in range(1, 15):
        delayed.sleep_until(k * TIMESTEP_S)
        expected = history[k - 5] if k >= 5 else at_rest
        np.testing.assert_array_equal(delayed.read().position_rad, expected)


# --- Readings ------------------------------------------------------------------------------------------

def test_readings_are_quantised_to_ticks(dclaw_config: RobotConfig) -> None:
    start = dclaw_config.home_rad + 0.1234567
    for quantize in (True, False):
        robot = opened(dclaw_config, SimConfig(quantize=quantize), start=start)
        robot.data.qvel[robot.twin.sensor_dof] = 1.0  # spin the valve
        robot.sleep_until(0.1)
        state = robot.read()
        values = np.concatenate([state.position_rad, state.sensor_position_rad])
        ticks = values / RAD_PER_TICK
        on_ticks = np.abs(ticks - np.rint(ticks)) < 1e-9
        assert on_ticks.all() if quantize else not on_ticks.any()


def test_noise_has_the_configured_std(so101_config: RobotConfig) -> None:
    sim = SimConfig(position_noise_std_rad=0.01, velocity_noise_std_rad_s=0.05, quantize=False)
    robot = opened(so101_config, sim, seed=3)
    true_position = robot.data.qpos[robot.twin.joint_qpos].copy()
    true_velocity = robot.data.qvel[robot.twin.joint_dof].copy()
    readings = [robot.read() for _ in range(2000)]
    position_error = np.array([r.position_rad for r in readings]) - true_position
    velocity_error = np.array([r.velocity_rad_s for r in readings]) - true_velocity
    assert np.std(position_error) == pytest.approx(0.01, rel=0.05)
    assert np.std(velocity_error) == pytest.approx(0.05, rel=0.05)
    assert abs(np.mean(position_error)) < 0.001
    again = opened(so101_config, sim, seed=3).read()
    np.testing.assert_array_equal(again.position_rad, readings[0].position_rad)  # seeded


def test_effort_is_current_in_amperes(so101_config: RobotConfig) -> None:
    robot = opened(so101_config, SimConfig(quantize=False))
    robot.write(so101_config.home_rad + np.array([0, 0.2, 0, 0, 0, 0]))
    robot.sleep_until(0.01)
    state = robot.read()
    torque_nm = robot.data.actuator_force[robot.twin.actuator]
    # STS3215: the twin's stall torque (drivers.servo_params) at 2.7 A stall current.
    np.testing.assert_allclose(state.effort, torque_nm / (STS3215_PARAMS.max_torque_nm / 2.7))
    assert state.effort[1] > 0.1


def test_dclaw_reads_the_valve(dclaw_config: RobotConfig) -> None:
    robot = opened(dclaw_config, SimConfig(quantize=False))
    robot.set_state(dclaw_config.home_rad, np.array([0.2]))  # spokes clear of the fingertips
    state = robot.read()
    assert state.sensor_position_rad == pytest.approx([0.2])
    assert state.sensor_velocity_rad_s == pytest.approx([0.0])
    robot.data.qvel[robot.twin.sensor_dof] = 2.0  # a flick of the valve
    robot.sleep_until(robot.now_s() + 0.02)
    state = robot.read()
    valve_joint = robot.model.joint("valve")
    assert state.sensor_position_rad[0] == robot.data.qpos[valve_joint.qposadr[0]]
    assert state.sensor_position_rad[0] > 0.22
    assert state.sensor_velocity_rad_s[0] > 0.5


# --- Commands ----------------------------------------------------------------------------------------

def test_extreme_commands_never_leave_the_limits(robot_config: RobotConfig) -> None:
    """The twin behind the safety stack: the range and the per-step limit hold (and the twin's
    own write clips to the range)."""
    period_s = 1.0 / robot_config.control_rate_hz
    robot = SafeRobot(SimRobot(robot_config, SimConfig(), seed=0), period_s).open()
    robot.set_state(robot_config.home_rad)
    twin = robot.robot
    rng = np.random.default_rng(1)
    low, high = robot_config.position_min_rad, robot_config.position_max_rad
    step_limit = np.minimum(robot_config.max_step_rad, robot_config.velocity_max_rad_s / robot_config.control_rate_hz)
    last = robot.limiter.last.copy()
    assert np.all(twin.write(np.full(len(low), 1e3)) == high)
    for k in range(1, 41):
        wild = rng.choice([-1e3, 1e3], size=len(low)) * rng.uniform(0.5, 2.0, size=len(low))
        sent = robot.write(wild)
        assert np.all(sent >= low) and np.all(sent <= high)
        assert np.all(np.abs(sent - last) <= step_limit + 1e-12)
        goal = twin.data.ctrl[twin.twin.actuator]
        assert np.all(goal >= low - RAD_PER_TICK) and np.all(goal <= high + RAD_PER_TICK)
        last = sent
        robot.sleep_until(twin.now_s() + period_s)
    with pytest.raises(ValueError, match="non-finite"):
        robot.write(np.full(len(low), np.nan))


# --- Domain randomisation ------------------------------------------------------------------------

DR = DomainRandomization(mass_scale=(0.7, 1.3), friction_scale=(0.5, 1.5), damping_scale=(0.8, 1.2),
                         kp_scale=(0.9, 1.1), action_latency_s=(0.0, 0.02))


def test_randomisation_stays_in_range_and_is_seeded(so101_config: RobotConfig) -> None:
    robot = SimRobot(so101_config, SimConfig(randomization=DR)).open()
    nominal_mass = robot.model.body_mass.copy()
    nominal_kp = robot.model.actuator_gainprm[robot.twin.actuator, 0].copy()
    robot.set_state(so101_config.home_rad, None, np.random.default_rng(7))
    massive = nominal_mass > 0
    scale = robot.model.body_mass[massive] / nominal_mass[massive]
    assert np.all((scale >= 0.7) & (scale <= 1.3)) and np.ptp(scale) > 0.05
    kp_scale = robot.model.actuator_gainprm[robot.twin.actuator, 0] / nominal_kp
    assert np.all((kp_scale >= 0.9) & (kp_scale <= 1.1))
    assert 0.0 <= robot.action_latency_s <= 0.02
    assert robot.action_latency_s / TIMESTEP_S == pytest.approx(round(robot.action_latency_s / TIMESTEP_S))
    first = robot.model.body_mass.copy()
    twin = SimRobot(so101_config, SimConfig(randomization=DR))
    twin.set_state(so101_config.home_rad, None, np.random.default_rng(7))
    np.testing.assert_array_equal(twin.model.body_mass, first)
    np.testing.assert_array_equal(twin.model.geom_friction, robot.model.geom_friction)
    robot.set_state(so101_config.home_rad, None, np.random.default_rng(8))
    assert not np.array_equal(robot.model.body_mass, first)
    # Subtree masses follow (mj_setConst), so gravity compensation and CoM are consistent.
    assert robot.model.body_subtreemass[0] == pytest.approx(robot.model.body_mass.sum())


def test_randomisation_off_leaves_the_model_and_the_rng_alone(so101_config: RobotConfig) -> None:
    robot = SimRobot(so101_config)
    mass = robot.model.body_mass.copy()
    rng = np.random.default_rng(0)
    before = rng.bit_generator.state
    robot.set_state(so101_config.home_rad, None, rng)
    assert rng.bit_generator.state == before
    np.testing.assert_array_equal(robot.model.body_mass, mass)


# --- Rendering ---------------------------------------------------------------------------------------

def test_render_draws_the_target(so101_config: RobotConfig) -> None:
    robot = opened(so101_config, SimConfig(render_height_px=120, render_width_px=160))
    plain = opened(so101_config)
    target = np.array([0.2, 0.1, 0.2])
    try:
        image = robot.render({"target": target, "elsewhere": np.array([0.1, -0.1, 0.3])})
    except RenderUnavailableError as exc:
        pytest.skip(f"no offscreen OpenGL here: {exc}")
    assert image.shape == (120, 160, 3) and image.dtype == np.uint8 and image.std() > 1
    np.testing.assert_array_equal(robot.data.mocap_pos[robot.model.body("target").mocapid[0]], target)
    # Rendering between steps changes nothing in the physics.
    for k in range(1, 4):
        for r in (robot, plain):
            r.write(so101_config.home_rad + 0.1 * k)
            r.sleep_until(k * 0.05)
        robot.render({"target": target})
    np.testing.assert_array_equal(robot.data.qpos, plain.data.qpos)
    robot.close()


def test_render_size_default() -> None:
    config = SimConfig()
    assert (config.render_height_px, config.render_width_px) == (480, 640)


def test_unknown_camera_is_a_config_error(so101_config: RobotConfig) -> None:
    robot = opened(so101_config, SimConfig(render_camera="nope"))
    with pytest.raises(SimConfigurationError, match="no camera named 'nope'.*side"):
        robot.render({})


def test_latency_rounds_to_whole_steps(so101_config: RobotConfig) -> None:
    robot = SimRobot(so101_config, SimConfig(observation_latency_s=0.0051, action_latency_s=0.0009))
    assert robot.observation_latency_s == pytest.approx(0.006)
    assert robot.action_latency_s == pytest.approx(0.0)
    assert math.isclose(robot.timestep_s, TIMESTEP_S)
