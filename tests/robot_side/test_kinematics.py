"""The numpy-free forward kinematics agrees with MuJoCo's own site positions."""

from __future__ import annotations

import pickle
from pathlib import Path

import mujoco
import numpy as np
import pytest

from robot_side.kinematics import Chain, KinematicsError
from sim.assets import model_path

# Joint axes off the coordinate axes, rotated bodies, a body without a joint mid-chain and at
# the end, parallel joints: every case the chain folds its constants for.
GENERAL_MJCF = """
<mujoco>
  <worldbody>
    <body name="base" pos="0.01 -0.02 0.05" quat="0.9 0.1 0.2 0.3">
      <body name="a" pos="0 0 0.1">
        <joint name="j1" axis="0.3 -0.5 0.8"/>
        <geom type="sphere" size="0.01"/>
        <body name="spacer" pos="0.05 0.01 0" quat="0.7 0 0.7 0">
          <body name="b" pos="0.12 0 0.02">
            <joint name="j2" axis="0 1 0"/>
            <geom type="sphere" size="0.01"/>
            <body name="c" pos="0.1 0.01 0">
              <joint name="j3" axis="0 1 0"/>
              <geom type="sphere" size="0.01"/>
              <body name="d" pos="0.02 0 0.03" quat="0.5 0.5 -0.5 0.5">
                <joint name="j4" axis="-1 0 0"/>
                <geom type="sphere" size="0.01"/>
                <body name="tip" pos="0.03 0.02 0.01" quat="0.8 0 0 0.6">
                  <site name="end" pos="0.04 -0.01 0.02"/>
                </body>
              </body>
            </body>
          </body>
        </body>
      </body>
    </body>
  </worldbody>
</mujoco>
"""


@pytest.mark.parametrize("case", ["so101", "general"])
def test_site_position_matches_mujoco(case: str, tmp_path: Path) -> None:
    if case == "so101":
        path, site = model_path("so101", scene=False), "gripper_site"
    else:
        path, site = tmp_path / "chain.xml", "end"
        path.write_text(GENERAL_MJCF)
    chain = Chain.from_mjcf(path, site)
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    rng = np.random.default_rng(0)
    for _ in range(200):
        q = rng.uniform(-np.pi, np.pi, len(chain.joint_names))
        for name, value in zip(chain.joint_names, q):
            data.qpos[model.joint(name).qposadr[0]] = value
        mujoco.mj_kinematics(model, data)
        expected = data.site(site).xpos
        np.testing.assert_allclose(chain.site_xyz(q), expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(chain.site_position(dict(zip(chain.joint_names, q))), expected, rtol=0, atol=1e-9)


def test_with_joint_order_takes_a_whole_joint_vector() -> None:
    chain = Chain.from_mjcf(model_path("so101", scene=False), "gripper_site")
    robot_joints = ("gripper",) + tuple(reversed(chain.joint_names))
    reordered = chain.with_joint_order(robot_joints)
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.uniform(-1.5, 1.5, len(chain.joint_names))
        whole = np.array([0.7] + list(q[::-1]))  # the extra joint does not move the site
        assert reordered.site_xyz(whole) == chain.site_xyz(q)
    with pytest.raises(KinematicsError, match="wrist_roll"):
        chain.with_joint_order(tuple(n for n in robot_joints if n != "wrist_roll"))


def test_chain_pickles_by_its_definition() -> None:
    """The compiled ``site_xyz`` cannot be pickled; the chain is rebuilt from its links."""
    chain = Chain.from_mjcf(model_path("so101", scene=False), "gripper_site").with_joint_order(
        ("gripper", "wrist_roll", "wrist_flex", "elbow_flex", "shoulder_lift", "shoulder_pan"))
    copy = pickle.loads(pickle.dumps(chain))
    q = np.random.default_rng(2).uniform(-1.5, 1.5, 6)
    assert copy.joint_names == chain.joint_names and copy.source == chain.source
    assert copy.site_xyz(q) == chain.site_xyz(q)


def test_site_jacobian_matches_mujoco() -> None:
    """Each column against ``mj_jacSite`` (MuJoCo's analytic site Jacobian), columns picked
    and ordered as asked, in the robot's joint order."""
    path = model_path("so101", scene=False)
    model = mujoco.MjModel.from_xml_path(str(path))
    data = mujoco.MjData(model)
    robot_joints = ("gripper", "wrist_roll", "wrist_flex", "elbow_flex", "shoulder_lift", "shoulder_pan")
    chain = Chain.from_mjcf(path, "gripper_site").with_joint_order(robot_joints)
    columns = np.array([5, 4, 3, 2])  # pan, lift, elbow, wrist flex
    jacp = np.zeros((3, model.nv))
    rng = np.random.default_rng(3)
    for _ in range(50):
        q = rng.uniform(-1.5, 1.5, len(robot_joints))
        for name, value in zip(robot_joints, q):
            data.qpos[model.joint(name).qposadr[0]] = value
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_jacSite(model, data, jacp, None, model.site("gripper_site").id)
        expected = np.stack([jacp[:, model.joint(robot_joints[c]).dofadr[0]] for c in columns], axis=1)
        np.testing.assert_allclose(chain.site_jacobian(q, columns), expected, rtol=0, atol=2e-6)
