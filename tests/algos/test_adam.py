"""The functional Adam against torch.optim.Adam."""

from __future__ import annotations

import pytest
import torch

from robot_rl.algos.adam import Adam
from robot_rl.algos.errors import CheckpointError, LearnerConfigError


def test_matches_torch_adam_step_for_step() -> None:
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4), (4,), (2, 1, 5), ()]
    ours = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    theirs = [torch.nn.Parameter(p.clone()) for p in ours]
    adam = Adam(ours, lr=1e-2, betas=(0.8, 0.95), eps=1e-6)
    reference = torch.optim.Adam(theirs, lr=1e-2, betas=(0.8, 0.95), eps=1e-6, foreach=False)
    for _ in range(20):
        grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        reference.step()
        adam.step(grads)
    for p, q in zip(ours, theirs):
        # Bias corrections come from a float32 step count (as in torch.optim); hence 1e-6.
        torch.testing.assert_close(p, q.detach(), rtol=1e-6, atol=1e-9)


def test_state_dict_round_trip_continues_identically() -> None:
    params = [torch.zeros(3)]
    adam = Adam(params, lr=0.1)
    adam.step([torch.tensor([1.0, -2.0, 3.0])])
    state = adam.state_dict()
    clone_params = [params[0].clone()]
    clone = Adam(clone_params, lr=0.1)
    clone.load_state_dict(state)
    grad = torch.tensor([0.5, 0.5, -1.0])
    adam.step([grad])
    clone.step([grad])
    torch.testing.assert_close(params[0], clone_params[0], rtol=0, atol=0)
    assert clone.step_count.item() == 2


def test_mismatched_state_is_refused() -> None:
    adam = Adam([torch.zeros(3)], lr=0.1)
    with pytest.raises(CheckpointError):
        adam.load_state_dict(Adam([torch.zeros(4)], lr=0.1).state_dict())
    with pytest.raises(CheckpointError):
        adam.load_state_dict({"step": torch.tensor(1.0)})


def test_bad_hyper_parameters_are_refused() -> None:
    with pytest.raises(LearnerConfigError):
        Adam([torch.zeros(1)], lr=0.0)
    with pytest.raises(LearnerConfigError):
        Adam([torch.zeros(1)], lr=1e-3, betas=(1.0, 0.9))
