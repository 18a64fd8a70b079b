"""One learner batch drawn from the replay buffer, as every trainer draws it."""

from __future__ import annotations

import torch

from robot_rl.algos.batch import Batch
from robot_rl.replay import ReplayBuffer


def sample_batch(replay: ReplayBuffer, batch_size: int, device: torch.device | str = "cpu") -> Batch:
    """``batch_size`` transitions sampled uniformly, as a float32 ``Batch`` on ``device``.

    The sample's arrays are made for this batch alone, so on the CPU the tensors share their
    memory instead of copying it (``Batch.from_numpy(copy=False)``)."""
    sample = replay.sample(batch_size)
    return Batch.from_numpy(sample.obs, sample.action, sample.reward, sample.next_obs, sample.done,
                            sample.discount, device=device, copy=False)
