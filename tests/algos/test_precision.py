"""Native bfloat16 is read from the processor's flags: x86 AVX-512 BF16 or AMX, ARM BF16."""

from __future__ import annotations

import logging

import pytest
import torch

from robot_rl.algos import precision
from robot_rl.algos.precision import bfloat16_in_cpuinfo, hidden_matmul_dtype

EPYC = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma bmi2 sha_ni\n"
XEON = "processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8\n"
GRAVITON3 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp sve bf16 i8mm\n"
RASPBERRY_PI_5 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp\n"


@pytest.mark.parametrize(("text", "native"), [(EPYC, False), (XEON, True), (GRAVITON3, True), (RASPBERRY_PI_5, False),
                                              ("", False)])
def test_native_bfloat16_from_cpuinfo(text: str, native: bool) -> None:
    assert bfloat16_in_cpuinfo(text) is native


def test_bf16_without_native_support_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert hidden_matmul_dtype("bf16") is torch.bfloat16
    warned = "without native bfloat16" in caplog.text
    assert warned is not precision.native_bfloat16()
    assert hidden_matmul_dtype("fp32") is None
