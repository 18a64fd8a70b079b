"""The default plant: convergence, velocity and acceleration limits, quantisation, coasting."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from drivers.emulator import Plant, PlantCommand, ServoModelPlant, ServoParams, params_for
from drivers.errors import ConfigurationError

PARAMS = params_for("XM430-W350")


def _run(plant: ServoModelPlant, command: PlantCommand, seconds: float, dt: float = 0.001) -> list:
    states = []
    for k in range(1, round(seconds / dt) + 1):
        states.append(plant.advance(k * dt, command))
    return states


def test_is_a_plant() -> None:
    assert isinstance(ServoModelPlant([PARAMS], [0.0]), Plant)


def test_position_converges_to_the_goal_without_exceeding_the_limits() -> None:
    plant = ServoModelPlant([PARAMS, PARAMS], [0.0, 1.0])
    plant.advance(0.0, PlantCommand.idle(np.zeros(2)))
    command = PlantCommand.idle(np.array([0.0, 1.0]))
    command.torque_on[:] = True
    command.goal_position_rad[:] = [2.0, -1.0]
    states = _run(plant, command, 2.0)
    velocities = np.array([s.velocity_rad_s for s in states])
    accelerations = np.diff(velocities, axis=0) / 0.001
    assert np.max(np.abs(velocities)) <= PARAMS.max_velocity_rad_s + 1e-9
    assert np.max(np.abs(accelerations)) <= PARAMS.max_acceleration_rad_s2 + 1e-6
    assert np.max(np.abs(velocities)) > 0.9 * PARAMS.max_velocity_rad_s  # long moves reach top speed
    np.testing.assert_allclose(states[-1].position_rad, [2.0, -1.0], atol=PARAMS.rad_per_tick)
    np.testing.assert_allclose(states[-1].velocity_rad_s, 0.0, atol=1e-3)


def test_profile_limits_from_the_registers_slow_it_down() -> None:
    plant = ServoModelPlant([PARAMS], [0.0])
    plant.advance(0.0, PlantCommand.idle(np.zeros(1)))
    command = PlantCommand.idle(np.zeros(1))
    command.torque_on[:] = True
    command.goal_position_rad[:] = 3.0
    command.max_velocity_rad_s[:] = 0.5
    states = _run(plant, command, 0.5)
    assert max(abs(s.velocity_rad_s[0]) for s in states) == pytest.approx(0.5, abs=1e-6)
    assert states[-1].position_rad[0] <= 0.25 + 1e-3  # 0.5 s at 0.5 rad/s at most


def test_reported_position_is_quantised_to_encoder_ticks() -> None:
    plant = ServoModelPlant([PARAMS], [0.3])
    position = plant.advance(0.0, PlantCommand.idle(np.array([0.3])))[0][0]
    assert position / PARAMS.rad_per_tick == pytest.approx(round(0.3 / PARAMS.rad_per_tick))


def test_torque_is_reported_while_accelerating_and_zero_with_torque_off() -> None:
    plant = ServoModelPlant([PARAMS], [0.0])
    plant.advance(0.0, PlantCommand.idle(np.zeros(1)))
    command = PlantCommand.idle(np.zeros(1))
    command.torque_on[:] = True
    command.goal_position_rad[:] = 1.0
    state = _run(plant, command, 0.02)[-1]
    assert 0.0 < state.torque_nm[0] <= PARAMS.stall_torque_nm
    command.torque_on[:] = False
    states = _run(plant, command, 0.5)
    assert states[-1].torque_nm[0] == 0.0
    assert abs(states[-1].velocity_rad_s[0]) < 1e-3  # coasted to a stop


def test_a_long_gap_is_integrated_in_bounded_work() -> None:
    plant = ServoModelPlant([PARAMS], [0.0])
    plant.advance(0.0, PlantCommand.idle(np.zeros(1)))
    command = PlantCommand.idle(np.zeros(1))
    command.torque_on[:] = True
    command.goal_position_rad[:] = 1.0
    state = plant.advance(60.0, command)
    assert state.position_rad[0] == pytest.approx(1.0, abs=2 * PARAMS.rad_per_tick)


def test_params_are_a_frozen_checked_dataclass() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        PARAMS.position_gain_1_s = 1.0  # type: ignore[misc]
    with pytest.raises(ConfigurationError):
        dataclasses.replace(PARAMS, max_velocity_rad_s=0.0)
    with pytest.raises(ConfigurationError):
        dataclasses.replace(PARAMS, stall_torque_nm=math.nan)
    assert dataclasses.replace(PARAMS, ambient_temperature_c=-10.0).ambient_temperature_c == -10.0
    with pytest.raises(ConfigurationError):
        params_for("XH540-W270")


def test_params_of_every_emulated_model() -> None:
    for model in ("XM430-W350", "XL430-W250", "XL330-M288", "STS3215"):
        params = params_for(model)
        assert isinstance(params, ServoParams)
        assert 1.0 < params.max_velocity_rad_s < 20.0
        assert params.torque_constant_nm_per_a > 0
