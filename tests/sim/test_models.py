"""The MJCF models under sim/models: they load, step cleanly, match their READMEs and
drivers/servo_params.py, and do what their tasks need (a reachable gripper site, a turnable
valve)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from drivers import servo_params as sp  # noqa: E402
from sim.assets import MODELS_DIR, UnknownRobotError, known_robots, model_path  # noqa: E402

ROBOTS = ("so101", "dclaw")
SERVO_OF = {"so101": sp.STS3215_PARAMS, "dclaw": sp.XM430_W350_PARAMS}
JOINTS = {
    "so101": ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper"),
    "dclaw": tuple(f"f{i}_j{j}" for i in range(3) for j in range(3)),
}
TIMESTEP_S = 0.002


def load(robot: str, scene: bool = True) -> mujoco.MjModel:
    return mujoco.MjModel.from_xml_path(str(model_path(robot, scene=scene)))


def readme_ranges(robot: str) -> dict[str, tuple[float, float]]:
    """Joint ranges from the README's table rows: | `name` | min_rad | max_rad | ..."""
    text = (MODELS_DIR / robot / "README.md").read_text()
    rows = re.findall(r"^\|\s*`([a-z0-9_]+)`\s*\|\s*(-?[0-9.]+)\s*\|\s*(-?[0-9.]+)\s*\|", text, re.M)
    return {name: (float(lo), float(hi)) for name, lo, hi in rows}


# --- Loading and stepping -----------------------------------------------------------------

def test_every_model_folder_is_covered() -> None:
    assert known_robots() == tuple(sorted(ROBOTS))


@pytest.mark.parametrize("scene", [True, False], ids=["scene", "robot"])
@pytest.mark.parametrize("robot", ROBOTS)
def test_compiles_with_chosen_integrator(robot: str, scene: bool) -> None:
    model = load(robot, scene)
    assert model.opt.timestep == TIMESTEP_S
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert tuple(model.joint(n).name for n in JOINTS[robot]) == JOINTS[robot]
    assert tuple(model.actuator(i).name for i in range(model.nu)) == JOINTS[robot]


@pytest.mark.parametrize("robot", ROBOTS)
def test_one_second_of_random_control_is_clean(robot: str) -> None:
    model = load(robot)
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    low, high = model.actuator_ctrlrange.T
    for _ in range(round(1.0 / model.opt.timestep)):
        data.ctrl[:] = rng.uniform(low, high)
        mujoco.mj_step(model, data)
    warnings = {mujoco.mjtWarning(i).name: data.warning[i].number for i in range(len(data.warning))}
    assert not any(warnings.values()), warnings
    for field in ("qpos", "qvel", "qacc", "actuator_force"):
        assert np.all(np.isfinite(getattr(data, field))), field


@pytest.mark.parametrize("robot", ROBOTS)
def test_control_periods_are_whole_steps(robot: str) -> None:
    # SO-101 at 10-50 Hz, D'Claw at 10 Hz: each period is an integer number of physics steps.
    timestep_s = load(robot).opt.timestep
    for rate_hz in (10, 20, 25, 50):
        steps = (1 / rate_hz) / timestep_s
        assert steps == pytest.approx(round(steps), abs=1e-9)


# --- Documented numbers -------------------------------------------------------------------

@pytest.mark.parametrize("robot", ROBOTS)
def test_joint_ranges_match_readme(robot: str) -> None:
    model = load(robot)
    documented = readme_ranges(robot)
    assert set(JOINTS[robot]) <= set(documented), "README table misses joints"
    for name in JOINTS[robot]:
        np.testing.assert_allclose(model.joint(name).range, documented[name], atol=1e-5, err_msg=name)
        # The servo can be commanded over exactly the joint's range.
        np.testing.assert_allclose(model.actuator(name).ctrlrange, documented[name], atol=1e-5, err_msg=name)


@pytest.mark.parametrize("robot", ROBOTS)
def test_actuators_equal_servo_params(robot: str) -> None:
    model = load(robot)
    params = SERVO_OF[robot]
    for name in JOINTS[robot]:
        act, joint = model.actuator(name), model.joint(name)
        assert act.trntype == mujoco.mjtTrn.mjTRN_JOINT and act.trnid[0] == joint.id
        assert act.gainprm[0] == pytest.approx(params.kp_nm_per_rad, rel=1e-9)
        np.testing.assert_allclose(act.biasprm[:3], [0, -params.kp_nm_per_rad, 0], rtol=1e-9)
        assert act.forcelimited
        np.testing.assert_allclose(act.forcerange, [-params.max_torque_nm, params.max_torque_nm], rtol=1e-9)
        assert joint.armature[0] == pytest.approx(params.armature_kg_m2, rel=1e-9)
        assert joint.damping[0] == pytest.approx(params.damping_nm_s_per_rad, rel=1e-9)
        assert joint.frictionloss[0] == pytest.approx(params.frictionloss_nm, rel=1e-9)


