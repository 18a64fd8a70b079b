"""The env drives every robot through the safety stack: limits sized from the control rate it
really steps at, one named error for a bad action on every robot, options checked by name."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import robot_side  # noqa: F401  (registers the ids)
from robot_side.errors import EnvOptionError, InvalidActionError


@pytest.mark.parametrize(("env_id", "backend", "rate_hz"), [
    ("robot_rl/DClawTurn-v0", "virtual", 50.0),  # the robot config says 10 Hz
    ("robot_rl/SO101Reach-v0", "sim", 100.0),  # the robot config says 20 Hz
    ("robot_rl/DClawTurn-v0", "sim", 5.0),
])
def test_joint_velocity_limit_holds_at_an_overridden_control_rate(env_id: str, backend: str, rate_hz: float) -> None:
    env = gym.make(env_id, backend=backend, control_rate_hz=rate_hz)
    inner = env.unwrapped
    try:
        assert inner.period_s == pytest.approx(1.0 / rate_hz)
        spec = inner.robot.spec
        allowed = np.minimum(spec.max_step_rad, spec.velocity_max_rad_s / rate_hz) + 1e-9
        env.reset(seed=0)
        last = inner._last_command.copy()
        rng = np.random.default_rng(0)
        for _ in range(20):
            env.step(rng.choice([-1.0, 1.0], size=env.action_space.shape).astype(np.float32))
            sent = inner._last_command.copy()
            assert np.all(np.abs(sent - last) <= allowed), (np.abs(sent - last) / (spec.velocity_max_rad_s / rate_hz))
            last = sent
    finally:
        env.close()


@pytest.mark.parametrize("rate", [-10.0, 0.0, 1e6, float("nan"), "fast"])
def test_a_control_rate_outside_the_robots_bounds_is_refused(rate: object) -> None:
    with pytest.raises(EnvOptionError, match="control_rate_hz"):
        gym.make("robot_rl/SO101Reach-v0", control_rate_hz=rate)


@pytest.mark.parametrize("env_id", ["robot_rl/SO101Reach-v0", "robot_rl/DClawTurn-v0"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_action_is_one_named_error_on_every_robot(env_id: str, bad: float) -> None:
    env = gym.make(env_id)
    inner = env.unwrapped
    try:
        env.reset(seed=0)
        before = inner._last_command.copy()
        action = np.zeros(env.action_space.shape, dtype=np.float32)
        action[1] = bad
        with pytest.raises(InvalidActionError, match=r"non-finite values \(.*=(nan|inf|-inf)\)"):
            env.step(action)
        np.testing.assert_array_equal(inner._last_command, before)  # nothing was sent
        with pytest.raises(InvalidActionError, match="shape"):
            env.step(np.zeros(env.action_space.shape[0] + 1, dtype=np.float32))
    finally:
        env.close()


def test_a_misspelt_env_option_names_the_closest_one() -> None:
    with pytest.raises(EnvOptionError, match=r"unknown env option 'bakend'; did you mean 'backend'\?"):
        gym.make("robot_rl/SO101Reach-v0", bakend="sim")
