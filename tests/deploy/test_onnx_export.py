"""ONNX export: parity with torch, one checker-clean graph, dynamic batch, metadata round trip."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

import numpy as np
import onnx
import pytest

import robot_rl
from deploy.errors import MetadataError, PolicyInputError, PolicyLoadError
from deploy.export import export_onnx, read_metadata
from deploy.export.torch_policy import DeterministicPolicy
from deploy.export.verify import onnx_parity
from deploy.runtime import OnnxPolicy


def test_parity_with_torch_on_10k_stress_observations(case, tmp_path: Path) -> None:
    path = tmp_path / "policy.onnx"
    export_onnx(case.actor, case.normalizer, {}, path)
    report = onnx_parity(case.actor, case.normalizer, path, n=10_000)
    assert report.samples == 10_000 and set(report.errors) == {"std1", "std100", "extreme"}
    assert report.passed(), report.summary()


def test_one_checker_clean_graph_with_everything_inside(case, tmp_path: Path) -> None:
    path = tmp_path / "policy.onnx"
    export_onnx(case.actor, case.normalizer, {}, path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "obs" and out.name == "action"
    for value, size in ((inp, 17), (out, 6)):
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch" and dims[1].dim_value == size
    ops = {node.op_type for node in model.graph.node}
    assert {"Gemm", "Relu", "Tanh"} <= ops
    assert ("Clip" in ops) == (case.normalizer is not None)


def test_dynamic_batch_and_single_observation(sac_norm, tmp_path: Path) -> None:
    path = tmp_path / "policy.onnx"
    export_onnx(sac_norm.actor, sac_norm.normalizer, {}, path)
    policy = OnnxPolicy(path)
    reference = DeterministicPolicy(sac_norm.actor, sac_norm.normalizer)
    obs = np.random.default_rng(1).normal(0, 3, (64, 17)).astype(np.float32)
    for batch in (obs[:1], obs):
        actions = policy(batch)
        assert actions.shape == (len(batch), 6) and actions.dtype == np.float32
        np.testing.assert_allclose(actions, reference.act(batch), atol=1e-5)
    single = policy(obs[3].astype(np.float64))
    assert single.shape == (6,) and single.dtype == np.float32
    np.testing.assert_allclose(single, reference.act(obs[3:4])[0], atol=1e-5)
    out = np.empty(6, dtype=np.float32)
    assert policy(obs[5], out=out) is out
    np.testing.assert_allclose(out, reference.act(obs[5:6])[0], atol=1e-5)
    first = policy(obs[0])
    policy(obs[1])
    np.testing.assert_array_equal(first, policy(obs[0]))  # results are copies, not the shared buffer
    with pytest.raises(PolicyInputError):
        policy(np.zeros(16))
    with pytest.raises(PolicyInputError):
        policy(np.zeros((2, 3, 17)))


def test_metadata_round_trip(sac_norm, metadata: dict, tmp_path: Path) -> None:
    path = tmp_path / "policy.onnx"
    written = export_onnx(sac_norm.actor, sac_norm.normalizer, metadata, path)
    read = read_metadata(path)
    assert read == written == OnnxPolicy(path).metadata
    assert read.observation.names == tuple(metadata["observation_names"])
    assert read.observation.low[0] == -math.inf and read.observation.high[16] == 1.0
    assert read.action.names == tuple(metadata["action_names"])
    np.testing.assert_allclose(read.action.low, [-1, -1, -2, -0.5, 0, -3])
    np.testing.assert_allclose(read.action.high, [1, 2, 2, 0.5, 1.5, 3])
    assert (read.control_rate_hz, read.task_id, read.robot_id) == (50.0, "robot_rl/SO101Reach-v0", "so101")
    assert (read.config_hash, read.checkpoint_sha256, read.algorithm) == ("ab" * 32, "cd" * 32, "sac")
    assert read.normalizes_observations and read.precision == "fp32"
    assert read.library_version == robot_rl.__version__
    assert datetime.fromisoformat(read.export_time).tzinfo is not None


def test_unknown_fields_default(case, tmp_path: Path) -> None:
    path = tmp_path / "policy.onnx"
    export_onnx(case.actor, case.normalizer, {}, path)
    read = read_metadata(path)
    assert read.observation.names[0] == "obs[0]" and read.action.names[5] == "act[5]"
    assert read.task_id is None and read.control_rate_hz is None
    assert read.normalizes_observations == (case.normalizer is not None)


@pytest.mark.parametrize(("bad", "message"), [
    ({"task": "x"}, "unknown metadata key"),
    ({"observation_names": ["a", "b"]}, "observation_names has 2 names"),
    ({"action_high": [5.0] * 6}, "disagrees with the actor"),
    ({"control_rate_hz": -1.0}, "control_rate_hz must be positive"),
])
def test_metadata_mistakes_are_errors(sac_norm, tmp_path: Path, bad: dict, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        export_onnx(sac_norm.actor, sac_norm.normalizer, bad, tmp_path / "policy.onnx")
    assert not (tmp_path / "policy.onnx").exists()


def test_runtime_refuses_what_is_not_a_policy(tmp_path: Path) -> None:
    with pytest.raises(PolicyLoadError, match="no policy file"):
        OnnxPolicy(tmp_path / "missing.onnx")
    (tmp_path / "garbage.onnx").write_bytes(b"not a model")
    with pytest.raises(PolicyLoadError, match="onnxruntime cannot load"):
        OnnxPolicy(tmp_path / "garbage.onnx")
    node = onnx.helper.make_node("Identity", ["obs"], ["action"])
    value = onnx.helper.make_tensor_value_info
    graph = onnx.helper.make_graph([node], "g", [value("obs", onnx.TensorProto.FLOAT, ["batch", 3])],
                                   [value("action", onnx.TensorProto.FLOAT, ["batch", 3])])
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8),
              str(tmp_path / "foreign.onnx"))
    with pytest.raises(PolicyLoadError, match="not a robot_rl policy"):
        OnnxPolicy(tmp_path / "foreign.onnx")
