"""Teleoperation on real serial lines: an emulated SO-101 follower in this process, a calibrated
emulated leader read in its own process. The follower's goal registers end at the leader's
pose to the encoder tick; a leader lost mid-run holds the follower, then torque goes off."""

from __future__ import annotations

import time

import numpy as np

from drivers.bus_robot import BusRobot
from drivers.robot_config import RobotConfig
from robot_side.safety.safe_robot import SafeRobot
from robot_side.teleop.follow import Follower, FollowSettings
from robot_side.teleop.leader_arm import LeaderArm
from robot_side.teleop.virtual_leader import VirtualLeader

from .conftest import RAD_PER_TICK, goal_ticks

RATE_HZ = 50.0
POSE = np.array([0.5, -0.6, 0.9, -0.4, 1.5, 1.0])


def expected_ticks(pose: np.ndarray) -> np.ndarray:
    """The follower's goal register for joint angles: the identity calibration, 2048 = 0 rad."""
    return np.round(2048 + pose / RAD_PER_TICK)


def test_the_follower_goal_registers_reach_the_leader_pose_within_one_tick(leader_config: RobotConfig,
                                                                           follower_bus) -> None:
    bus, config = follower_bus
    ids = [j.id for j in config.joints]
    with VirtualLeader(leader_config, POSE) as virtual, LeaderArm(virtual.serial_config, config.spec) as leader:
        robot = SafeRobot(BusRobot(config), 1 / RATE_HZ, config.safety)
        with robot:
            report = Follower(robot, leader, FollowSettings(rate_hz=RATE_HZ)).run(seconds=2.5)
            np.testing.assert_allclose(goal_ticks(bus, ids), expected_ticks(POSE), atol=1)
            # The leader moves on: the follower's goals follow within one tick.
            moved = POSE * 0.8
            virtual.move_to(moved)
            Follower(robot, leader, FollowSettings(rate_hz=RATE_HZ)).run(seconds=0.6)
            np.testing.assert_allclose(goal_ticks(bus, ids), expected_ticks(moved), atol=1)
    assert report.ended_by == "time" and report.steps == int(2.5 * RATE_HZ)
    # Engaged only after the slow approach from home: the largest move (wrist roll, 1.5 rad) at
    # a quarter of 5.45 rad/s takes a little over a second.
    assert report.engaged_after_s is not None and 0.9 < report.engaged_after_s < 2.0
    summary = report.summary()
    assert summary["tracking_error_rad"]["p99"] <= RAD_PER_TICK
    assert summary["leader_age_ms"]["p99"] < 100


def test_a_leader_lost_mid_run_holds_the_follower_then_torque_goes_off(leader_config: RobotConfig,
                                                                        follower_bus) -> None:
    bus, config = follower_bus
    ids = [j.id for j in config.joints]
    hold_s = 0.6
    with VirtualLeader(leader_config, extra_args=("--disconnect-after", "150")) as virtual, \
            LeaderArm(virtual.serial_config, config.spec, timeout_s=0.2) as leader:
        robot = SafeRobot(BusRobot(config), 1 / RATE_HZ, config.safety)
        with robot:
            started = time.monotonic()
            report = Follower(robot, leader, FollowSettings(rate_hz=RATE_HZ, hold_s=hold_s)).run(
                seconds=20.0, before_step=lambda t: virtual.move_to(config.home_rad + 0.3 * np.sin(t)))
            took = time.monotonic() - started
            # Held: goals at the pose read when the leader was lost, torque still on.
            bus.wait_idle()
            present = np.array([bus.read_register(i, "present_position") for i in ids])
            assert np.max(np.abs(goal_ticks(bus, ids) - present)) <= 8
            assert [bus.read_register(i, "torque_enable") for i in ids] == [1] * 6
        bus.wait_idle()
        assert [bus.read_register(i, "torque_enable") for i in ids] == [0] * 6  # closed: torque off
    assert report.ended_by.startswith("leader lost: leader so101_leader")
    assert report.steps < 10 * RATE_HZ and hold_s <= took < 10.0


def test_while_paused_the_follower_holds_and_then_engages_again(leader_config: RobotConfig, follower_bus) -> None:
    bus, config = follower_bus
    ids = [j.id for j in config.joints]
    pause = {"on": False}
    with VirtualLeader(leader_config) as virtual, LeaderArm(virtual.serial_config, config.spec) as leader:
        robot = SafeRobot(BusRobot(config), 1 / RATE_HZ, config.safety)
        with robot:
            follower = Follower(robot, leader, FollowSettings(rate_hz=RATE_HZ))
            follower.run(seconds=0.5)
            held = goal_ticks(bus, ids)
            pause["on"] = True
            virtual.move_to(POSE)  # the leader moves while paused ...
            report = follower.run(seconds=0.6, paused=lambda: pause["on"])
            np.testing.assert_array_equal(goal_ticks(bus, ids), held)  # ... the follower does not
            assert report.paused_steps == report.steps
            pause["on"] = False
            report = follower.run(seconds=2.5, paused=lambda: pause["on"])
            np.testing.assert_allclose(goal_ticks(bus, ids), expected_ticks(POSE), atol=1)
            assert report.engaged_after_s is not None and report.engaged_after_s > 0.5  # slowly, again
