"""Interventions end to end: a scripted operator at a virtual leader takes over during real-time
training; its transitions reach the replay flagged, keep their share of the batches and
survive ``--resume``; a leader lost mid-intervention ends the episode, not the run."""

from __future__ import annotations

import json
import time
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the ids)
from drivers.config import ConfigError
from robot_rl.human.interventions import InterventionLost, Interventions
from robot_rl.human.scripted_interventions import ScriptedInterventions
from robot_rl.train.config import InterventionConfig
from robot_side.teleop.virtual_leader import VirtualLeader

ROOT = Path(__file__).resolve().parents[2]


def train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "train", "configs/train/so101_reach_async.yaml",
                           *args], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)


def test_interventions_reach_the_replay_flagged_and_survive_resume(tmp_path: Path) -> None:
    run = tmp_path / "run"
    # 50 Hz: one-second episodes, so the run takes a third of the robot time of 20 Hz.
    common = ["--run-dir", str(run), "--no-progress", "--set", "intervention.leader=so101_leader",
              "--set", "intervention.scripted_budget=0.5", "--set", "env.options.control_rate_hz=50",
              "--set", "loop.start_steps=50", "--set", "loop.update_after=100", "--set", "loop.log_every_steps=50",
              "--set", "algo.sac.hidden_sizes=[32,32]", "--set", "algo.sac.compile=false",
              "--set", "replay.flush_interval_steps=50", "--set", "realtime.eval_every_episodes=0",
              "--set", "realtime.realtime_priority=null"]
    first = train(*common, "--set", "loop.total_steps=200")
    assert first.returncode == 0, first.stderr
    second = train(*common, "--set", "loop.total_steps=300", "--resume")
    assert second.returncode == 0, second.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    counts = [(r["step"], r["replay/interventions"], r["learner/human_share"]) for r in rows
              if "replay/interventions" in r]
    before = [c for c in counts if c[0] <= 200]
    after = [c for c in counts if c[0] > 200]
    assert before and after
    taken = before[-1][1]
    assert 20 <= taken <= 0.5 * 200 + 50  # stepped in, within its budget (plus the episode it began)
    assert all(c[1] >= taken for c in after)  # restored with the replay on resume, never lost
    assert after[-1][2] == pytest.approx(0.5)  # half of each batch is human


def test_a_leader_lost_mid_intervention_ends_the_episode_not_the_run() -> None:
    env = gym.make("robot_rl/SO101Reach-v0", backend="sim", sim={"realtime": True})  # paced like hardware
    inner = env.unwrapped
    human = Interventions(InterventionConfig(leader="so101_leader", scripted_budget=1.0), inner)
    human.virtual = VirtualLeader(human.leader_config, extra_args=("--disconnect-after", "120"))
    human.open()
    try:
        env.reset(seed=0)
        human.begin_episode()
        lost, taken = False, 0
        for _ in range(100):
            try:
                action = human.action()
            except InterventionLost:
                lost = True
                break
            taken += action is not None
            env.step(action if action is not None else np.zeros(3, np.float32))
        assert taken > 0 and lost  # the operator drove, then the leader went
        assert not human.available and human.action() is None  # the policy drives from now on
    finally:
        human.close()
        env.close()


def test_the_sync_mode_takes_scripted_interventions_and_refuses_a_persons_leader(tmp_path: Path) -> None:
    common = ["--no-progress", "--set", "intervention.leader=so101_leader", "--set", "loop.total_steps=300",
              "--set", "loop.start_steps=50", "--set", "loop.update_after=100", "--set", "loop.log_every_steps=100",
              "--set", "loop.eval_every_steps=300", "--set", "loop.eval_episodes=1",
              "--set", "algo.sac.hidden_sizes=[32,32]", "--set", "algo.sac.compile=false"]
    done = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "train", "configs/train/so101_reach_sac.yaml",
                           "--run-dir", str(tmp_path / "run"), *common], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    taken = [r["replay/interventions"] for r in rows if "replay/interventions" in r]
    assert taken[-1] > 0 and taken == sorted(taken)
    env = gym.make("robot_rl/SO101Reach-v0", backend="sim")
    try:
        with pytest.raises(ConfigError, match="intervention.leader so101_leader: the synchronous mode runs faster"):
            ScriptedInterventions(InterventionConfig(leader="so101_leader", leader_port="/dev/ttyACM1"), env.unwrapped)
    finally:
        env.close()


def test_a_persons_leader_takes_over_when_moved_or_by_key() -> None:
    env = gym.make("robot_rl/SO101Reach-v0", backend="sim")
    inner = env.unwrapped
    key = {"on": False}
    human = Interventions(InterventionConfig(leader="so101_leader", takeover_rad=0.15, release_s=0.3), inner,
                          key=lambda: key["on"])
    human.operator = None  # a person's leader: no script decides, only the leader and the key
    human.open()
    try:
        env.reset(seed=0)
        human.begin_episode()
        assert human.action() is None  # resting: the policy drives
        key["on"] = True
        time.sleep(0.05)
        assert human.action() is not None  # the key (space, a pedal) takes over
        key["on"] = False
        assert human.action() is None
        moved = human.virtual.start_rad.copy()
        moved[1] += 0.3  # the person moves the leader
        human.virtual.move_to(moved)
        deadline = time.monotonic() + 2.0
        action = None
        while action is None and time.monotonic() < deadline:
            action = human.action()
            time.sleep(0.01)
        assert action is not None and human.steps >= 2
    finally:
        human.close()
        env.close()
