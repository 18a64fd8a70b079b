"""The on-device runner: an exported policy driving the robot through the same env, task and
safety stack as training, at the policy's control rate, with every step timed.

Imports only numpy, gymnasium, onnxruntime, pyserial and pyyaml (through ``drivers`` and the
robot side): no torch, no MuJoCo. The safety stack's watchdog runs while commands are due (it
holds, then turns torque off, if a step hangs); torque goes off on every exit path (the
caller closes the env in a ``finally``; ``robot-rl deploy`` also on SIGINT, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from deploy.errors import DeployError
from deploy.metadata import PolicyMetadata
from deploy.runtime.policy import OnnxPolicy
from robot_side.envs.robot_env import RobotEnv
from robot_side.gc_pauses import CollectBetweenEpisodes
from robot_side.safety.stop_signals import StopSignals


class PolicyMismatchError(DeployError):
    """The policy does not fit the robot or task it is asked to drive; the message names both values."""


def check_compatibility(metadata: PolicyMetadata, env: RobotEnv, robot_config_name: str) -> None:
    """Every mismatch between what the policy was trained on and what it will drive, at once."""
    problems = []
    obs_dim = int(env.observation_space.shape[0])
    act_dim = int(env.action_space.shape[0])
    if metadata.observation.size != obs_dim:
        problems.append(f"observation size: policy {metadata.observation.size}, env {obs_dim}")
    if metadata.action.size != act_dim:
        problems.append(f"action size: policy {metadata.action.size}, env {act_dim}")
    else:
        low, high = env.action_space.low, env.action_space.high
        if not (np.allclose(metadata.action.low, low, atol=1e-6) and np.allclose(metadata.action.high, high, atol=1e-6)):
            problems.append(f"action bounds: policy [{list(metadata.action.low)}, {list(metadata.action.high)}], "
                            f"env [{low.tolist()}, {high.tolist()}]")
    rate = 1.0 / env.period_s
    if metadata.control_rate_hz is not None and not math.isclose(metadata.control_rate_hz, rate, rel_tol=1e-6):
        problems.append(f"control rate: policy {metadata.control_rate_hz:g} Hz, robot config {rate:g} Hz")
    if metadata.robot_id is not None and metadata.robot_id != robot_config_name:
        problems.append(f"robot: policy trained on {metadata.robot_id!r}, robot config is {robot_config_name!r}")
    if problems:
        raise PolicyMismatchError("the policy does not fit this robot: " + "; ".join(problems))


@dataclass
class RunReport:
    """What a deployment did. Times in seconds (per-step arrays over all episodes)."""

    returns: list[float] = field(default_factory=list)
    successes: list[bool] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    overhead_s: list[float] = field(default_factory=list)  # policy + env + safety, excluding bus and waiting
    policy_s: list[float] = field(default_factory=list)
    period_error_s: list[float] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    read_retries: int = 0  # state reads tried again within their period (transient bus errors)
    stale_reads: int = 0  # periods whose read still failed: the last command was held
    watchdog_fired: list[str] = field(default_factory=list)  # "hold" / "torque_off", as they fired
    stopped_by: str | None = None  # the signal that ended the run early (SIGINT, SIGTERM, SIGHUP)

    def summary(self) -> dict[str, float | int | None]:
        def pct(values: list[float], q: float) -> float | None:
            return float(np.percentile(values, q)) if values else None

        return {"episodes": len(self.returns), "steps": int(sum(self.lengths)),
                "success_rate": float(np.mean(self.successes)) if self.successes else None,
                "mean_return": float(np.mean(self.returns)) if self.returns else None,
                "overhead_us_p50": _us(pct(self.overhead_s, 50)), "overhead_us_p99": _us(pct(self.overhead_s, 99)),
                "policy_us_p50": _us(pct(self.policy_s, 50)), "policy_us_p99": _us(pct(self.policy_s, 99)),
                "period_error_ms_p50": _ms(pct(self.period_error_s, 50)),
                "period_error_ms_p99": _ms(pct(self.period_error_s, 99)), "faults": len(self.faults),
                "read_retries": self.read_retries, "stale_reads": self.stale_reads,
                "watchdog_fired": len(self.watchdog_fired), "stopped_by": self.stopped_by}


def _us(v: float | None) -> float | None:
    return None if v is None else v * 1e6


def _ms(v: float | None) -> float | None:
    return None if v is None else v * 1e3


def run_policy(policy: OnnxPolicy, env: RobotEnv, episodes: int, max_episode_steps: int | None, seed: int = 0,
               on_episode: Callable[[int, float, bool, int], None] | None = None,
               stop: StopSignals | None = None) -> RunReport:
    """Run ``episodes`` episodes (fewer when ``stop`` is requested: the episode ends at the
    step, ``report.stopped_by`` names the signal); the caller closes the env (torque off).
    The watchdog watches from the first episode's start (``safety`` of the robot config)."""
    if episodes < 1:
        raise DeployError(f"episodes must be at least 1, got {episodes}")
    report = RunReport()
    action = np.zeros(policy.act_dim, dtype=np.float32)
    robot = env.robot
    try:
        with CollectBetweenEpisodes() as collector:  # no collector pause inside a period
            for episode in range(episodes):
                with robot.commands_paused():
                    obs, _ = env.reset(seed=seed + episode)
                if robot.watchdog is None and not robot.simulated:
                    robot.start_watchdog(on_fire=report.watchdog_fired.append)
                _run_episode(policy, env, obs, action, report, max_episode_steps, stop)
                with robot.commands_paused():
                    collector.collect()
                    if on_episode is not None:
                        on_episode(episode, report.returns[-1], report.successes[-1], report.lengths[-1])
                if stop is not None and stop.requested:
                    report.stopped_by = stop.name
                    break
    finally:
        report.read_retries = robot.stats["read_retries"]
        report.stale_reads = robot.stats["stale_reads"]
    return report


def _run_episode(policy: OnnxPolicy, env: RobotEnv, obs: np.ndarray, action: np.ndarray, report: RunReport,
                 max_episode_steps: int | None, stop: StopSignals | None) -> None:
    """One episode from its first observation ``obs``; its figures appended to ``report``."""
    total, steps, done, info = 0.0, 0, False, {}
    previous_write = None
    while not done:
        t0 = time.monotonic()
        policy(obs, out=action)
        t1 = time.monotonic()
        obs, reward, terminated, truncated, info = env.step(action)
        t2 = time.monotonic()
        t = env.timing
        bus_and_wait = (t.write_end_s - t.write_start_s) + (t.read_end_s - t.write_end_s)
        report.overhead_s.append((t2 - t0) - bus_and_wait)
        report.policy_s.append(t1 - t0)
        if previous_write is not None:
            report.period_error_s.append(abs(t.write_start_s - previous_write - env.period_s))
        previous_write = t.write_start_s
        total += float(reward)
        steps += 1
        done = terminated or truncated or (max_episode_steps is not None and steps >= max_episode_steps) or (
            stop is not None and stop.requested)
    if "fault" in info:
        report.faults.append(str(info["fault"]))
    success = bool(info.get("success", False))
    report.returns.append(total)
    report.successes.append(success)
    report.lengths.append(steps)
