"""robot_side/robot_configs: each robot config fits its MuJoCo model, its servos and its calibration."""

from __future__ import annotations

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from drivers import servo_params as sp  # noqa: E402
from drivers.calibration import load_calibration  # noqa: E402
from drivers.robot_config import RobotConfig  # noqa: E402
from sim.assets import model_path  # noqa: E402

SERVO_OF = {"STS3215": sp.STS3215_PARAMS, "XM430-W350": sp.XM430_W350_PARAMS}


def test_joints_match_the_model(robot_config: RobotConfig) -> None:
    model = mujoco.MjModel.from_xml_path(str(model_path(robot_config.name)))
    assert robot_config.backend == "sim" and robot_config.port is None
    for joint in robot_config.joints:
        low, high = model.joint(joint.name).range
        assert low - 1e-6 <= joint.position_min_rad < joint.position_max_rad <= high + 1e-6, joint.name
        assert joint.position_max_rad - joint.position_min_rad > 0.99 * (high - low), joint.name
        no_load = SERVO_OF[joint.model].max_velocity_rad_s
        assert 0.9 * no_load <= joint.velocity_max_rad_s <= no_load, joint.name
    for sensor in robot_config.sensors:
        assert model.joint(sensor.name).id >= 0


def test_calibration_covers_the_limits(robot_config: RobotConfig) -> None:
    calibration = load_calibration(robot_config.calibration)
    direction, offsets = calibration.arrays(robot_config.joint_names)
    assert np.all(direction == 1) and np.all(offsets == 0)
    for joint in robot_config.joints:
        cal = calibration.motors[joint.name]
        assert cal.id == joint.id
        assert cal.range_min_rad <= joint.position_min_rad + 1e-6
        assert cal.range_max_rad >= joint.position_max_rad - 1e-6


def test_so101_bus(so101_config: RobotConfig) -> None:
    assert so101_config.protocol == "feetech" and so101_config.baud == 1_000_000
    assert [j.id for j in so101_config.joints] == [1, 2, 3, 4, 5, 6]
    assert {j.model for j in so101_config.joints} == {"STS3215"}
    assert so101_config.control_rate_hz == 20


def test_dclaw_bus_numbers_servos_as_robel(dclaw_config: RobotConfig) -> None:
    assert dclaw_config.protocol == "dynamixel" and dclaw_config.baud == 1_000_000
    assert [j.id for j in dclaw_config.joints] == [10, 11, 12, 20, 21, 22, 30, 31, 32]
    assert {j.model for j in dclaw_config.joints} == {"XM430-W350"}
    assert dclaw_config.control_rate_hz == 10
    assert [(s.name, s.id, s.model) for s in dclaw_config.sensors] == [("valve", 50, "XM430-W350")]
