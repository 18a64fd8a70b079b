"""``robot-rl export`` and ``robot-rl inspect`` through their registered parsers."""

from __future__ import annotations

import argparse
import copy
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


@pytest.fixture
def raw_run_dir(tmp_path: Path) -> Path:
    """A SAC policy trained without observation normalisation: 256-wide layers, weights at three
    times their initial scale (as training leaves them), raw observations of any size."""
    torch.manual_seed(0)
    sac = SAC(17, -np.ones(6), np.ones(6), SACConfig(hidden_sizes=(256, 256)))
    with torch.no_grad():
        for weight in sac.actor.net.weights:
            weight.mul_(3.0)
    (tmp_path / "raw" / "checkpoints").mkdir(parents=True)
    torch.save({"learner": sac.state_dict(), "metadata": {"robot_id": "so101", "control_rate_hz": 20.0}},
               tmp_path / "raw" / "checkpoints" / "latest.pt")
    return tmp_path / "raw"


def test_export_of_a_policy_without_normalisation_passes(raw_run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Out of the training range its float32 activations reach 1e5: torch and onnxruntime round
    differently there (by 1e-3 on some processors), which is not a failed export."""
    out = raw_run_dir / "policy.onnx"
    assert run(["export", str(raw_run_dir), "--out", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity_ok"] and report["parity"]["per_regime"]["std1"] <= 1e-5 and out.exists()
    assert not list(raw_run_dir.glob("policy.onnx.*"))


def test_the_pipelines_export_step_on_a_policy_without_normalisation(raw_run_dir: Path) -> None:
    from robot_rl.cli.pipeline import export_step

    model, report = export_step(raw_run_dir)
    assert model == raw_run_dir / "export" / "policy.onnx" and model.exists()
    assert report["parity_ok"] and report["bytes"] == model.stat().st_size


def test_a_failed_parity_check_leaves_no_file_under_the_final_name(
        run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import deploy.export.onnx_export as onnx_export

    export_onnx = onnx_export.export_onnx

    def off_by_1e4(actor, normalizer, metadata, out_path, opset=17):  # a graph that computes something else
        actor = copy.deepcopy(actor)
        with torch.no_grad():
            actor.net.biases[-1].add_(1e-4)
        return export_onnx(actor, normalizer, metadata, out_path, opset)

    monkeypatch.setattr(onnx_export, "export_onnx", off_by_1e4)
    out = run_dir / "policy.onnx"
    assert run(["export", str(run_dir), "--out", str(out), "--parity-samples", "2000", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert not report["parity_ok"] and report["written"] == [] and not out.exists()
    assert report["rejected"] == [str(run_dir / "policy.onnx.rejected")] and Path(report["rejected"][0]).exists()
    assert "does not match the torch policy" in captured.err and "std1" in captured.err
    assert "Not written to" in captured.err


def test_export_onnx_then_inspect(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_dir / "exports" / "policy.onnx"
    assert run(["export", str(run_dir), "--out", str(out), "--parity-samples", "2000", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["parity_ok"] and report["parity"]["passed"] and report["parity"]["per_regime"]["std1"] <= 1e-5
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
    assert "RAM 512 bytes" in text and "of the limit)" in text and "FAILED" not in text
    assert run(["export", str(run_dir), "--out", str(run_dir / "p8.onnx"), "--precision", "int8",
                "--parity-samples", "500"]) == 0
    assert "onnx int8" in capsys.readouterr().out
    with pytest.raises(CommandError, match="ONNX exports only"):
        run(["export", str(run_dir), "--out", str(run_dir / "c"), "--format", "c", "--precision", "fp16"])
    with pytest.raises(CommandError, match="no checkpoint"):
        run(["export", str(run_dir / "missing"), "--out", str(run_dir / "x.onnx")])
