"""Twin parameter files (``sim/twin_params.py``): the format, its errors, and that the twin
and virtual hardware's plant take the physics they name (a fitted twin, a perturbed plant)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from drivers.config import ConfigError  # noqa: E402
from drivers.emulator.plant import PlantCommand  # noqa: E402
from drivers.robot_config import RobotConfig, load_robot_config  # noqa: E402
from sim.sim_robot import SimRobot  # noqa: E402
from sim.twin_params import JointPhysics, TwinParams, load_twin_params, save_twin_params  # noqa: E402
from sim.twin_plant import TwinPlant  # noqa: E402

PERTURBED = TwinParams(joints={"elbow_flex": JointPhysics(kp_nm_per_rad=9.0, damping_nm_s_per_rad=0.7,
                                                          armature_kg_m2=0.05, frictionloss_nm=0.1,
                                                          effort_limit_nm=1.2)},
                       delay_s=0.02, link_mass_scale=1.5, backlash_rad={"wrist_flex": 0.04})


def with_params(config: RobotConfig, tmp_path: Path, params: TwinParams, key: str = "twin_params") -> RobotConfig:
    path = save_twin_params(params, tmp_path / f"{key}.yaml", header="test")
    return dataclasses.replace(config, **{key: str(path)})


def test_round_trip_and_partial_fields(tmp_path: Path) -> None:
    path = save_twin_params(PERTURBED, tmp_path / "p.yaml", header="line one\nline two")
    text = path.read_text()
    assert text.startswith("# line one\n# line two\n")
    assert load_twin_params(path) == PERTURBED
    partial = TwinParams(joints={"gripper": JointPhysics(kp_nm_per_rad=3.0)})
    save_twin_params(partial, path)
    assert "damping" not in path.read_text()
    assert load_twin_params(path) == partial


@pytest.mark.parametrize("text,words", [
    ("twin_params: {delay_s: -0.01}", ["delay_s", ">= 0"]),
    ("twin_params: {joints: {elbow_flex: {kp: 3}}}", ["kp"]),
    ("twin_params: {joints: {elbow_flex: {armature_kg_m2: 0}}}", ["armature_kg_m2", "> 0"]),
    ("twin_params: {link_mass_scale: 0}", ["link_mass_scale"]),
])
def test_bad_values_name_the_file_and_key(tmp_path: Path, text: str, words: list[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_twin_params(path)
    for word in [str(path), *words]:
        assert word in str(info.value)


def test_an_unknown_joint_is_an_error(so101_config: RobotConfig, tmp_path: Path) -> None:
    config = with_params(so101_config, tmp_path, TwinParams(joints={"elbow": JointPhysics(kp_nm_per_rad=1.0)}))
    with pytest.raises(ConfigError, match="no joint named 'elbow'.*elbow_flex"):
        SimRobot(config)


def test_robot_config_paths_are_relative_to_the_config(so101_config: RobotConfig, tmp_path: Path) -> None:
    save_twin_params(PERTURBED, tmp_path / "fitted.yaml")
    source = Path(so101_config.calibration).parent / "so101.yaml"
    text = source.read_text().replace("calibration: so101_calibration.yaml",
                                      f"calibration: {so101_config.calibration}\n  twin_params: fitted.yaml\n"
                                      f"  virtual_plant: fitted.yaml")
    (tmp_path / "robot.yaml").write_text(text)
    config = load_robot_config(tmp_path / "robot.yaml")
    assert config.twin_params == str(tmp_path / "fitted.yaml")
    assert config.virtual_plant == str(tmp_path / "fitted.yaml")


def test_the_twin_takes_the_fitted_physics(so101_config: RobotConfig, tmp_path: Path) -> None:
    nominal = SimRobot(so101_config).open()
    fitted = SimRobot(with_params(so101_config, tmp_path, PERTURBED)).open()  # torque on: the gains are live
    i = so101_config.joint_names.index("elbow_flex")
    m, act, dof = fitted.model, fitted.twin.actuator[i], fitted.twin.joint_dof[i]
    assert m.actuator_gainprm[act, 0] == 9.0 and m.actuator_biasprm[act, 1] == -9.0
    assert (m.dof_damping[dof], m.dof_armature[dof], m.dof_frictionloss[dof]) == (0.7, 0.05, 0.1)
    np.testing.assert_array_equal(m.actuator_forcerange[act], [-1.2, 1.2])
    np.testing.assert_allclose(m.body_mass[1:], 1.5 * nominal.model.body_mass[1:])
    # Another joint keeps the model's values; the delay becomes action latency.
    other = fitted.twin.actuator[0]
    assert m.actuator_gainprm[other, 0] == nominal.model.actuator_gainprm[other, 0]
    assert fitted.action_latency_s == pytest.approx(0.02)
    assert nominal.action_latency_s == 0.0


def test_randomisation_scales_around_the_fitted_values(so101_config: RobotConfig, tmp_path: Path) -> None:
    from sim.sim_config import DomainRandomization, SimConfig

    sim = SimConfig(randomization=DomainRandomization(damping_scale=(2.0, 2.0)))
    robot = SimRobot(with_params(so101_config, tmp_path, PERTURBED), sim)
    robot.set_state(so101_config.home_rad, rng=np.random.default_rng(0))
    dof = robot.twin.joint_dof[so101_config.joint_names.index("elbow_flex")]
    assert robot.model.dof_damping[dof] == pytest.approx(1.4)


def goal_response(plant: TwinPlant, joint: int, step_rad: float, seconds: float, dt_s: float = 0.002) -> np.ndarray:
    """Joint ``joint``'s angle every ``dt_s`` after its goal moves by ``step_rad`` (torque on)."""
    command = PlantCommand.idle(plant.position_rad)
    command.torque_on[:plant.n_joints] = True
    t = 100.0
    for _ in range(250):  # settle (the arm sags onto its servos) before the step
        t += dt_s
        plant.advance(t, command)
    command.goal_position_rad[joint] += step_rad
    trace = []
    for _ in range(round(seconds / dt_s)):
        t += dt_s
        plant.advance(t, command)
        trace.append(plant.joint_position_rad[joint])
    return np.array(trace)


