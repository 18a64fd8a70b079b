"""Hardware in the loop: an exported policy run by the on-device runner (a real process,
onnxruntime, the real drivers) on virtual hardware, the SO-101's emulated servo bus moved by
the twin in real time, behaves like the same policy evaluated on the twin directly.

Stated tolerance: mean returns within 10 % (and 1.0) of each other over the same episodes;
the per-step reward is minus the gripper's distance to the target (m), so this bounds the
average difference in distance over an episode to a few millimetres... centimetres at most.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.export.onnx_export import export_onnx
from robot_rl.algos.networks import SquashedGaussianActor

ROOT = Path(__file__).resolve().parents[2]
ENV_ID = "robot_rl/SO101ReachFixed-v0"


@pytest.fixture(scope="module")
def policy_file(tmp_path_factory) -> Path:
    """A deterministic SO-101 policy: a fixed-seed actor whose mean drives the arm somewhere
    definite (its last layer is scaled so that actions are not near zero)."""
    import gymnasium as gym

    import robot_rl  # noqa: F401

    env = gym.make(ENV_ID)
    obs_dim = env.observation_space.shape[0]
    names = list(env.unwrapped.task.observation_names)
    low, high = env.action_space.low, env.action_space.high
    env.close()
    torch.manual_seed(3)
    actor = SquashedGaussianActor(obs_dim, low, high, (64, 64))
    with torch.no_grad():
        actor.net.weights[-1].mul_(4.0)
    path = tmp_path_factory.mktemp("policy") / "policy.onnx"
    export_onnx(actor, None, {"task_id": ENV_ID, "robot_id": "so101", "control_rate_hz": 20.0,
                              "observation_names": names, "action_names": ["a"] * low.shape[0], "algorithm": "sac"}, path)
    return path


def deploy(policy: Path, backend: str, *extra: str) -> dict:
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy), "--robot", "so101",
                             "--backend", backend, "--episodes", "2", "--json", *extra], capture_output=True, text=True,
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_runner_on_virtual_hardware_matches_the_twin(policy_file: Path) -> None:
    twin = deploy(policy_file, "sim")
    virtual = deploy(policy_file, "virtual")
    assert virtual["episodes"] == twin["episodes"] == 2 and virtual["steps"] == twin["steps"] == 100
    tolerance = max(1.0, 0.10 * abs(twin["mean_return"]))
    assert abs(virtual["mean_return"] - twin["mean_return"]) <= tolerance, (virtual, twin)
    assert virtual["success_rate"] == twin["success_rate"]
    assert virtual["faults"] == 0


def test_dry_run_writes_nothing(policy_file: Path) -> None:
    report = deploy(policy_file, "virtual", "--dry-run")
    assert report["dry_run"] and report["steps"] == 100
    # Nothing was written, so the arm never moved: every episode's return is the same.
    assert np.isfinite(report["mean_return"])


def test_mismatched_robot_is_refused_before_any_command(policy_file: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "deploy", str(policy_file), "--robot",
                             "dclaw", "--backend", "sim"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 2
    assert "robot: policy trained on 'so101', robot config is 'dclaw'" in result.stderr


def test_compatibility_check_names_both_values() -> None:
    import gymnasium as gym

    import robot_rl  # noqa: F401
    from deploy.metadata import ArraySpec, PolicyMetadata
    from deploy.runtime.runner import PolicyMismatchError, check_compatibility

    env = gym.make(ENV_ID)
    meta = PolicyMetadata(ArraySpec.unbounded(["o"] * 5), ArraySpec(("a",) * 4, (-1.0,) * 4, (1.0,) * 4), 50.0,
                          ENV_ID, "so101", None, None, "sac", False, "fp32", "0", "now")
    with pytest.raises(PolicyMismatchError) as info:
        check_compatibility(meta, env.unwrapped, "so101")
    text = str(info.value)
    assert "observation size: policy 5, env 31" in text and "control rate: policy 50 Hz, robot config 20 Hz" in text
    assert "action size: policy 4, env 3" in text
    env.close()
