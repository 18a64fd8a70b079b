"""Real-time training on a robot that outlives it (the ``arm`` fixture: an emulated SO-101 bus
in a process and a session of its own). However the run ends (Ctrl-C, SIGTERM, a closed
terminal's SIGHUP sent to the whole process group, servos that stop answering), every
servo's Torque Enable reads back 0 afterwards, a checkpoint is written and ``--resume`` goes on."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest


def start(start_run, run_dir: Path, port: str, *args: str, **overrides: object):
    return start_run(run_dir, *args, env__options__backend="serial", env__options__port=port, **overrides)


def resumes(start_run, replay_column, run_dir: Path, port: str, steps: int) -> None:
    """``--resume`` goes on from ``steps`` with every transition of the run restored."""
    again = start(start_run, run_dir, port, "--resume", loop__total_steps=steps + 30)
    code, summary = again.finish(timeout_s=120)
    assert code == 0 and summary["steps"] == steps + 30, again.stderr
    assert summary["restored_transitions"] == steps and summary["lost_transitions"] == 0, summary
    assert f"{steps} transitions restored" in again.stderr
    assert replay_column(run_dir, "weight_version").shape == (steps + 30,)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_the_process_group_leaves_torque_off_and_the_run_resumable(
        tmp_path: Path, start_run, replay_column, arm, signum: int) -> None:
    run_dir = tmp_path / "run"
    run = start(start_run, run_dir, arm.port, loop__total_steps=100_000)
    run.wait_for(lambda: run.steps() >= 50, 120)
    os.killpg(run.process.pid, signum)  # parent, control loop and learner, as a terminal signals them
    code, summary = run.finish(timeout_s=120)
    name = signal.Signals(signum).name
    assert code == 128 + signum and summary["stopped_by"] == name, run.stderr
    assert summary["reason"] == f"interrupted ({name}): stopped cleanly" and "Traceback" not in run.stderr
    assert arm.torque() == [0] * 6
    assert (run_dir / "checkpoints/latest.pt").exists()
    if signum == signal.SIGTERM:  # the same stop whatever the signal: one resume shows it (the suite's time)
        resumes(start_run, replay_column, run_dir, arm.port, summary["steps"])


def test_servos_that_stop_answering_end_the_run_with_torque_off_and_a_checkpoint(
        tmp_path: Path, start_run, replay_column, arm) -> None:
    run_dir = tmp_path / "run"
    run = start(start_run, run_dir, arm.port, loop__total_steps=100_000)
    run.wait_for(lambda: run.steps() >= 50, 120)
    arm.pause()
    try:
        code, summary = run.finish(timeout_s=120)
    finally:
        arm.resume()
    assert code == 1 and summary["reason"].startswith("the control loop failed"), (summary, run.stderr)
    assert "BusFaultPersistsError" in run.stderr and "Traceback" not in run.stderr
    assert arm.torque() == [0] * 6
    resumes(start_run, replay_column, run_dir, arm.port, summary["steps"])
