"""The command limiter never lets a command past a joint limit or a per-step limit."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.robot import RobotSpec
from drivers.safety import CommandLimiter, clip, limit_command


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


def test_clip_and_limit_command_compute_what_np_clip_does() -> None:
    rng = np.random.default_rng(2)
    low, high, max_step = np.array([-1.0, 0.0, -np.inf]), np.array([1.0, 2.0, np.inf]), np.array([0.1, np.inf, 0.3])
    for _ in range(500):
        command = rng.uniform(-3, 3, 3)
        command[rng.integers(3)] = rng.choice([np.nan, np.inf, -np.inf, 0.5])
        last = rng.uniform(-1.5, 2.5, 3)
        np.testing.assert_array_equal(clip(command, low, high), np.clip(command, low, high))
        expected = np.clip(np.clip(command, last - max_step, last + max_step), low, high)
        np.testing.assert_array_equal(limit_command(command, last, low, high, max_step), expected)
        np.testing.assert_array_equal(limit_command(command, None, low, high, max_step), np.clip(command, low, high))


def test_limit_is_what_the_limiter_sends() -> None:
    """``limit`` (what a workspace guard checks) computes the values ``limit_command`` does,
    from the limiter's own last command (with the bounds kept from when it was sent) and from
    any other, and the limiter then sends exactly that command."""
    s = spec()
    limiter = CommandLimiter(s, 0.1, 0.02)
    low, high, max_step = limiter.low, limiter.high, limiter.max_step
    rng = np.random.default_rng(3)
    command = rng.uniform(-2, 3, 2)
    np.testing.assert_array_equal(limiter.limit(command, None), np.clip(command, low, high))  # before any reset
    limiter.reset(np.array([0.98, 1.97]))
    for _ in range(500):
        command = rng.uniform(-2, 3, 2)
        other = rng.uniform(-1.5, 2.5, 2)  # a last command out of range, as a measured pose may be
        np.testing.assert_array_equal(limiter.limit(command, other),
                                      limit_command(command, other, low, high, max_step))
        last = limiter.last
        expected = limit_command(command, last, low, high, max_step)
        np.testing.assert_array_equal(limiter.limit(command, last), expected)
        np.testing.assert_array_equal(limiter(command), expected)
        assert limiter.last is not last


def test_non_finite_entries_refused_and_large_finite_ones_limited() -> None:
    limiter = CommandLimiter(spec(), 0.1, 0.02)
    limiter.reset(np.array([0.0, 1.0]))
    for bad in (np.inf, -np.inf, np.nan):
        with pytest.raises(ValueError, match="non-finite"):
            limiter(np.array([0.0, bad]))
    # Squares that overflow (the limiter's quick test) are no reason to refuse a finite command.
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(limiter(np.array([1e200, -1e300])), [0.04, 0.9])