def test_servo_params_follow_from_their_sources() -> None:
    sts = sp.STS3215_PARAMS
    assert sts.max_torque_nm == pytest.approx(19.5 * sp.KGF_CM_TO_NM, rel=1e-3)
    assert sts.max_velocity_rad_s == pytest.approx(sp.no_load_speed_rad_s(0.192), rel=1e-3)
    assert sts.saturation_error_rad == pytest.approx(sp.sts_saturation_error_rad(16), rel=1e-3)
    sts12 = sp.STS3215_12V_PARAMS
    assert sts12.max_torque_nm == pytest.approx(30 * sp.KGF_CM_TO_NM, rel=1e-3)
    assert sts12.max_velocity_rad_s == pytest.approx(sp.no_load_speed_rad_s(0.222), rel=1e-3)
    assert sts12.saturation_error_rad == pytest.approx(sp.sts_saturation_error_rad(16), rel=1e-3)
    xm = sp.XM430_W350_PARAMS
    assert xm.max_velocity_rad_s == pytest.approx(sp.rpm_to_rad_s(46), rel=1e-3)
    assert xm.saturation_error_rad == pytest.approx(sp.dynamixel_x_saturation_error_rad(800), rel=1e-3)
    for p in sp.ALL_PARAMS.values():
        assert p.ticks_per_turn == 4096
        assert p.kp_nm_per_rad == pytest.approx(sp.position_gain(p.max_torque_nm, p.saturation_error_rad), rel=1e-3)
        assert p.damping_nm_s_per_rad == pytest.approx(sp.back_emf_damping(p.max_torque_nm, p.max_velocity_rad_s),
                                                       rel=1e-3)
        assert p.armature_kg_m2 == pytest.approx(sp.reflected_inertia(p.rotor_inertia_kg_m2, p.gear_ratio), rel=2e-3)


def test_dynamixel_saturation_error_by_hand() -> None:
    # Gain 800 -> KPP 6.25 PWM units per tick; 885 units (100 %) at 141.6 ticks = 12.45 degrees.
    assert sp.dynamixel_x_saturation_error_rad(800) == pytest.approx(math.radians(141.6 * 360 / 4096))


def test_servo_params_reject_nonsense() -> None:
    fields = {**sp.STS3215_PARAMS.__dict__, "kp_nm_per_rad": -1.0}
    with pytest.raises(ValueError, match="kp_nm_per_rad"):
        sp.ServoParams(**fields)


# --- What the tasks need ------------------------------------------------------------------

def test_so101_gripper_site_workspace() -> None:
    model = load("so101")
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    site = data.site("gripper_site").xpos
    assert 0.1 < np.linalg.norm(site) < 0.5
    assert site[0] > 0.3 and site[2] > 0.2  # zero pose: upper arm up, forearm forward
    # Random configurations: the site stays within the arm's length of the shoulder and
    # covers a reach of 0.3-0.5 m around the base.
    rng = np.random.default_rng(1)
    low, high = model.jnt_range.T
    arm_length = 0.116 + 0.135 + 0.160  # upper arm, forearm, wrist-flex axis to site
    reach = []
    for _ in range(300):
        data.qpos[:] = rng.uniform(low, high)
        mujoco.mj_kinematics(model, data)
        site, shoulder = data.site("gripper_site").xpos, data.body("upper_arm").xpos
        assert np.linalg.norm(site - shoulder) < arm_length
        reach.append(np.linalg.norm(site[:2]))
    assert 0.3 < max(reach) < 0.5


def test_so101_scene_has_target() -> None:
    model = load("so101")
    assert model.body("target").mocapid[0] >= 0
    assert model.site("target").bodyid[0] == model.body("target").id


def test_dclaw_fingers_turn_the_valve() -> None:
    model = load("dclaw")
    data = mujoco.MjData(model)
    fingers = {j: [model.actuator(f"f{i}_j{j}").id for i in range(3)] for j in range(3)}
    steps_per_s = round(1 / model.opt.timestep)
    # Curl the tips inward to the spokes' radius, then sweep all three counter-clockwise.
    data.ctrl[fingers[1]] = 0.12
    data.ctrl[fingers[2]] = 0.12
    for _ in range(steps_per_s // 2):
        mujoco.mj_step(model, data)
    start = data.joint("valve").qpos[0]
    for k in range(steps_per_s):
        data.ctrl[fingers[0]] = 0.48 * min(1.0, k / steps_per_s)
        mujoco.mj_step(model, data)
    turned = data.joint("valve").qpos[0] - start
    assert turned > 0.1
    # The mark's heading is the valve angle.
    mark = data.site("valve_mark").xmat.reshape(3, 3)[:, 0]
    assert math.atan2(mark[1], mark[0]) == pytest.approx(data.joint("valve").qpos[0], abs=1e-6)
    assert not any(data.warning[i].number for i in range(len(data.warning)))


def test_dclaw_fingers_do_not_touch_the_valve_at_rest() -> None:
    model = load("dclaw")
    data = mujoco.MjData(model)
    for _ in range(250):
        mujoco.mj_step(model, data)
    assert data.ncon == 0
    assert data.joint("valve").qpos[0] == 0


# --- Finding the files --------------------------------------------------------------------

def test_model_path_finds_both_files() -> None:
    assert model_path("so101").name == "scene.xml"
    assert model_path("so101", scene=False).name == "so101.xml"
    assert model_path("dclaw", scene=False).parent == MODELS_DIR / "dclaw"


def test_model_path_names_known_robots_on_a_typo() -> None:
    with pytest.raises(UnknownRobotError, match=r"'so100'.*dclaw, so101"):
        model_path("so100")
