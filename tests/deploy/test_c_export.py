"""C export: compiles warning-free as strict C99 and computes what onnxruntime computes."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from deploy.errors import ExportError
from deploy.export import CPolicy, compile_c, export_c, export_onnx
from deploy.export.c_export import STRICT_FLAGS, find_compiler, host_flags, host_has_fma, pack_weights
from deploy.export.mlp_params import extract_mlp_params
from deploy.export.parity import max_abs_error, parity_observations
from deploy.export.torch_policy import DeterministicPolicy
from deploy.runtime import OnnxPolicy

pytestmark = pytest.mark.skipif(find_compiler() is None, reason="needs a C compiler (gcc or cc)")

MAIN = r"""
#include <stdio.h>
#include "policy.h"

/* Reads POLICY_OBS_DIM floats per line from stdin, prints the actions; checks the bounds. */
int main(void)
{
    static const float low[POLICY_ACT_DIM] = POLICY_ACTION_LOW, high[POLICY_ACT_DIM] = POLICY_ACTION_HIGH;
    float obs[POLICY_OBS_DIM], act[POLICY_ACT_DIM];
    int i;
    for (;;) {
        for (i = 0; i < POLICY_OBS_DIM; ++i)
            if (scanf("%f", &obs[i]) != 1) return 0;
        policy_act(obs, act);
        for (i = 0; i < POLICY_ACT_DIM; ++i) {
            if (!(act[i] >= low[i] && act[i] <= high[i])) return 3;
            printf(i + 1 < POLICY_ACT_DIM ? "%.9g " : "%.9g\n", act[i]);
        }
    }
}
"""


def exports(case, tmp_path: Path) -> tuple[OnnxPolicy, dict[str, np.ndarray], object]:
    export_onnx(case.actor, case.normalizer, {}, tmp_path / "policy.onnx")
    result = export_c(case.actor, case.normalizer, {"task_id": "robot_rl/SO101Reach-v0"}, tmp_path)
    reference = DeterministicPolicy(case.actor, case.normalizer)
    observations = parity_observations(17, 10_000, *(reference.training_range() or (None, None)))
    return OnnxPolicy(tmp_path / "policy.onnx"), observations, result


def test_strict_c99_build_matches_onnxruntime(case, float64_policy, tmp_path: Path) -> None:
    """Built exactly with ``gcc -std=c99 -O2 -Wall -Wextra -Werror -pedantic`` (no fused
    multiply-add on a baseline x86-64). In the training range the results agree within 1e-5.
    Far outside it the activations grow, and two float32 sums rounded in a different order
    drift apart (1e-5 to 1e-3 at observations of 1e4): there the C result must be as close to
    the exact (float64) result as onnxruntime's is."""
    onnx_policy, observations, result = exports(case, tmp_path)
    c_policy = CPolicy(compile_c([result.source_path], tmp_path / "libstrict.so", STRICT_FLAGS), "policy", 17, 6)
    assert max_abs_error(onnx_policy(observations["std1"]), c_policy(observations["std1"])) <= 1e-5
    exact = float64_policy(extract_mlp_params(case.actor, case.normalizer))
    for name, obs in observations.items():
        c_error = np.abs(c_policy(obs) - exact(obs)).max()
        onnx_error = np.abs(onnx_policy(obs) - exact(obs)).max()
        assert c_error <= 2.0 * onnx_error + 1e-6, (name, c_error, onnx_error)


@pytest.mark.skipif(not host_has_fma(), reason="the host CPU has no fused multiply-add")
def test_fma_build_matches_onnxruntime_everywhere(case, tmp_path: Path) -> None:
    onnx_policy, observations, result = exports(case, tmp_path)
    c_policy = CPolicy(compile_c([result.source_path], tmp_path / "libfma.so", host_flags()), "policy", 17, 6)
    errors = {name: max_abs_error(onnx_policy(obs), c_policy(obs)) for name, obs in observations.items()}
    assert max(errors.values()) <= 1e-5, errors


def test_header_and_a_c_program_using_it(sac_norm, metadata: dict, tmp_path: Path) -> None:
    result = export_c(sac_norm.actor, sac_norm.normalizer, metadata, tmp_path)
    header = result.header_path.read_text()
    defines = dict(re.findall(r"^#define (POLICY_\w+) (.+)$", header, re.MULTILINE))
    assert defines["POLICY_OBS_DIM"] == "17" and defines["POLICY_ACT_DIM"] == "6"
    assert defines["POLICY_TASK_ID"] == '"robot_rl/SO101Reach-v0"'
    assert defines["POLICY_CHECKPOINT_SHA256"] == f'"{"cd" * 32}"' and defines["POLICY_CONTROL_RATE_HZ"] == "50.0"
    params = extract_mlp_params(sac_norm.actor, sac_norm.normalizer)
    n_params = 17 * 256 + 256 + 256 * 256 + 256 + 256 * 6 + 6 + 2 * 17 + 2 * 6  # SAC keeps the mean half only
    assert result.flash_bytes == 4 * n_params == 4 * sum(a.size for a in params.arrays())
    assert result.ram_bytes == 2 * 256 * 4
    assert defines["POLICY_WEIGHT_BYTES"] == f"{result.flash_bytes}u"
    assert defines["POLICY_SCRATCH_BYTES"] == f"{result.ram_bytes}u"
    assert "joint_16" in header and "motor_5" in header and "malloc" not in result.source_path.read_text()

    (tmp_path / "main.c").write_text(MAIN)
    program = compile_c([tmp_path / "main.c", result.source_path], tmp_path / "policy_main", STRICT_FLAGS,
                        shared=False)
    obs = np.random.default_rng(2).normal(0, 3, (200, 17)).astype(np.float32)
    text = "\n".join(" ".join(f"{v:.9g}" for v in row) for row in obs)
    done = subprocess.run([str(program)], input=text, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = np.array([[float(v) for v in line.split()] for line in done.stdout.splitlines()])
    np.testing.assert_allclose(printed, DeterministicPolicy(sac_norm.actor, sac_norm.normalizer).act(obs), atol=1e-5)


def test_name_prefixes_everything(sac_norm, tmp_path: Path) -> None:
    result = export_c(sac_norm.actor, None, {}, tmp_path, name="arm_policy")
    assert result.source_path.name == "arm_policy.c" and result.header_path.name == "arm_policy.h"
    header = result.header_path.read_text()
    assert "#define ARM_POLICY_OBS_DIM 17" in header and "void arm_policy_act(const float *obs, float *act);" in header
    library = compile_c([result.source_path], tmp_path / "libarm.so", STRICT_FLAGS)
    np.testing.assert_allclose(CPolicy(library, "arm_policy", 17, 6)(np.ones(17)),
                               DeterministicPolicy(sac_norm.actor).act(np.ones((1, 17)))[0], atol=1e-5)
    with pytest.raises(ExportError, match="not a C identifier"):
        export_c(sac_norm.actor, None, {}, tmp_path, name="arm-policy")


def test_rejects_what_is_not_a_plain_mlp_policy(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="expected SquashedGaussianActor or DeterministicActor"):
        export_c(torch.nn.Linear(17, 6), None, {}, tmp_path)


def test_packing_order() -> None:
    weight = np.arange(3 * 10, dtype=np.float32).reshape(3, 10)  # (in, out): 10 outputs = a block of 8 + 2
    packed = pack_weights(weight)
    np.testing.assert_array_equal(packed[:8], weight[0, :8])
    np.testing.assert_array_equal(packed[8:16], weight[1, :8])
    np.testing.assert_array_equal(packed[24:], weight[:, 8:].ravel())