def test_the_virtual_plant_delays_its_goals(so101_config: RobotConfig, tmp_path: Path) -> None:
    delayed = with_params(so101_config, tmp_path, TwinParams(delay_s=0.03), key="virtual_plant")
    i = so101_config.joint_names.index("wrist_flex")
    base = goal_response(TwinPlant(so101_config), i, 0.3, 0.3)
    late = goal_response(TwinPlant(delayed), i, 0.3, 0.3)
    # 30 ms is 15 physics steps: the delayed joint traces the same path 15 steps later.
    assert np.ptp(late[:15]) < 1e-3 < 1e-2 < np.ptp(base[:15])
    np.testing.assert_allclose(late[15:], base[:-15], atol=2e-4)  # (the sag still creeps by 1e-4)
    # The twin of that robot config is not delayed: virtual_plant is the plant's only.
    assert SimRobot(delayed).action_latency_s == 0.0


def test_backlash_swallows_a_reversal_smaller_than_the_play(so101_config: RobotConfig, tmp_path: Path) -> None:
    i = so101_config.joint_names.index("wrist_flex")
    config = with_params(so101_config, tmp_path, TwinParams(backlash_rad={"wrist_flex": 0.1}), key="virtual_plant")
    plant = TwinPlant(config)
    command = PlantCommand.idle(plant.position_rad)
    command.torque_on[:plant.n_joints] = True
    plant.advance(0.0, command)
    start = plant.data.ctrl[plant.twin.actuator[i]]
    command.goal_position_rad[i] += 0.3
    plant.advance(0.01, command)
    assert plant.data.ctrl[plant.twin.actuator[i]] == pytest.approx(start + 0.25)  # the gear lags by half the play
    command.goal_position_rad[i] -= 0.08  # back by less than the play: the gear does not move
    plant.advance(0.02, command)
    assert plant.data.ctrl[plant.twin.actuator[i]] == pytest.approx(start + 0.25)
    command.goal_position_rad[i] -= 0.1
    plant.advance(0.03, command)
    assert plant.data.ctrl[plant.twin.actuator[i]] == pytest.approx(start + 0.17)
