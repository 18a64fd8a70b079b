"""``robot-rl deploy`` on a robot that outlives it (the ``arm`` fixture: an SO-101 emulated bus in
a process and a session of its own, driven through a pseudo-terminal). However the run ends
(Ctrl-C, SIGTERM, a closed terminal's SIGHUP, servos that stop answering), every servo's
Torque Enable reads back 0 afterwards, and the exit status says why."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.export.onnx_export import export_onnx
from drivers.robot_config import load_robot_config
from robot_rl.algos.networks import DeterministicActor

ROOT = Path(__file__).resolve().parents[2]
ROBOT = load_robot_config(ROOT / "robot_side/robot_configs/so101.yaml")
ENV_ID = "robot_rl/SO101Reach-v0"


@pytest.fixture(scope="module")
def policy(tmp_path_factory) -> Path:
    import gymnasium as gym

    import robot_side  # noqa: F401  (registers the ids)

    env = gym.make(ENV_ID)
    obs_dim, low, high = env.observation_space.shape[0], env.action_space.low, env.action_space.high
    env.close()
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("policy") / "policy.onnx"
    export_onnx(DeterministicActor(obs_dim, low, high, (16, 16)), None,
                {"task_id": ENV_ID, "robot_id": "so101", "control_rate_hz": ROBOT.control_rate_hz}, path)
    return path


def start_deploy(policy: Path, port: str) -> subprocess.Popen:
    """The runner in a session of its own (so that a signal to its group is a terminal's), once
    its first episode is under way."""
    process = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy), "--robot", "so101",
                                "--port", port, "--backend", "serial", "--episodes", "1000"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    line = process.stderr.readline()
    assert line.startswith("policy "), line + process.stderr.read()
    time.sleep(1.0)
    return process


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_leaves_every_servo_with_torque_off(policy: Path, arm, signum: int) -> None:
    deploy = start_deploy(policy, arm.port)
    os.killpg(deploy.pid, signum)  # the whole group, as a terminal signals it
    _, err = deploy.communicate(timeout=60)
    assert deploy.returncode == 128 + signum, err
    assert f"{signal.Signals(signum).name}: stopped, torque off" in err and "Traceback" not in err
    assert arm.torque() == [0] * 6


def test_servos_that_stop_answering_end_the_run_with_torque_off(policy: Path, arm) -> None:
    """The line goes silent (the emulator stopped, as a cable that came loose): reads fail for
    ``safety.max_missed_reads`` periods, then torque off goes out and the run ends; once the
    servos hear the line again they have it."""
    deploy = start_deploy(policy, arm.port)
    arm.pause()
    try:
        _, err = deploy.communicate(timeout=60)
    finally:
        arm.resume()
    assert deploy.returncode == 2, err
    assert "no fresh state for 3 period(s) in a row" in err and "Traceback" not in err
    assert np.array_equal(arm.torque(), [0] * 6)


def test_lost_replies_are_retried_and_held_not_the_end_of_the_run(policy: Path, make_arm) -> None:
    """One reply in ten lost on the line (with the robot config's ``retries: 2``): the bus
    retries, the safety stack retries within the period and holds when that fails too; the run
    finishes and its summary counts what happened."""
    arm = make_arm("--drop-prob", "0.1")
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy), "--robot", "so101",
                             "--port", arm.port, "--backend", "serial", "--episodes", "3", "--json"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["episodes"] == 3 and summary["steps"] == 150
    assert summary["read_retries"] + summary["stale_reads"] > 0 and summary["watchdog_fired"] == 0, summary


@pytest.mark.parametrize("episodes", ["0", "-1", "two"])
def test_a_bad_episode_count_is_a_usage_error(policy: Path, episodes: str) -> None:
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy), "--robot", "so101",
                             "--backend", "sim", "--episodes", episodes], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "argument --episodes" in result.stderr and "Traceback" not in result.stderr


def test_the_watchdog_stops_a_runner_whose_step_hangs(policy: Path, arm, test_hooks) -> None:
    """Step 30 of the runner hangs for 1.5 s (tests/hooks): the watchdog holds the arm after
    5 periods (0.25 s at 20 Hz), turns torque off 0.5 s later, and the runner then stops
    rather than command a limp arm."""
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy), "--robot", "so101",
                             "--port", arm.port, "--backend", "serial", "--episodes", "3"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300,
                            env=test_hooks(ROBOT_RL_TEST_FREEZE="30:1.5"))
    assert result.returncode == 2, result.stderr
    assert "watchdog: no command for" in result.stderr and "holding position" in result.stderr
    assert "the watchdog turned torque off" in result.stderr and "Traceback" not in result.stderr
    assert arm.torque() == [0] * 6
