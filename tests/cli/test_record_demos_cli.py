"""``robot-rl record-demos`` with a virtual leader driven by the scripted reach operator, and
what training makes of the folder: demonstrations in the replay, flagged, counted once, kept
through ``--resume``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from robot_rl.replay.demonstrations import DemonstrationError, load_demonstrations

ROOT = Path(__file__).resolve().parents[2]


def robot_rl(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


@pytest.fixture(scope="module")
def demos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demos") / "reach"
    done = robot_rl("record-demos", "--leader", "so101_leader", "--robot", "so101", "--task", "SO101Reach-v0",
                    "--episodes", "2", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["episodes"] == 2 and summary["transitions"] == 100 and summary["ended_by"] == "done"
    return out


def test_the_folder_holds_flagged_episodes_in_the_replay_format(demos: Path) -> None:
    loaded = load_demonstrations(demos, "robot_rl/SO101Reach-v0", 31, 3)
    assert len(loaded) == 100 and loaded.meta["episodes"] == 2
    np.testing.assert_array_equal(loaded.episode, np.repeat([0, 1], 50))
    assert loaded.truncated.sum() + loaded.terminated.sum() == 2  # two whole episodes
    assert np.all(np.abs(loaded.action) <= 1.0) and np.abs(loaded.action).max() > 0.3  # the leader moved it
    # The operator brings the gripper toward the target: the distance term shrinks.
    to_target = np.linalg.norm(loaded.obs[:, 18:21], axis=1)
    assert to_target[49] < to_target[0] and to_target[99] < to_target[50]
    with pytest.raises(DemonstrationError, match="env_id is 'robot_rl/SO101Reach-v0', this run's is 'Pendulum-v1'"):
        load_demonstrations(demos, "Pendulum-v1")


def test_an_existing_folder_is_not_overwritten(demos: Path) -> None:
    done = robot_rl("record-demos", "--leader", "so101_leader", "--robot", "so101", "--task", "SO101Reach-v0",
                    "--episodes", "1", "--out", str(demos))
    assert done.returncode == 2 and "exists and is not empty" in done.stderr
    assert load_demonstrations(demos).meta["episodes"] == 2


def test_training_takes_the_demonstrations_once_and_keeps_them_through_resume(demos: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    common = ["--run-dir", str(run), "--no-progress", "--set", f"loop.demos={demos}", "--set", "loop.start_steps=50",
              "--set", "loop.update_after=150", "--set", "loop.log_every_steps=50", "--set", "loop.eval_every_steps=200",
              "--set", "loop.eval_episodes=1", "--set", "loop.checkpoint_every_steps=100",
              "--set", "algo.sac.hidden_sizes=[32,32]", "--set", "algo.sac.compile=false",
              "--set", "replay.flush_interval_steps=50"]
    first = robot_rl("train", "configs/train/so101_reach_sac.yaml", *common, "--set", "loop.total_steps=100")
    assert first.returncode == 0, first.stderr
    second = robot_rl("train", "configs/train/so101_reach_sac.yaml", *common, "--set", "loop.total_steps=200",
                      "--resume")
    assert second.returncode == 0, second.stderr
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    counts = [(r["step"], r["replay/demonstrations"], r["learner/human_share"]) for r in rows
              if "replay/demonstrations" in r]
    assert [c[0] for c in counts] == [50, 100, 150, 200]
    assert all(c[1] == 100 for c in counts)  # loaded once, restored on resume, not added again
    assert counts[-1][2] == 0.5  # updates from step 150 draw half of each batch from them


def test_demonstrations_of_another_env_are_refused_by_name(demos: Path, tmp_path: Path) -> None:
    done = robot_rl("train", "configs/train/pendulum_sac.yaml", "--run-dir", str(tmp_path / "run"),
                    "--set", f"loop.demos={demos}", "--set", "loop.total_steps=10")
    assert done.returncode == 2, done.stderr
    assert "loop.demos" in done.stderr and "Pendulum-v1" in done.stderr and "Traceback" not in done.stderr
