"""The watchdog holds, then turns torque off, when the loop stops commanding; never while it commands."""

from __future__ import annotations

import time

from robot_side.safety.watchdog import Watchdog

HOLD_AFTER_S, TORQUE_OFF_AFTER_S = 0.05, 0.1


class FakeRobot:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def hold(self) -> None:
        self.calls.append(("hold", time.monotonic()))

    def torque_off(self) -> None:
        self.calls.append(("torque_off", time.monotonic()))


def watchdog(robot: FakeRobot, fired: list[str]) -> Watchdog:
    return Watchdog(robot.hold, robot.torque_off, HOLD_AFTER_S, TORQUE_OFF_AFTER_S, on_fire=fired.append)


def test_fires_hold_then_torque_off_when_not_kicked() -> None:
    robot, fired = FakeRobot(), []
    dog = watchdog(robot, fired)
    start = time.monotonic()
    dog.start()
    try:
        deadline = start + 5.0
        while len(robot.calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
    finally:
        dog.stop()
    assert [name for name, _ in robot.calls] == ["hold", "torque_off"]
    assert fired == ["hold", "torque_off"] and dog.torque_cut
    hold_at, off_at = robot.calls[0][1] - start, robot.calls[1][1] - start
    assert hold_at >= HOLD_AFTER_S and off_at >= HOLD_AFTER_S + TORQUE_OFF_AFTER_S


def test_silent_while_kicked_and_while_suspended() -> None:
    robot, fired = FakeRobot(), []
    dog = watchdog(robot, fired).start()
    try:
        end = time.monotonic() + 0.4
        while time.monotonic() < end:
            dog.kick()
            time.sleep(0.005)
        with dog.suspended():  # e.g. a scripted reset motion: no commands on purpose
            time.sleep(3 * (HOLD_AFTER_S + TORQUE_OFF_AFTER_S))
        dog.kick()
    finally:
        dog.stop()
    assert robot.calls == [] and fired == [] and not dog.torque_cut


def test_a_kick_after_hold_rearms_it() -> None:
    robot, fired = FakeRobot(), []
    dog = watchdog(robot, fired).start()
    try:
        deadline = time.monotonic() + 5.0
        while not robot.calls and time.monotonic() < deadline:
            time.sleep(0.002)
        dog.kick()  # the loop came back before the torque-off stage
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            dog.kick()
            time.sleep(0.005)
    finally:
        dog.stop()
    assert [name for name, _ in robot.calls] == ["hold"] and not dog.torque_cut
