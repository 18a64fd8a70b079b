"""Updates in rounds (``update_many``): a compiled round lands where eager single updates do."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from robot_rl.algos.batch import Batch
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.algos.td3 import TD3, TD3Config

OBS, ACT = 4, 3
LOW, HIGH = np.array([-1.0, -2.0, 0.0]), np.array([1.0, 2.0, 0.5])
LEARNERS = {"SAC": (SAC, SACConfig), "TD3": (TD3, TD3Config)}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # raised inside torch.compile itself
@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_compiled_rounds_match_eager_updates(name: str, make_batch: Callable[..., Batch]) -> None:
    learner, config = LEARNERS[name]
    eager, compiled = (learner(OBS, LOW, HIGH, config(hidden_sizes=(32, 32), batch_size=32, compile=flag))
                       for flag in (False, True))
    batches = [make_batch(OBS, ACT, seed=i) for i in range(5)]  # two rounds and a single update
    for batch in batches:
        eager.update(batch)
    compiled.update_many(batches)
    assert compiled.num_updates == eager.num_updates == 5
    for module in ("actor", "critic", "critic_target"):
        for a, b in zip(getattr(eager, module).parameters(), getattr(compiled, module).parameters()):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
