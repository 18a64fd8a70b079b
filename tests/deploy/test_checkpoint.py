"""Rebuilding the policy from a learner checkpoint (the present SAC/TD3 state_dict layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.errors import ExportError
from deploy.export import load_policy_from_checkpoint
from deploy.export.torch_policy import DeterministicPolicy
from deploy.metadata import config_hash, file_sha256
from robot_rl.algos import SAC, TD3, ObservationNormalizer, SACConfig, TD3Config

LOW, HIGH = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 0.5, 3.0])


def learners() -> tuple[SAC, TD3]:
    normalizer = ObservationNormalizer(5)
    normalizer.update(np.random.default_rng(0).normal(1.0, 4.0, (300, 5)))
    sac = SAC(5, LOW, HIGH, SACConfig(hidden_sizes=(32, 16)), normalizer=normalizer)
    td3 = TD3(5, LOW, HIGH, TD3Config(hidden_sizes=(24,)))
    return sac, td3


def test_raw_state_dict_and_wrapped_checkpoints(tmp_path: Path) -> None:
    sac, td3 = learners()
    torch.save(sac.state_dict(), tmp_path / "sac.pt")
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    config = {"robot": "so101", "seed": 3}
    torch.save({"learner": td3.state_dict(), "algorithm": "td3", "config": config,
                "metadata": {"task_id": "robot_rl/SO101Reach-v0", "control_rate_hz": 30, "replay_size": 10}},
               run / "checkpoints" / "latest.pt")
    obs = np.random.default_rng(1).normal(0, 5, (50, 5)).astype(np.float32)

    loaded = load_policy_from_checkpoint(tmp_path / "sac.pt")
    np.testing.assert_array_equal(DeterministicPolicy(loaded.actor, loaded.normalizer).act(obs),
                                  sac.act(obs, deterministic=True))
    assert loaded.metadata == {"checkpoint_sha256": file_sha256(tmp_path / "sac.pt"), "algorithm": "sac"}

    loaded = load_policy_from_checkpoint(run)
    assert loaded.normalizer is None and loaded.checkpoint_path == run / "checkpoints" / "latest.pt"
    np.testing.assert_array_equal(DeterministicPolicy(loaded.actor).act(obs), td3.act(obs, deterministic=True))
    assert loaded.metadata == {"task_id": "robot_rl/SO101Reach-v0", "control_rate_hz": 30, "algorithm": "td3",
                               "checkpoint_sha256": file_sha256(loaded.checkpoint_path),
                               "config_hash": config_hash(config)}


def test_unreadable_checkpoints_are_export_errors(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="checkpoints/latest.pt"):
        load_policy_from_checkpoint(tmp_path)
    (tmp_path / "garbage.pt").write_bytes(b"nope")
    with pytest.raises(ExportError, match="cannot read checkpoint"):
        load_policy_from_checkpoint(tmp_path / "garbage.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(ExportError, match="no 'actor' entry"):
        load_policy_from_checkpoint(tmp_path / "other.pt")
