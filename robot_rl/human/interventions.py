"""Interventions in the real-time loop: a person takes over from the policy with the leader arm.

The control loop asks :meth:`Interventions.action` every step. While nobody has taken over
it returns None and the policy acts. Once a person has (the leader moved away from its rest
pose: :class:`~robot_rl.human.takeover.TakeoverTrigger`, or their key toggled on: space or a
pedal, read by the parent process; for the scripted operator of a virtual leader, its own
decision), it returns the action that moves the robot toward the
leader's pose (``RobotEnv.action_toward``): the loop executes that action and stores it,
flagged :data:`~robot_rl.replay.human_share.INTERVENTION`. The leader is read in a process of
its own (:class:`~robot_side.teleop.leader_arm.LeaderArm`), so none of this waits on its bus.

A leader that stops answering never stops the run: an intervention in progress raises
:class:`InterventionLost` (the loop holds the robot and ends the episode), and the run goes on
without interventions.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from drivers.config import ConfigError
from robot_rl.human.takeover import TakeoverTrigger
from robot_rl.train.config import InterventionConfig
from robot_side.teleop.leader_arm import LeaderArm, LeaderLostError

log = logging.getLogger("robot_rl.loop")


def intervention_leader(config: InterventionConfig) -> Any:
    """The leader's robot config (``intervention.leader``, its backend serial when
    ``leader_port`` is given). Raises ``ConfigError`` for a backend that is no leader's."""
    from drivers.robot_config import load_robot_config
    from robot_side.robots import robot_config_path

    leader = load_robot_config(robot_config_path(config.leader), port=config.leader_port)
    if config.leader_port:
        leader = dataclasses.replace(leader, backend="serial")
    if leader.backend not in ("serial", "virtual"):
        raise ConfigError(f"intervention.leader {config.leader}: backend {leader.backend!r}; a leader is "
                          f"serial (a person's) or virtual (a scripted operator's)")
    return leader


def watching_operator(config: InterventionConfig, leader: Any, env: Any, seed: int) -> Any:
    """The scripted operator of a virtual ``leader`` over ``env``'s task, resting at the
    leader's home. Raises ``ConfigError`` where there is none (every task but SO-101 reach)
    or the leader lacks a joint of the robot."""
    from robot_side.teleop.watching_operator import WatchingOperator

    if getattr(env.task, "name", "") != "SO101Reach":
        raise ConfigError(f"intervention.leader {config.leader} is virtual, and a scripted operator exists for "
                          f"SO101Reach only, not {getattr(env.task, 'name', env)}")
    missing = [n for n in env.task.spec.joint_names if n not in leader.joint_names]
    if missing:
        raise ConfigError(f"intervention.leader {config.leader} has no joint {missing[0]!r}")
    return WatchingOperator(env.task, 1.0 / env.period_s, leader.home_rad, budget=config.scripted_budget, seed=seed)


class InterventionLost(Exception):
    """The leader stopped answering while a person was driving with it."""


class Interventions:
    """The leader, the takeover and (virtual leader) the scripted operator of one control loop.

    env: the loop's ``RobotEnv`` (its task, safety stack and ``action_toward``)."""

    def __init__(self, config: InterventionConfig, env: Any, seed: int = 0,
                 key: Callable[[], bool] = lambda: False) -> None:
        self.config = config
        self.env = env
        self.leader_config = leader = intervention_leader(config)
        self.virtual = None
        self.operator = None
        if leader.backend == "virtual":
            from robot_side.teleop.virtual_leader import VirtualLeader

            self.virtual = VirtualLeader(leader)
            self.operator = watching_operator(config, leader, env, seed)
        self.trigger = TakeoverTrigger(config.takeover_rad, config.release_s, config.still_rad)
        self.key = key  # the operator's key (space, a pedal): held toggled, they drive
        self.arm: LeaderArm | None = None
        self.steps = 0           # steps taken over, this session
        self.episode_steps = 0   # steps taken over in the present episode

    def open(self) -> "Interventions":
        try:
            config = self.leader_config
            if self.virtual is not None:
                config = self.virtual.open().serial_config
            self.arm = LeaderArm(config, self.env.robot.spec, timeout_s=self.config.leader_timeout_s).open()
        except BaseException:
            self.close()
            raise
        log.info("interventions: leader %s (%s)", self.leader_config.name,
                 "virtual, scripted operator" if self.virtual is not None else self.arm.config.port)
        return self

    def close(self) -> None:
        if self.arm is not None:
            self.arm.close()
            self.arm = None
        if self.virtual is not None:
            self.virtual.close()

    @property
    def available(self) -> bool:
        return self.arm is not None

    def begin_episode(self) -> None:
        """A new episode starts with the policy in charge."""
        self.episode_steps = 0
        if self.operator is not None:
            self.operator.begin(self.env.state.position_rad)
        if self.arm is not None:
            try:
                self.trigger.release(self.arm.latest().position_rad)
            except LeaderLostError as exc:
                self._lose(exc)

    def action(self) -> np.ndarray | None:
        """The person's action this step, or None (the policy acts). Raises
        :class:`InterventionLost` when the leader is lost while a person drives."""
        if self.arm is None:
            return None
        if self.operator is not None and self.virtual is not None:
            self.virtual.move_to(self.operator.next_pose(self.env.state.position_rad))
        driving = self.operator.intervening if self.operator is not None else self.trigger.active
        try:
            reading = self.arm.latest()
        except LeaderLostError as exc:
            self._lose(exc)
            if driving:
                raise InterventionLost(str(exc)) from None
            return None
        if self.operator is None:
            driving = self.trigger.update(reading.position_rad, time.monotonic())
            if self.key():
                driving = True
                self.trigger.release(reading.position_rad)  # after the key, the leader rests where it is
        if not driving:
            return None
        self.steps += 1
        self.episode_steps += 1
        return self.env.action_toward(reading.position_rad)

    def _lose(self, exc: LeaderLostError) -> None:
        log.error("interventions: %s; training goes on without them", exc)
        if self.arm is not None:
            self.arm.close()
            self.arm = None
