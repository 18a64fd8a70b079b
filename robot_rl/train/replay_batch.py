"""One learner batch drawn from the replay buffer, as every trainer draws it."""

from __future__ import annotations

import numpy as np
import torch

from robot_rl.algos.batch import Batch
from robot_rl.replay import ReplayBuffer
from robot_rl.replay.config import ReplayConfig
from robot_rl.replay.hindsight import HindsightRelabeler
from robot_rl.replay.human_share import HumanShare
from robot_rl.train.config import TrainConfig


def sample_batch(replay: ReplayBuffer, batch_size: int, device: torch.device | str = "cpu",
                 relabel: HindsightRelabeler | None = None, sampler: HumanShare | None = None) -> Batch:
    """``batch_size`` transitions sampled uniformly, as a float32 ``Batch`` on ``device``.

    The sample's arrays are made for this batch alone and consistent by construction, so
    they become tensors as they are: no checks, and on the CPU no copy (float32 storage).
    Right after an update the caches are cold, and every copy and check costs there: this
    way a batch of 256 took 150 us in the update loop, through ``Batch.from_numpy`` (which
    checks and copies) 205-235 us. ``relabel``: hindsight relabelling of a share of the sample.
    ``sampler``: draws the rows instead (a share of them a person's, ``HumanShare``)."""
    sample = (sampler or replay).sample(batch_size)
    if relabel is not None:
        sample = relabel(replay, sample)
    arrays = (sample.obs, sample.action, sample.reward, sample.next_obs, sample.done, sample.discount)
    return Batch(*(torch.from_numpy(a if a.dtype == np.float32 else a.astype(np.float32)).to(device)
                   for a in arrays))


def hindsight_relabeler(config: TrainConfig, replay_config: ReplayConfig) -> HindsightRelabeler | None:
    """The relabeler ``loop.hindsight_fraction`` asks for (None at 0), with the config env's task
    made without its robot (so the learner process of the real-time mode can have one too).
    Raises ``ValueError`` naming the key when the env has no goals to relabel or the replay sums
    n steps (each step's reward would need its own relabelling)."""
    from robot_side.envs.registration import make_task
    from robot_side.errors import EnvOptionError

    fraction = config.loop.hindsight_fraction
    if not fraction:
        return None
    key = f"loop.hindsight_fraction {fraction}"
    options = dict(config.env.options)
    horizon = options.pop("max_episode_steps", None)
    try:
        task, episode_steps = make_task(config.env.id, options)
    except EnvOptionError as error:
        raise ValueError(f"{key}: {error}") from None
    if not (hasattr(task, "relabel") and hasattr(task, "achieved_goals")):
        raise ValueError(f"{key}: the task of {config.env.id} has no goals to relabel "
                         "(goal tasks: SO-101 reach, D'Claw turn)")
    if replay_config.n_step != 1:
        raise ValueError(f"{key} needs replay.n_step 1, got {replay_config.n_step}")
    return HindsightRelabeler(task, fraction, int(horizon or episode_steps), seed=config.loop.seed + 1)
