"""Export of trained policies: ONNX (for onnxruntime on the robot's computer) and C99 (for
microcontrollers), with parity checks against the torch policy.

Importing this package does not import torch or onnx; the functions do, when called.
"""

from deploy.export.c_export import CExport, CPolicy, compile_c, export_c
from deploy.export.checkpoint import LoadedPolicy, checkpoint_path, load_policy_from_checkpoint
from deploy.export.onnx_export import export_onnx
from deploy.export.parity import ParityReport, measure_parity, parity_observations
from deploy.export.precision import convert_precision
from deploy.runtime.policy import read_metadata

__all__ = ["CExport", "CPolicy", "LoadedPolicy", "ParityReport", "checkpoint_path", "compile_c",
           "convert_precision", "export_c", "export_onnx", "load_policy_from_checkpoint", "measure_parity",
           "parity_observations", "read_metadata"]
