"""Reduced-precision ONNX variants: smaller, close to the float32 policy, metadata kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from deploy.errors import ExportError
from deploy.export import convert_precision, export_onnx, read_metadata
from deploy.export.verify import onnx_parity
from deploy.runtime import OnnxPolicy


# In-range error bounds as fractions of the largest action half-range (3 here): 0.1% and 5%.
@pytest.mark.parametrize(("precision", "size_ratio", "in_range_error"), [("fp16", 0.55, 3e-3), ("int8", 0.35, 0.15)])
def test_reduced_precision(sac_norm, metadata: dict, tmp_path: Path, precision: str, size_ratio: float,
                           in_range_error: float) -> None:
    fp32 = tmp_path / "fp32.onnx"
    export_onnx(sac_norm.actor, sac_norm.normalizer, metadata, fp32)
    out = tmp_path / f"{precision}.onnx"
    converted = convert_precision(fp32, out, precision)
    assert converted.precision == precision and read_metadata(out) == converted
    assert converted.task_id == metadata["task_id"]
    assert out.stat().st_size < size_ratio * fp32.stat().st_size
    onnx.checker.check_model(onnx.load(str(out)), full_check=True)
    report = onnx_parity(sac_norm.actor, sac_norm.normalizer, out, n=2_000)
    assert report.errors["std1"] < in_range_error, report.summary()
    assert OnnxPolicy(out)(np.zeros((64, 17))).shape == (64, 6)


def test_fp16_keeps_the_normaliser_in_fp32(sac_norm, tmp_path: Path) -> None:
    export_onnx(sac_norm.actor, sac_norm.normalizer, {}, tmp_path / "fp32.onnx")
    convert_precision(tmp_path / "fp32.onnx", tmp_path / "fp16.onnx", "fp16")
    initializers = {init.name: init.data_type for init in onnx.load(str(tmp_path / "fp16.onnx")).graph.initializer}
    assert initializers["normalizer.shift"] == onnx.TensorProto.FLOAT
    assert initializers["actor.net.weights.1"] == onnx.TensorProto.FLOAT16


def test_unknown_precision(sac_norm, tmp_path: Path) -> None:
    export_onnx(sac_norm.actor, None, {}, tmp_path / "fp32.onnx")
    with pytest.raises(ExportError, match="precision must be one of"):
        convert_precision(tmp_path / "fp32.onnx", tmp_path / "x.onnx", "bf16")
