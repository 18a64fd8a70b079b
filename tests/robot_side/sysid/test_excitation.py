"""The excitation plan: inside every limit by construction, one joint at a time, sized down
where a joint's range or speed is short."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.robot_config import load_robot_config
from robot_side.robots import robot_config_path
from robot_side.sysid.excitation import REST, ExcitationConfig, plan_excitation


@pytest.mark.parametrize("robot", ["so101", "dclaw"])
def test_plan_stays_inside_range_speed_and_step(robot: str) -> None:
    config = load_robot_config(robot_config_path(robot))
    spec, rate = config.spec, 50.0
    plan = plan_excitation(spec, config.home_rad, rate)
    cmd = plan.commands_rad
    margin = ExcitationConfig().margin_rad
    assert np.all(cmd >= spec.position_min_rad - 1e-12) and np.all(cmd <= spec.position_max_rad + 1e-12)
    for j in range(len(spec.joint_names)):
        rows = plan.segment == j
        assert rows.sum() > 10 * rate  # every joint gets its part
        others = np.delete(cmd[rows], j, axis=1)
        np.testing.assert_array_equal(others, np.delete(np.tile(config.home_rad, (rows.sum(), 1)), j, axis=1))
        moving = cmd[rows, j]
        assert moving.min() >= spec.position_min_rad[j] + margin - 1e-9
        assert moving.max() <= spec.position_max_rad[j] - margin + 1e-9
        # The chirp's peak speed stays under the share of the velocity limit it was sized for.
        assert 2 * np.pi * plan.chirp_end_hz[j] * plan.amplitude_rad[j] <= 0.6 * spec.velocity_max_rad_s[j] + 1e-9
    assert plan.segment[0] == REST and plan.segment[-1] == REST
    assert plan.duration_s < 20 * len(spec.joint_names)  # robot time: under 5 minutes for either robot


def test_a_short_range_shrinks_the_amplitude_and_no_range_is_an_error() -> None:
    config = load_robot_config(robot_config_path("so101"))
    spec = config.spec
    spec.position_min_rad[:] = -0.1
    spec.position_max_rad[:] = 0.12
    plan = plan_excitation(spec, np.zeros(6), 50.0)
    assert np.all(plan.commands_rad >= -0.1) and np.all(plan.commands_rad <= 0.12)
    np.testing.assert_allclose(plan.amplitude_rad, 0.11 - 0.05)
    spec.position_max_rad[2] = -0.02  # 0.08 rad of range: less than its two 0.05 rad margins
    with pytest.raises(ValueError, match="joint elbow_flex: its range"):
        plan_excitation(spec, np.zeros(6), 50.0)


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="amplitude_rad"):
        ExcitationConfig(amplitude_rad=0.0)
    with pytest.raises(ValueError, match="chirp_end_hz"):
        ExcitationConfig(chirp_start_hz=3.0, chirp_end_hz=1.0)
