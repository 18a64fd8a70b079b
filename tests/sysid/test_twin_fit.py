"""The fit (``robot_rl.sysid``) recovers a perturbed servo's gain and the command delay from a
short recorded log, and only from a log of that robot: given the nominal robot's log it
finds the nominal values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

if not hasattr(pytest.importorskip("mujoco.sysid"), "optimize"):  # its extras are missing
    pytest.skip("the fit needs mujoco[sysid] (pip install 'robot-rl[sysid]')", allow_module_level=True)

from drivers.robot_config import RobotConfig, load_robot_config  # noqa: E402
from robot_rl.sysid.twin_fit import FitSettings, fit_twin  # noqa: E402
from robot_side.robots import robot_config_path  # noqa: E402
from robot_side.safety.safe_robot import SafeRobot  # noqa: E402
from robot_side.sysid.excitation import ExcitationConfig, plan_excitation  # noqa: E402
from robot_side.sysid.log_file import SysidLog  # noqa: E402
from robot_side.sysid.recorder import ExcitationRecorder  # noqa: E402
from sim.sim_config import SimConfig  # noqa: E402
from sim.sim_robot import SimRobot  # noqa: E402
from sim.twin_params import JointPhysics, TwinParams, save_twin_params  # noqa: E402

JOINT = "elbow_flex"
NOMINAL_KP = 5.236
REAL = TwinParams(joints={JOINT: JointPhysics(kp_nm_per_rad=1.6 * NOMINAL_KP)}, delay_s=0.02)
SHORT = ExcitationConfig(amplitude_rad=0.4, move_s=0.5, settle_s=0.3, chirp_s=3.0, chirp_end_hz=1.5,
                         step_hold_s=0.5, rest_s=0.1)
SETTINGS = FitSettings(fields=("kp_nm_per_rad",), fit_link_mass=False, max_iters=15, threads=2)


@pytest.fixture(scope="module")
def so101() -> RobotConfig:
    return load_robot_config(robot_config_path("so101"))


def record(config: RobotConfig) -> SysidLog:
    """A short excitation of one joint on ``config``'s twin (encoder ticks and reading noise on)."""
    joint = config.joint_names.index(JOINT)
    plan = plan_excitation(config.spec, config.home_rad, 50.0, [joint], SHORT)
    robot = SafeRobot(SimRobot(config, SimConfig(position_noise_std_rad=0.001), seed=1), 1 / 50.0, config.safety)
    with robot:
        return ExcitationRecorder(robot, plan, SHORT, "sim").run()


def as_real(config: RobotConfig, tmp_path: Path) -> RobotConfig:
    return dataclasses.replace(config, twin_params=str(save_twin_params(REAL, tmp_path / "real.yaml")))


def fitted(result, name: str) -> float:
    return float(result.fitted_values[result.names.index(name)])


def test_the_fit_recovers_the_perturbed_gain_and_delay(so101: RobotConfig, tmp_path: Path) -> None:
    log = record(as_real(so101, tmp_path))
    result = fit_twin(so101, log, SETTINGS, output=None)
    assert fitted(result, f"{JOINT}.kp_nm_per_rad") == pytest.approx(1.6 * NOMINAL_KP, rel=0.10)
    assert fitted(result, "delay_s") == pytest.approx(0.02, abs=0.005)
    assert result.improvement > 3  # on the held-out steps
    assert result.identified.all()


def test_given_the_nominal_robots_log_the_fit_finds_the_nominal_values(so101: RobotConfig) -> None:
    result = fit_twin(so101, record(so101), SETTINGS, output=None)
    kp = fitted(result, f"{JOINT}.kp_nm_per_rad")
    assert kp == pytest.approx(NOMINAL_KP, rel=0.05) and kp != pytest.approx(1.6 * NOMINAL_KP, rel=0.10)
    assert fitted(result, "delay_s") < 0.005


def test_a_log_of_another_robot_is_refused(so101: RobotConfig, tmp_path: Path) -> None:
    log = record(so101)
    log.meta["robot"] = "dclaw"
    with pytest.raises(ValueError, match="the log is of robot 'dclaw', the config of 'so101'"):
        fit_twin(so101, log, SETTINGS, output=None)


def test_unknown_fields_are_named() -> None:
    with pytest.raises(ValueError, match="unknown field 'kp'"):
        FitSettings(fields=("kp",))
