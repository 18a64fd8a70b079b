"""The compiled-step wrapper falls back to eager mode when compilation fails."""

from __future__ import annotations

import logging

import pytest
import torch

from robot_rl.algos.compile import CompiledStep


def test_failed_compilation_falls_back_to_eager_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    def step(x: int) -> int:
        calls.append(x)
        return 2 * x

    def failing_compiled(*args: object) -> None:
        raise torch._dynamo.exc.BackendCompilerFailed(lambda: None, RuntimeError("no C++ compiler"), None)

    wrapped = CompiledStep(step, enabled=False)
    wrapped._call, wrapped.compiled = failing_compiled, True  # as if torch.compile had been asked for
    with caplog.at_level(logging.WARNING):
        assert wrapped(3) == 6
        assert wrapped(4) == 8
    assert calls == [3, 4] and not wrapped.compiled
    assert sum("uncompiled" in r.message for r in caplog.records) == 1
