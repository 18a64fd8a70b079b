"""Check an export against the torch policy it came from: parity on stress observations.

Used right after an export (``robot-rl export`` prints the result) and by the tests.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.export.c_export import CExport, CPolicy, compile_c, host_flags
from deploy.export.mlp_params import extract_mlp_params
from deploy.export.parity import ParityReport, measure_parity, parity_observations
from deploy.runtime.policy import OnnxPolicy

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    from torch import nn

    from deploy.export.torch_policy import DeterministicPolicy


def onnx_parity(actor: nn.Module, normalizer: nn.Module | None, onnx_path: str | Path, n: int = 10_000,
                seed: int = 0) -> ParityReport:
    """ONNX against torch on each regime of ``parity_observations`` (centred on the normaliser's
    range); see ``deploy.export.parity`` for what passes."""
    reference, observations = _reference(actor, normalizer, n, seed)
    return measure_parity(reference.act, OnnxPolicy(onnx_path), observations, extract_mlp_params(actor, normalizer))


def c_parity(actor: nn.Module, normalizer: nn.Module | None, export: CExport, n: int = 10_000, seed: int = 0,
             flags: Sequence[str] | None = None) -> ParityReport:
    """C against torch on each regime, the C export compiled by the host compiler with ``flags``
    (default ``host_flags()``: the strict flags, with fused multiply-adds where the CPU has them).

    Raises CompilerError if there is no host compiler or it rejects the code.
    """
    reference, observations = _reference(actor, normalizer, n, seed)
    with tempfile.TemporaryDirectory() as tmp:
        library = compile_c([export.source_path], Path(tmp) / f"lib{export.name}.so",
                            host_flags() if flags is None else flags)
        policy = CPolicy(library, export.name, reference.obs_dim, reference.act_dim)
        return measure_parity(reference.act, policy, observations, extract_mlp_params(actor, normalizer))


def _reference(actor: nn.Module, normalizer: nn.Module | None, n: int,
               seed: int) -> tuple[DeterministicPolicy, dict[str, np.ndarray]]:
    """The torch policy and the stress observations around its training range."""
    from deploy.export.torch_policy import DeterministicPolicy

    reference = DeterministicPolicy(actor, normalizer)
    observations = parity_observations(reference.obs_dim, n, *(reference.training_range() or (None, None)),
                                       seed=seed)
    return reference, observations
