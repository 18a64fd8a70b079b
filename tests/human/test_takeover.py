"""A person takes over by moving the leader away from its rest pose, and hands back by holding it still."""

from __future__ import annotations

import numpy as np

from robot_rl.human.takeover import TakeoverTrigger


def test_moving_the_leader_takes_over_and_holding_it_still_hands_back() -> None:
    trigger = TakeoverTrigger(takeover_rad=0.15, release_s=0.5, still_rad=0.02)
    rest = np.zeros(6)
    assert not trigger.update(rest, 0.0)
    assert not trigger.update(rest + 0.1, 0.1)  # a nudge under the threshold: the policy keeps driving
    pose = rest.copy()
    pose[2] = 0.2
    assert trigger.update(pose, 0.2)  # one joint past it: taken over
    for k in range(10):  # moving: still taken over, however long
        pose[1] += 0.05
        assert trigger.update(pose, 0.3 + 0.1 * k)
    # The last move was at 1.2 s.
    assert trigger.update(pose + 0.01, 1.5)  # held within still_rad ...
    assert trigger.update(pose, 1.65)        # ... for less than release_s
    assert not trigger.update(pose, 1.75)    # ... for release_s: handed back
    np.testing.assert_array_equal(trigger.rest, pose)  # where it stopped is the new rest
    assert not trigger.update(pose + 0.1, 1.8)


def test_an_episode_end_hands_back_at_once() -> None:
    trigger = TakeoverTrigger(0.15, 0.5, 0.02)
    trigger.update(np.zeros(3), 0.0)
    assert trigger.update(np.full(3, 0.3), 0.1)
    trigger.release(np.full(3, 0.3))
    assert not trigger.active and not trigger.update(np.full(3, 0.3), 0.2)
