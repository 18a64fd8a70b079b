"""A fleet (``robot-rl train --backend ray``, a local Ray instance as a user starts it) of one
robot on an emulated SO-101 bus that outlives it (the ``arm`` fixture). However the run ends
(SIGTERM or a closed terminal's SIGHUP sent to the driver's whole process group, the Ray
processes it started included; servos that stop answering), every servo's Torque Enable
reads back 0 afterwards and the learner's checkpoint is there. (Ctrl-C, the same handler, is
tests/fleet/test_fleet.py's stop, with a resume.)"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

pytest.importorskip("ray")

FLEET = {"realtime.loop_cpu": "null", "realtime.learner_cpu": "null", "loop.log_every_steps": 20}


def start(start_run, run_dir: Path, port: str):
    run = start_run(run_dir, "--backend", "ray", "--actors", "1", loop__total_steps=100_000,
                    env__options__backend="serial", env__options__port=port, **FLEET)
    run.wait_for(lambda: run.steps() >= 50, 180)
    return run


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_to_the_drivers_process_group_leaves_torque_off(tmp_path: Path, start_run, arm,
                                                                      signum: int) -> None:
    run = start(start_run, tmp_path / "run", arm.port)
    os.killpg(run.process.pid, signum)  # the driver and the Ray processes it started, as a terminal would
    code, summary = run.finish(timeout_s=180)
    assert code == 128 + signum and summary["stopped_by"] == signal.Signals(signum).name, run.stderr
    assert arm.torque() == [0] * 6
    assert (run.run_dir / "checkpoints/latest.pt").exists()


def test_servos_that_stop_answering_end_that_robot_with_torque_off(tmp_path: Path, start_run, arm) -> None:
    run = start(start_run, tmp_path / "run", arm.port)
    arm.pause()
    try:
        code, summary = run.finish(timeout_s=180)
    finally:
        arm.resume()
    assert code == 1 and summary["reason"].startswith("no robot finished: robot(s) [0] (their control loops failed)")
    assert "BusFaultPersistsError" in run.stderr, run.stderr
    assert arm.torque() == [0] * 6
    assert (run.run_dir / "checkpoints/latest.pt").exists()
