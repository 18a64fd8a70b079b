"""ONNX export of the deterministic policy: one graph from raw observation to bounded action.

The graph is traced by torch's TorchScript-based exporter (``dynamo=False``), which works in
torch 2.13 without the ``onnxscript`` package; it warns that it is deprecated, and those two
warnings are silenced here. torch and onnx are imported inside the functions.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.errors import ExportError
from deploy.metadata import PolicyMetadata, resolve_metadata
from deploy.runtime.policy import INPUT_NAME, OUTPUT_NAME

if TYPE_CHECKING:
    import onnx
    from torch import nn

DEFAULT_OPSET = 17
PRODUCER = "robot_rl"


def export_onnx(actor: nn.Module, normalizer: nn.Module | None, metadata: Mapping[str, Any],
                out_path: str | Path, opset: int = DEFAULT_OPSET) -> PolicyMetadata:
    """Write the deterministic policy ``actor.deterministic(normalizer(obs))`` as one ONNX graph.

    Input ``obs`` float32 ``[batch, obs_dim]`` (raw observations), output ``action`` float32
    ``[batch, act_dim]`` within the actor's bounds; the batch dimension is dynamic.
    metadata: keys of ``deploy.metadata.GIVEN_KEYS`` (task, robot, rate, hashes, names).
    The model passes ``onnx.checker.check_model(full_check=True)``, is written atomically, and
    carries the resolved metadata (returned) in its ``metadata_props``.
    Raises ExportError if the actor cannot be traced or the graph fails the checker, and
    MetadataError if the metadata does not fit the actor.
    """
    import torch

    from deploy.export.torch_policy import DeterministicPolicy

    policy = DeterministicPolicy(actor, normalizer)
    low, high = policy.action_bounds()
    resolved = resolve_metadata(metadata, policy.obs_dim, low, high, normalizer is not None)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", message=".*The feature will be removed.*")
            torch.onnx.export(
                policy, (torch.zeros(1, policy.obs_dim),), buffer, input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME], dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
                opset_version=opset, do_constant_folding=True, dynamo=False)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ExportError(f"torch could not export {type(actor).__name__} to ONNX: {exc}") from exc
    model = load_model_bytes(buffer.getvalue())
    declare_signature(model, policy.obs_dim, policy.act_dim)
    write_model(model, resolved, out_path)
    return resolved


def load_model_bytes(data: bytes) -> onnx.ModelProto:
    import onnx

    return onnx.load_from_string(data)


def declare_signature(model: onnx.ModelProto, obs_dim: int, act_dim: int) -> None:
    """Declare ``obs [batch, obs_dim]`` and ``action [batch, act_dim]`` on the graph.

    The tracer leaves the SAC action width symbolic (it comes from ``chunk``); a reader of the
    file should see the number.
    """
    for value, size in ((model.graph.input[0], obs_dim), (model.graph.output[0], act_dim)):
        batch, width = value.type.tensor_type.shape.dim
        batch.dim_param = "batch"
        width.dim_value = size


def write_model(model: onnx.ModelProto, metadata: PolicyMetadata, out_path: str | Path) -> None:
    """Stamp ``metadata`` into ``model`` (replacing any), check it, and write it atomically.

    Raises ExportError if the checker rejects the model.
    """
    import onnx

    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata.to_properties())
    model.producer_name = PRODUCER
    model.producer_version = metadata.library_version
    model.doc_string = (f"Deterministic {metadata.algorithm or 'robot_rl'} policy for task "
                        f"{metadata.task_id or '?'} on robot {metadata.robot_id or '?'}; "
                        f"raw observations in, bounded actions out.")
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ExportError(f"the exported graph fails the ONNX checker: {exc}") from exc
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, out_path)
