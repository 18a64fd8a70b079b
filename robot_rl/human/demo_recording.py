"""Record demonstrations: a person drives the robot with the leader arm through whole episodes.

Each period of an episode the leader's newest pose becomes the action that moves the
follower's command toward it (``RobotEnv.action_toward``: as far as one step of the task's
action allows), and the env executes that action like a policy's: same task, same safety
stack, same timing. What is stored is therefore exactly what was done. Each finished
episode is appended to the folder's replay (flagged :data:`DEMONSTRATION`) and flushed, and
``demonstrations.json`` rewritten, so a run stopped or failed midway keeps every finished
episode; an episode cut short (a stop, a lost leader) is left out.

With a virtual leader, ``operator`` (``begin(pose)``, ``next_pose(follower_rad)``) plays the
person: each period it moves the virtual leader's hand before the leader is read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from robot_rl.replay.buffer import ReplayBuffer
from robot_rl.replay.demonstrations import demo_replay_config, write_meta
from robot_rl.replay.human_share import DEMONSTRATION
from robot_side.teleop.leader_arm import LeaderArm, LeaderLostError


class HandOperator(Protocol):
    def begin(self, pose_rad: np.ndarray) -> None: ...

    def next_pose(self, follower_rad: np.ndarray) -> np.ndarray: ...


@dataclass
class DemoReport:
    episodes: int = 0
    successes: int = 0
    transitions: int = 0
    returns: list[float] = field(default_factory=list)
    ended_by: str = "done"
    leader_age_s: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "successes": self.successes, "transitions": self.transitions,
                "mean_return": float(np.mean(self.returns)) if self.returns else None, "ended_by": self.ended_by,
                "leader_age_ms_p99": float(np.percentile(self.leader_age_s, 99) * 1e3) if self.leader_age_s else None}


def record_demonstrations(env: Any, leader: LeaderArm, episodes: int, out: Path, meta: dict[str, Any], *,
                          seed: int = 0, operator: HandOperator | None = None,
                          move_hand: Callable[[np.ndarray], None] | None = None,
                          should_stop: Callable[[], str | None] = lambda: None,
                          on_episode: Callable[[int, float, bool, int], None] | None = None) -> DemoReport:
    """Record ``episodes`` episodes of ``env`` (a gymnasium env over a ``RobotEnv``, with its
    time limit) driven by ``leader`` into ``out`` (created; must not hold demonstrations).
    ``operator`` with ``move_hand`` plays the person on a virtual leader."""
    inner = env.unwrapped
    obs_dim, action_dim = env.observation_space.shape[0], env.action_space.shape[0]
    replay = ReplayBuffer(demo_replay_config(), obs_dim, action_dim, run_dir=out)
    meta = {**meta, "obs_dim": obs_dim, "action_dim": action_dim, "episodes": 0, "successes": 0, "transitions": 0}
    report = DemoReport()
    started = time.monotonic()
    try:
        for episode in range(episodes):
            rows = _episode(env, inner, leader, seed + episode, operator, move_hand, should_stop, report)
            if rows is None:
                break
            columns, success, episode_return = rows
            n = len(columns["reward"])
            replay.add_batch(**columns, extras={"source": np.full(n, DEMONSTRATION, dtype=np.int8),
                                                "episode": np.full(n, episode, dtype=np.int64)})
            replay.flush()
            report.episodes += 1
            report.successes += int(success)
            report.transitions += n
            report.returns.append(episode_return)
            meta.update(episodes=report.episodes, successes=report.successes, transitions=report.transitions,
                        seconds=round(time.monotonic() - started, 1))
            write_meta(out, meta)
            if on_episode is not None:
                on_episode(episode, episode_return, success, n)
    finally:
        replay.close()
    return report


def _episode(env: Any, inner: Any, leader: LeaderArm, seed: int, operator: HandOperator | None,
             move_hand: Callable[[np.ndarray], None] | None, should_stop: Callable[[], str | None],
             report: DemoReport) -> tuple[dict[str, np.ndarray], bool, float] | None:
    """One episode's transitions, its success and return; None when it was cut short (the
    reason in ``report.ended_by``, the follower held)."""
    obs, info = env.reset(seed=seed)
    if operator is not None:
        operator.begin(inner.state.position_rad)
    rows: dict[str, list] = {k: [] for k in ("obs", "action", "reward", "next_obs", "terminated", "truncated")}
    total = 0.0
    while True:
        reason = should_stop()
        if reason:
            report.ended_by = reason
            return None
        if operator is not None and move_hand is not None:
            move_hand(operator.next_pose(inner.state.position_rad))
        try:
            reading = leader.latest()
        except LeaderLostError as exc:
            report.ended_by = f"leader lost: {exc}"
            inner.robot.hold()
            return None
        report.leader_age_s.append(reading.age_s)
        action = inner.action_toward(reading.position_rad)
        next_obs, reward, terminated, truncated, info = env.step(action)
        for key, value in (("obs", obs), ("action", action), ("reward", reward), ("next_obs", next_obs),
                           ("terminated", terminated), ("truncated", truncated)):
            rows[key].append(value)
        total += float(reward)
        obs = next_obs
        if terminated or truncated:
            columns = {k: np.asarray(v) for k, v in rows.items()}
            return columns, bool(info.get("success", False)), total
