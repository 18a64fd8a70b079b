"""``robot-rl export`` and ``robot-rl inspect`` through their registered parsers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from robot_rl.algos import SAC, ObservationNormalizer, SACConfig
from robot_rl.cli import export, inspect
from robot_rl.cli.errors import CommandError


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="robot-rl")
    subparsers = parser.add_subparsers(dest="command", required=True)
    export.register(subparsers)
    inspect.register(subparsers)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    normalizer = ObservationNormalizer(8)
    normalizer.update(np.random.default_rng(0).normal(0.5, 2.0, (500, 8)))
    sac = SAC(8, -np.ones(3), np.ones(3), SACConfig(hidden_sizes=(64, 64)), normalizer=normalizer)
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save({"learner": sac.state_dict(), "metadata": {"robot_id": "so101", "control_rate_hz": 50.0}},
               tmp_path / "run" / "checkpoints" / "latest.pt")
    return tmp_path / "run"


def test_export_onnx_then_inspect(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_dir / "exports" / "policy.onnx"
    assert run(["export", str(run_dir), "--out", str(out), "--parity-samples", "2000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity_ok"] and report["parity"]["max_abs_error"] <= 1e-5
    assert report["bytes"] == out.stat().st_size and report["latency"]["p50_us"] > 0
    assert run(["inspect", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["robot_id"] == "so101" and info["metadata"]["algorithm"] == "sac"
    assert info["graph"]["obs"]["shape"] == ["batch", 8] and info["graph"]["action"]["shape"] == ["batch", 3]
    assert run(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "control rate       50 Hz" in text and "obs[7]" in text and "[-1, 1]" in text


def test_export_c_and_int8(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["export", str(run_dir), "--out", str(run_dir / "c"), "--format", "c", "--parity-samples",
                "2000"]) == 0
    text = capsys.readouterr().out
    params = 8 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3 + 2 * 8 + 2 * 3
    assert f"wrote {run_dir / 'c' / 'policy.c'}" in text and f"flash {4 * params:,} bytes" in text
    assert "RAM 512 bytes" in text and "(ok, <= 1e-05)" in text
    assert run(["export", str(run_dir), "--out", str(run_dir / "p8.onnx"), "--precision", "int8",
                "--parity-samples", "500"]) == 0
    assert "onnx int8" in capsys.readouterr().out
    with pytest.raises(CommandError, match="ONNX exports only"):
        run(["export", str(run_dir), "--out", str(run_dir / "c"), "--format", "c", "--precision", "fp16"])
    with pytest.raises(CommandError, match="no checkpoint"):
        run(["export", str(run_dir / "missing"), "--out", str(run_dir / "x.onnx")])
