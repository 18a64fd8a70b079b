"""What both trainers do with a person's transitions: the replay's ``source`` column, the
demonstrations loaded at the start, the batches' human share and its metrics."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from drivers.config import ConfigError
from robot_rl.replay import ReplayBuffer
from robot_rl.replay.demonstrations import DemonstrationError, add_demonstrations, load_demonstrations
from robot_rl.replay.human_share import SOURCE_COLUMN, HumanShare
from robot_rl.train.config import TrainConfig

log = logging.getLogger(__name__)


def uses_human_data(config: TrainConfig) -> bool:
    """Whether the run's replay carries a ``source`` column (demonstrations or interventions configured)."""
    return config.loop.demos is not None or config.intervention.leader is not None


def source_columns(config: TrainConfig) -> list[dict[str, str]]:
    """The replay's extra columns for human data: ``[source int8]`` when used, else none (a run
    without keeps the replay layout it always had, so its older run directories resume)."""
    return [dict(SOURCE_COLUMN)] if uses_human_data(config) else []


def start_human_data(config: TrainConfig, replay: ReplayBuffer, obs_dim: int, action_dim: int,
                     normalizer: Any | None, resume: bool) -> HumanShare | None:
    """The batch sampler for a run with human data (None without): on a fresh run the
    configured demonstrations join the replay first (on ``--resume`` they are in its segments
    already). Raises ``ConfigError`` naming ``loop.demos`` and the folder when they do not fit."""
    if not uses_human_data(config):
        return None
    if not resume and config.loop.demos is not None:
        try:
            demos = load_demonstrations(config.loop.demos, config.env.id, obs_dim, action_dim)
        except DemonstrationError as exc:
            raise ConfigError(f"loop.demos: {exc}") from None
        add_demonstrations(replay, demos)
        if normalizer is not None:
            normalizer.update(np.asarray(demos.obs, dtype=np.float32))
        log.info("loop.demos: %d demonstrations (%d transitions, %d successful) from %s", demos.meta["episodes"],
                 len(demos), demos.meta.get("successes", 0), config.loop.demos)
    return HumanShare(replay, config.loop.human_share)


def human_metrics(sampler: HumanShare | None) -> dict[str, float]:
    """``replay/demonstrations``, ``replay/interventions`` (stored) and ``learner/human_share``
    (of the last batch) for the metrics file; {} without human data."""
    if sampler is None:
        return {}
    counts = sampler.counts()
    return {"replay/demonstrations": counts["demonstration"], "replay/interventions": counts["intervention"],
            "learner/human_share": sampler.last_share}
