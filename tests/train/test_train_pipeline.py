"""``robot-rl train`` as a user runs it: config errors, run directory, resume after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from deploy.export.checkpoint import load_policy_from_checkpoint
from drivers.config import ConfigError
from robot_rl.train.config import load_train_config

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "loop.total_steps=400", "--set", "loop.start_steps=100", "--set", "loop.update_after=100",
         "--set", "loop.eval_every_steps=200", "--set", "loop.eval_episodes=1", "--set",
         "loop.checkpoint_every_steps=200", "--set", "replay.flush_interval_steps=50",
         "--set", "replay.segment_steps=200", "--set", "algo.sac.hidden_sizes=[32,32]"]


def train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "train", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.parametrize("override,message", [
    ("loop.total_step=5", r"unknown key 'loop.total_step'; did you mean 'total_steps'\?"),
    ("algo.sac.gama=0.9", r"unknown key 'algo.sac.gama'; did you mean 'gamma'\?"),
    ("algo.name=ppo", r"algo.name: 'ppo' is not one of 'sac', 'td3'"),
    ("loop.total_steps=-1", r"total_steps must be positive"),
    ("replay.capacity=0", r"replay: capacity must be"),
    ("algo.td3.polcy_delay=3", r"unknown key 'algo.td3.polcy_delay'; did you mean 'policy_delay'\?"),  # sac selected
    ("env.id=Pendulum-v9", r"env.id 'Pendulum-v9' is not a registered Gymnasium id; did you mean 'Pendulum-v1'\?"),
    ("loop.eval_episodes=-3", r"eval_episodes must be positive"),
])
def test_bad_config_is_an_error_naming_key_and_file(tmp_path: Path, override: str, message: str) -> None:
    result = train(str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(tmp_path / "run"),
                   "--set", override)
    assert result.returncode == 2, result.stderr
    assert "pendulum_sac.yaml" in result.stderr
    assert len(__import__("re").findall(message, result.stderr)) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_set_parses_yaml_values() -> None:
    config = load_train_config(ROOT / "configs/train/pendulum_sac.yaml",
                               ["loop.total_steps=123", "algo.sac.hidden_sizes=[8, 8]", "env.options.g=9.0"])
    assert config.loop.total_steps == 123 and config.algo.sac["hidden_sizes"] == [8, 8]
    assert config.env.options == {"g": 9.0}
    with pytest.raises(ConfigError, match="expected key=value"):
        load_train_config(ROOT / "configs/train/pendulum_sac.yaml", ["loop.total_steps"])


def test_run_writes_everything_and_refuses_to_overwrite(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train(str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(run), "--json", *SMALL)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["steps"] == 400 and summary["updates"] == 301 and summary["best_eval_return"] is not None
    for path in ("config.yaml", "checkpoints/latest.pt", "metrics.jsonl", "summary.json",
                 "plots/learning_curve.png", "replay/manifest.json"):
        assert (run / path).exists(), path
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/mean_return" in r for r in rows) and any("learner/critic_loss" in r for r in rows)
    # checkpoints/best.pt: the policy of the best evaluation, exportable like any checkpoint
    evaluations = {r["step"]: r["eval/mean_return"] for r in rows if "eval/mean_return" in r}
    best_step = max(evaluations, key=evaluations.get)
    assert summary["best_checkpoint_step"] == best_step
    best = torch.load(run / "checkpoints/best.pt", weights_only=True)
    assert best["step"] == best_step and best["evaluation"]["mean_return"] == evaluations[best_step]
    assert load_policy_from_checkpoint(run / "checkpoints/best.pt").actor is not None
    assert yaml.safe_load((run / "config.yaml").read_text())["loop"]["total_steps"] == 400
    again = train(str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(run), *SMALL)
    assert again.returncode == 2 and "already holds a run" in again.stderr


@pytest.mark.slow
def test_pipeline_trains_exports_and_runs_the_policy(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "robot_rl.cli.main", "pipeline", str(ROOT / "configs/train/so101_reach_sac.yaml"),
         "--run-dir", str(run), "--episodes", "1", "--set", "loop.total_steps=600", "--set", "loop.start_steps=100",
         "--set", "loop.update_after=100", "--set", "loop.eval_every_steps=200", "--set", "loop.eval_episodes=1",
         "--set", "algo.sac.compile=false", "--set", "algo.sac.hidden_sizes=[32,32]"],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((run / "summary.json").read_text())["steps"] == 600
    report = json.loads((run / "pipeline.json").read_text())
    assert report["export"]["checkpoint"].endswith("latest.pt")
    assert report["virtual"]["episodes"] == report["twin"]["episodes"] == 1
    assert "virtual hardware     success" in result.stdout and "twin                 success" in result.stdout


def test_same_seed_same_weights(tmp_path: Path) -> None:
    weights = []
    for name in ("a", "b"):
        result = train(str(ROOT / "configs/train/pendulum_td3.yaml"), "--run-dir", str(tmp_path / name),
                       *[s.replace("algo.sac", "algo.td3") for s in SMALL], "--set", "loop.total_steps=250")
        assert result.returncode == 0, result.stderr
        state = torch.load(tmp_path / name / "checkpoints/latest.pt", weights_only=False)
        weights.append(state["learner"]["actor"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_updates_every_two_steps_run_in_rounds(tmp_path: Path) -> None:
    result = train(str(ROOT / "configs/train/pendulum_td3.yaml"), "--run-dir", str(tmp_path / "run"), "--json",
                   *[s.replace("algo.sac", "algo.td3") for s in SMALL], "--set", "loop.update_every_steps=2")
    assert result.returncode == 0, result.stderr
    # Steps 100, 102, ..., 400 each run two updates (one TD3 round): 151 x 2.
    assert json.loads(result.stdout)["updates"] == 302
    state = torch.load(tmp_path / "run/checkpoints/latest.pt", weights_only=False)
    assert state["learner"]["num_actor_updates"] == 151
    bad = train(str(ROOT / "configs/train/pendulum_td3.yaml"), "--run-dir", str(tmp_path / "bad"),
                "--set", "loop.update_every_steps=0")
    assert bad.returncode == 2 and "update_every_steps must be positive" in bad.stderr


def test_a_misspelt_option_of_a_robot_env_is_named_before_anything_runs(tmp_path: Path) -> None:
    result = train(str(ROOT / "configs/train/so101_reach_sac.yaml"), "--run-dir", str(tmp_path / "run"),
                   "--set", "env.options.bakend=virtual")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown key 'env.options.bakend'; did you mean 'backend'?" in result.stderr
    assert not (tmp_path / "run").exists()


def test_resume_from_a_truncated_checkpoint_is_an_error_that_changes_nothing(tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = [str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(run), "--no-progress", *SMALL,
            "--set", "loop.total_steps=200"]
    assert train(*args).returncode == 0
    checkpoint = run / "checkpoints/latest.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])
    files = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = train(*args, "--resume")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"cannot read checkpoint {checkpoint}" in result.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == files  # nothing already saved was touched


def start_long_run(run: Path) -> tuple[subprocess.Popen, list[str]]:
    """A sync run of 100,000 steps in the background, once its first checkpoint is written."""
    args = [str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(run), "--no-progress", *SMALL,
            "--set", "loop.total_steps=100000"]
    process = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "train", *args, "--json"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = run / "checkpoints/latest.pt"
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), "no checkpoint was written"
    time.sleep(1.0)
    return process, args[:-2]


def test_kill_9_then_resume_takes_no_step_twice_and_counts_what_was_lost(tmp_path: Path, replay_column) -> None:
    """Everything up to the checkpoint is on disk (the replay flushes before each checkpoint),
    and so are the transitions flushed after it: the resumed run keeps them and goes on from
    the newest one (no robot step is taken again). What the run did after the last flush is
    lost, and counted (at least as far as its metrics log shows it got)."""
    run = tmp_path / "run"
    process, args = start_long_run(run)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    state = torch.load(run / "checkpoints/latest.pt", weights_only=False)
    flushed = replay_column(run, "reward").shape[0]
    reached = max(json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()
                  if line.endswith("}"))
    assert flushed >= state["step"]
    result = train(*args, "--set", f"loop.total_steps={flushed + 50}", "--resume", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["steps"] == flushed + 50 and summary["kept_after_checkpoint"] == flushed - state["step"]
    assert summary["restored_transitions"] >= flushed
    assert summary["lost_transitions"] == max(0, reached - flushed) <= 50 + 200  # flush interval + an episode
    assert replay_column(run, "reward").shape[0] == flushed + 50  # one transition per step, none twice


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_writes_a_checkpoint_and_the_run_resumes(tmp_path: Path, signum: int) -> None:
    """SIGTERM (a service manager, kill) and SIGHUP (a closed terminal) stop training as Ctrl-C
    does: after the step, with a checkpoint of that step, exit status 128 + the signal."""
    run = tmp_path / "run"
    process, args = start_long_run(run)
    first = torch.load(run / "checkpoints/latest.pt", weights_only=False)["step"]
    os.kill(process.pid, signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signum, err
    summary = json.loads(out)
    assert summary["interrupted"] and summary["stopped_by"] == signal.Signals(signum).name
    state = torch.load(run / "checkpoints/latest.pt", weights_only=False)
    assert state["step"] == summary["steps"] > first and "Traceback" not in err
    result = train(*args, "--set", f"loop.total_steps={state['step'] + 20}", "--resume", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["steps"] == state["step"] + 20


@pytest.mark.parametrize("env_id", ["InvertedPendulum-v5", "HalfCheetah-v5"])
def test_gymnasium_mujoco_envs_train(tmp_path: Path, env_id: str) -> None:
    """Any registered Gymnasium id trains, Gymnasium's own MuJoCo envs among them (the install
    must bring what they import)."""
    result = train(str(ROOT / "configs/train/pendulum_sac.yaml"), "--run-dir", str(tmp_path / "run"), "--json",
                   *SMALL, "--set", f"env.id={env_id}", "--set", "loop.total_steps=150",
                   "--set", "loop.eval_every_steps=150", "--set", "loop.checkpoint_every_steps=150")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["env"] == env_id and summary["steps"] == 150 and summary["updates"] == 51, summary
