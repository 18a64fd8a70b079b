"""The asynchronous mode end to end: two real processes on the twin, paced to the wall clock.

Each test is a ``robot-rl train --set loop.mode=async`` run of a few seconds, and checks what a
user relies on: it trains and records, a SIGTERM leaves a run that resumes, a dead learner
ends the run safely with a message, and the watchdog acts when the loop freezes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from robot_rl.realtime.loop_timing import load_timing

ROOT = Path(__file__).resolve().parents[2]



def test_async_run_trains_and_records_timing(tmp_path: Path, start_run, replay_column) -> None:
    run_dir = tmp_path / "run"
    code, summary = start_run(run_dir, loop__total_steps=200).finish()
    assert code == 0 and summary["exit_code"] == 0 and summary["reason"] == "finished", summary
    assert summary["steps"] == 200 and summary["updates"] > 100 and summary["watchdog_fired"] == 0
    # Updates are earned per step from update_after (40) on, loop.updates_per_step (1) each: no
    # burst on the first 40 transitions (tests/realtime/test_update_ratio.py: other ratios).
    assert summary["updates"] <= 200 - 40, summary
    for path in ("checkpoints/latest.pt", "metrics.jsonl", "config.yaml", "pids.json", "plots/learning_curve.png"):
        assert (run_dir / path).exists(), path
    versions = replay_column(run_dir, "weight_version")
    assert versions.shape == (200,) and np.all(np.diff(versions) >= 0) and versions[-1] >= 3  # weights flowed
    rows = load_timing(run_dir / "timing")
    assert rows.shape[0] >= 200

    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "timing", str(run_dir), "--json"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    # Every episode's first step has no period (held steps after an overrun are extra steps).
    assert report["steps"] == rows.shape[0] and report["measured_periods"] == report["steps"] - summary["episodes"]
    assert report["target_period_s"] == 0.02 and report["target_source"].startswith("config.yaml")
    # Sensible, not tight: the tests run without real-time priority on a machine that may be busy.
    stats = report["stats_s"]
    assert abs(report["mean_period_s"] - 0.02) < 1e-3, report
    assert stats["period_error"]["p50"] < 2e-3 and stats["latency"]["p50"] < 5e-3, report
    assert 0 < stats["compute"]["p50"] < 2e-3 and stats["read"]["p50"] > 0 and stats["write"]["p50"] > 0, report
    assert report["budget"]["sleep"]["share"] > 0.5, report  # a 20 ms period on the twin is mostly waiting
    assert report["overrun_rate"] < 0.5 and report["weight_versions"][1] >= 3, report
    assert Path(report["plot"]).stat().st_size > 10_000


def test_timing_of_a_run_without_timing_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("env: {id: Pendulum-v1}\n")
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "timing", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and "has no loop timing" in result.stderr and "loop.mode async" in result.stderr
    assert "Traceback" not in result.stderr


def learner_pid(run_dir: Path, parent: int) -> int:
    pids = json.loads((run_dir / "pids.json").read_text())
    assert pids["parent"] == parent
    stat = Path(f"/proc/{pids['learner']}/stat").read_text()
    assert int(stat.rsplit(")", 1)[1].split()[1]) == parent  # it is this run's child, not a reused pid
    return pids["learner"]


def test_a_killed_learner_stops_the_run_safely(tmp_path: Path, start_run) -> None:
    run_dir = tmp_path / "run"
    run = start_run(run_dir, loop__total_steps=5000)
    run.wait_for(lambda: run.steps() >= 50 and (run_dir / "pids.json").exists())
    os.kill(learner_pid(run_dir, run.process.pid), signal.SIGKILL)
    killed_at = time.monotonic()
    code, summary = run.finish(timeout_s=30)
    assert code == 1 and summary["exit_code"] == 1, run.stderr
    assert "learner process died" in summary["reason"] and "learner" in run.stderr
    assert time.monotonic() - killed_at < 15  # the loop stopped promptly (torque off on close)
    assert summary["steps"] < 5000 and "Traceback" not in run.stderr


def test_the_watchdog_acts_when_the_loop_freezes(tmp_path: Path, start_run) -> None:
    run_dir = tmp_path / "run"
    # At 50 Hz the watchdog holds after 5 periods (100 ms) and cuts torque 0.2 s later; the env's
    # step 60 freezes for 0.6 s (tests/hooks/sitecustomize.py) and the loop must then stop
    # instead of commanding a limp arm.
    run = start_run(run_dir, loop__total_steps=1000, realtime__watchdog_torque_off_s=0.2,
                    env={"ROBOT_RL_TEST_FREEZE": "60:0.6"})
    code, summary = run.finish(timeout_s=60)
    assert summary["watchdog_fired"] == 2, run.stderr  # hold, then torque off
    assert code == 1 and "watchdog" in summary["reason"], summary
    assert "holding position" in run.stderr and "torque off" in run.stderr
    assert summary["steps"] <= 61 and (run_dir / "checkpoints/latest.pt").exists()
    assert "Traceback" not in run.stderr


def running(pid: int) -> bool:
    """The process exists and is not a zombie (orphans may wait unreaped in a container)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def test_after_kill_9_of_the_parent_the_children_stop_and_the_run_resumes(tmp_path: Path, start_run,
                                                                          replay_column) -> None:
    run_dir = tmp_path / "run"
    run = start_run(run_dir, loop__total_steps=200)
    run.wait_for(lambda: run.steps() >= 75 and (run_dir / "pids.json").exists())
    pids = json.loads((run_dir / "pids.json").read_text())
    run.process.kill()  # SIGKILL: no handler runs in the parent
    run.process.wait(10)
    deadline = time.monotonic() + 30
    while any(running(pids[k]) for k in ("control_loop", "learner")) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The orphans noticed: the loop stopped (torque off), the learner checkpointed.
    assert not running(pids["control_loop"]) and not running(pids["learner"]), run.stderr
    assert "the parent process died" in run.stderr

    again = start_run(run_dir, "--resume", loop__total_steps=200)
    code, summary = again.finish()
    assert code == 0 and summary["steps"] == 200, again.stderr
    assert summary["restored_transitions"] >= 75 and summary["lost_transitions"] == 0
    assert replay_column(run_dir, "weight_version").shape == (200,)
