"""Reduced-precision variants of an exported ONNX policy (never the default).

- ``fp16``: the MLP, tanh and scaling run in float16; observation normalisation (everything
  before the first matrix product) stays float32, so raw observations far from the
  normaliser's mean keep their precision. Input and output stay float32. Half the file size.
- ``int8``: onnxruntime's dynamic quantisation: 8-bit weights (per output channel), each
  activation quantised to uint8 at run time. About a quarter of the file size. The weights
  are unsigned (uint8 x uint8 products): with signed weights, x86 processors without VNNI
  multiply through an instruction whose 16-bit sums saturate, and the actions were off by up
  to 1.06 in range there (0.09 with VNNI); unsigned weights give the same error on every
  processor, ARM included.

Neither is faster than float32 for a small policy on an x86 CPU (see docs/deploy.md); they
exist for storage-limited targets and for CPUs with fast float16 or int8 kernels. Both keep
the metadata, with ``precision`` set.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.errors import ExportError
from deploy.metadata import PRECISIONS, PolicyMetadata
from deploy.runtime.policy import OUTPUT_NAME

if TYPE_CHECKING:
    import onnx

_MATRIX_OPS = ("Gemm", "MatMul")


def convert_precision(src: str | Path, dst: str | Path, precision: str) -> PolicyMetadata:
    """Write ``src`` (a float32 export) to ``dst`` in ``precision``; returns the new metadata.

    Raises ExportError for an unknown precision or a graph without a matrix product.
    """
    import onnx

    if precision not in PRECISIONS:
        raise ExportError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    from deploy.export.onnx_export import write_model

    model = onnx.load(str(src))
    metadata = PolicyMetadata.from_properties({p.key: p.value for p in model.metadata_props})
    if precision == "fp16":
        model = to_float16(model)
    elif precision == "int8":
        model = quantize_int8(model)
    metadata = dataclasses.replace(metadata, precision=precision)
    write_model(model, metadata, dst)
    return metadata


def to_float16(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` computing in float16 from its first matrix product on.

    Nodes before the first Gemm/MatMul (the normaliser) keep float32; every float32 tensor
    they pass on is cast to float16, the suffix's float initializers and constants are stored
    as float16, and the output is cast back to float32 under its original name.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.shape_inference.infer_shapes(model)
    graph = model.graph
    nodes = [onnx.NodeProto() for _ in graph.node]
    for copy, node in zip(nodes, graph.node):
        copy.CopyFrom(node)
    split = next((i for i, node in enumerate(nodes) if node.op_type in _MATRIX_OPS), None)
    if split is None:
        raise ExportError("the graph has no Gemm or MatMul to start the float16 part at")
    float_values = {v.name for v in [*graph.input, *graph.value_info]
                    if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    prefix_values = {v.name for v in graph.input} | {out for node in nodes[:split] for out in node.output}
    prefix_inputs = {name for node in nodes[:split] for name in node.input}
    initializers = {init.name: init for init in graph.initializer}

    suffix = nodes[split:]
    suffix_inputs = {name for node in suffix for name in node.input}
    renames: dict[str, str] = {}
    halves = []
    for name in sorted(suffix_inputs & initializers.keys()):
        if initializers[name].data_type == TensorProto.FLOAT:
            renames[name] = f"{name}_fp16" if name in prefix_inputs else name
            halves.append(numpy_helper.from_array(
                numpy_helper.to_array(initializers[name]).astype(np.float16), renames[name]))
    casts = []
    for name in sorted(suffix_inputs & prefix_values & float_values):
        renames[name] = f"{name}_fp16"
        casts.append(helper.make_node("Cast", [name], [renames[name]], to=TensorProto.FLOAT16))
    for node in suffix:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [f"{OUTPUT_NAME}_fp16" if name == OUTPUT_NAME else name for name in node.output]
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float16)))
    kept = [init for init in graph.initializer if renames.get(init.name) != init.name]
    del graph.initializer[:]
    graph.initializer.extend(kept + halves)
    del graph.node[:]
    graph.node.extend(nodes[:split] + casts + nodes[split:]
                      + [helper.make_node("Cast", [f"{OUTPUT_NAME}_fp16"], [OUTPUT_NAME], to=TensorProto.FLOAT)])
    del graph.value_info[:]
    return model


def quantize_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` with 8-bit (unsigned) weights per output channel and dynamically quantised activations."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    advice = _DropMessage("pre-processing before quantization")  # advice for CNNs; our graph is 3 Gemms
    root.addFilter(advice)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
            onnx.save(model, str(src))
            quantize_dynamic(src, dst, weight_type=QuantType.QUInt8, per_channel=True,
                             op_types_to_quantize=list(_MATRIX_OPS))
            return onnx.load(str(dst))
    finally:
        root.removeFilter(advice)


class _DropMessage(logging.Filter):
    def __init__(self, fragment: str):
        super().__init__()
        self.fragment = fragment

    def filter(self, record: logging.LogRecord) -> bool:
        return self.fragment not in record.getMessage()
