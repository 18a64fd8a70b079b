"""Interventions in the synchronous mode: the scripted operator's pose used directly.

The synchronous trainer steps the twin faster than real time, where a leader read in real
time would lag by many steps. With a virtual leader its scripted operator
(:class:`~robot_side.teleop.watching_operator.WatchingOperator`) has no person behind it
anyway, so here its pose goes straight to ``RobotEnv.action_toward``, skipping the emulated
bus; everything else (the decision to step in, the action stored, its flag) is what the
real-time mode does. This is how ``bench/human_in_the_loop.py`` measures what interventions
save in robot steps without spending them in real time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drivers.config import ConfigError
from robot_rl.human.interventions import intervention_leader, watching_operator
from robot_rl.train.config import InterventionConfig


class ScriptedInterventions:
    """The operator of a virtual leader, for ``env`` (a ``RobotEnv`` of SO-101 reach)."""

    def __init__(self, config: InterventionConfig, env: Any, seed: int = 0) -> None:
        leader = intervention_leader(config)
        if leader.backend != "virtual":
            raise ConfigError(f"intervention.leader {config.leader}: the synchronous mode runs faster than real time, "
                              f"so a person's leader cannot keep up; use loop.mode: async, or a virtual leader")
        self.env = env
        self.operator = watching_operator(config, leader, env, seed)
        self.steps = 0

    def begin_episode(self) -> None:
        self.operator.begin(self.env.state.position_rad)

    def action(self) -> np.ndarray | None:
        """The operator's action this step, or None (the policy acts)."""
        pose = self.operator.next_pose(self.env.state.position_rad)
        if not self.operator.intervening:
            return None
        self.steps += 1
        return self.env.action_toward(pose)
