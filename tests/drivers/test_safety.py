"""The command limiter never lets a command past a joint limit or a per-step limit."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.robot import RobotSpec
from drivers.safety import CommandLimiter


def spec() -> RobotSpec:
    return RobotSpec("t", ("a", "b"), np.array([-1.0, 0.0]), np.array([1.0, 2.0]), np.array([2.0, 10.0]), 50.0)


def test_extreme_policy_never_exceeds_limits() -> None:
    limiter = CommandLimiter(spec(), max_step_rad=0.1, period_s=0.02)
    limiter.reset(np.array([0.0, 1.0]))
    rng = np.random.default_rng(0)
    last = limiter.last.copy()
    for _ in range(2000):
        command = rng.choice([-1e6, 1e6], size=2)
        sent = limiter(command)
        assert np.all(sent >= [-1.0, 0.0]) and np.all(sent <= [1.0, 2.0])
        # velocity limit 2 rad/s * 0.02 s = 0.04 rad for joint a; max_step 0.1 for joint b
        assert np.all(np.abs(sent - last) <= np.array([0.04, 0.1]) + 1e-12)
        last = sent


def test_non_finite_command_refused() -> None:
    limiter = CommandLimiter(spec(), 0.1, 0.02)
    with pytest.raises(ValueError, match="non-finite"):
        limiter(np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match="shape"):
        limiter(np.zeros(3))
