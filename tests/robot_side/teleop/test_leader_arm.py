"""The leader arm read in its own process over a real serial line (an emulated leader whose
shafts a scripted hand places): its calibration maps it to the follower's joint frame, and a
leader that stops answering is reported lost, not waited on."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.robot_config import RobotConfig, load_robot_config
from robot_side.robots import robot_config_path
from robot_side.teleop.leader_arm import LeaderArm, LeaderError, LeaderLostError
from robot_side.teleop.virtual_leader import VirtualLeader

from .conftest import RAD_PER_TICK

FOLLOWER = load_robot_config(robot_config_path("so101")).spec
POSE = np.array([0.4, -0.7, 1.1, -0.3, 2.0, 1.2])


def wait_for(leader: LeaderArm, pose: np.ndarray, timeout_s: float = 2.0) -> np.ndarray:
    deadline = time.monotonic() + timeout_s
    while True:
        reading = leader.latest().position_rad
        if np.max(np.abs(reading - pose)) <= RAD_PER_TICK or time.monotonic() > deadline:
            return reading


def test_a_calibrated_leader_reads_in_the_followers_frame_within_one_tick(leader_config: RobotConfig) -> None:
    with VirtualLeader(leader_config) as virtual, LeaderArm(virtual.serial_config, FOLLOWER) as leader:
        for pose in (POSE, -0.5 * POSE, np.zeros(6)):
            virtual.move_to(pose)
            reading = wait_for(leader, pose)
            assert np.max(np.abs(reading - pose)) <= RAD_PER_TICK, (reading, pose)
        assert leader.latest().age_s < 0.1
        reads = leader.latest().reads
        time.sleep(0.3)
        assert leader.latest().reads - reads >= 15  # about 100 Hz in its own process


def test_the_leader_joints_are_mapped_by_name(leader_config: RobotConfig) -> None:
    # A follower listing the same joints in another order gets each joint's own reading.
    reordered = type(FOLLOWER)(FOLLOWER.name, FOLLOWER.joint_names[::-1], FOLLOWER.position_min_rad[::-1],
                               FOLLOWER.position_max_rad[::-1], FOLLOWER.velocity_max_rad_s[::-1],
                               FOLLOWER.control_rate_hz)
    with VirtualLeader(leader_config, POSE) as virtual, LeaderArm(virtual.serial_config, reordered) as leader:
        assert np.max(np.abs(wait_for(leader, POSE[::-1]) - POSE[::-1])) <= RAD_PER_TICK


def test_a_leader_without_a_follower_joint_is_refused_by_name() -> None:
    dclaw = load_robot_config(robot_config_path("dclaw"))
    leader = load_robot_config(robot_config_path("so101_leader"), backend="serial", port="/dev/null")
    with pytest.raises(LeaderError, match="no joint .* of follower dclaw"):
        LeaderArm(leader, dclaw.spec)


def test_a_leader_that_stops_answering_is_lost_within_the_timeout(leader_config: RobotConfig) -> None:
    with VirtualLeader(leader_config, extra_args=("--disconnect-after", "80")) as virtual, \
            LeaderArm(virtual.serial_config, FOLLOWER, timeout_s=0.2) as leader:
        deadline = time.monotonic() + 10.0
        with pytest.raises(LeaderLostError) as lost:
            while time.monotonic() < deadline:
                leader.latest()
                time.sleep(0.005)
        assert "leader so101_leader" in str(lost.value)


def test_no_leader_on_the_port_is_a_clear_error(tmp_path) -> None:
    config = load_robot_config(robot_config_path("so101_leader"), backend="serial", port=str(tmp_path / "ttyNONE"))
    with pytest.raises(LeaderError, match="ttyNONE"):
        LeaderArm(config, FOLLOWER).open()
