"""D'Claw turn: rotate the free-turning valve to a target angle (after ROBEL's DClawTurn).

Observation: the nine joint positions, cos and sin of the valve angle, the last action and
the wrapped angle error. Actions are absolute joint targets spanning each joint's range.
Reward: minus 5 x |angle error|, minus a cost on moving away from the claw's rest pose,
plus bonuses under 0.25 rad and under 0.1 rad. Success: error under 0.1 rad at the last step.

A goal task for hindsight relabelling (robot_rl.replay.hindsight): the goal is the valve angle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from drivers.robot import JointState, RobotSpec
from robot_side.tasks.task import InitialState, Outcome, Task, wrap_angle

SUCCESS_RAD = 0.1


@dataclass(frozen=True)
class TurnConfig:
    """fixed_target_rad: the target of every episode; None draws one uniformly in
    [-pi, pi). initial_valve_range_rad: the valve starts uniformly within +/- this.
    pose_cost: weight of the distance from the rest pose. bonus_near / bonus_success: added
    under 0.25 rad and under 0.1 rad of error."""

    fixed_target_rad: float | None = np.pi
    initial_valve_range_rad: float = 0.0
    pose_cost: float = 0.1
    bonus_near: float = 1.0
    bonus_success: float = 5.0
    precision_bonus: float = 0.0
    precision_scale_rad: float = 0.1


class DClawTurn(Task):
    name = "DClawTurn"

    def __init__(self, spec: RobotSpec, config: TurnConfig = TurnConfig()) -> None:
        super().__init__(spec)
        if "valve" not in spec.sensor_names:
            raise ValueError(f"robot {spec.name} has no 'valve' sensor; the D'Claw config must list it")
        self.config = config
        self.valve_index = spec.sensor_names.index("valve")
        self.rest = np.clip(np.zeros(spec.n_joints), self.low, self.high)
        self.target = float(config.fixed_target_rad or 0.0)
        n = spec.n_joints
        self._observation_space = gym.spaces.Box(-np.inf, np.inf, (2 * n + 3,), dtype=np.float32)

    @property
    def observation_space(self) -> gym.spaces.Box:
        return self._observation_space

    @property
    def observation_names(self) -> tuple[str, ...]:
        joints = self.spec.joint_names
        return (tuple(f"{j}_pos" for j in joints) + ("valve_cos", "valve_sin")
                + tuple(f"{j}_last_action" for j in joints) + ("angle_error",))

    def reset(self, rng: np.random.Generator) -> InitialState:
        if self.config.fixed_target_rad is None:
            self.target = float(rng.uniform(-np.pi, np.pi))
        valve = rng.uniform(-1, 1) * self.config.initial_valve_range_rad
        sensors = np.zeros(len(self.spec.sensor_names))
        sensors[self.valve_index] = valve
        self.last_action = np.zeros(self.spec.n_joints)
        return InitialState(self.rest.copy(), sensors)

    def error(self, state: JointState) -> float:
        return float(wrap_angle(self.target - state.sensor_position_rad[self.valve_index]))

    def observe(self, state: JointState, sent_command: np.ndarray) -> np.ndarray:
        angle = state.sensor_position_rad[self.valve_index]
        return np.concatenate([state.position_rad, [np.cos(angle), np.sin(angle)], self.last_action,
                               [self.error(state)]]).astype(np.float32)

    def evaluate(self, state: JointState, action: np.ndarray) -> Outcome:
        error = abs(self.error(state))
        pose = float(np.linalg.norm(state.position_rad - self.rest))
        return Outcome(self._reward(error, pose), False, error < SUCCESS_RAD, {"angle_error_rad": error})

    def _reward(self, error: Any, pose: Any) -> Any:
        """The reward for absolute angle errors ``error`` (rad) and distances ``pose`` from the
        rest pose (rad): floats for ``evaluate``, arrays ``(B,)`` for ``relabel``."""
        config = self.config
        reward = (-5.0 * error - config.pose_cost * pose + config.bonus_near * (error < 0.25)
                  + config.bonus_success * (error < SUCCESS_RAD))
        if config.precision_bonus:
            reward = reward + config.precision_bonus * (1.0 - np.tanh(error / config.precision_scale_rad))
        return reward

    def _valve_angles(self, obs: np.ndarray) -> np.ndarray:
        """The valve angles ``(B,)`` (float64, in [-pi, pi]) of observations ``(B, obs_dim)``,
        from their cos and sin terms: float32 terms give the angle to about 1e-6 rad."""
        n = self.spec.n_joints
        return np.arctan2(obs[:, n + 1].astype(np.float64), obs[:, n].astype(np.float64))

    def achieved_goals(self, obs: np.ndarray) -> np.ndarray:
        """The valve angles ``(B, 1)`` of observations ``(B, obs_dim)``, in [-pi, pi]: the goals
        they reached (a multi-turn valve's angle modulo a turn, as the error sees it)."""
        return self._valve_angles(obs)[:, None].astype(obs.dtype)

    def relabel(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, goals: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same transitions ``(B, ...)`` aimed at the valve angles ``goals`` ``(B, 1)`` instead
        of their targets: the observations' angle error rewritten to wrap(goal - valve angle) and
        the reward of ``evaluate`` recomputed from the next observation's valve angle and joint
        positions (float32). Valid on any target config, fixed included (the policy sees the goal
        only through the error term); it teaches something only where targets vary, as in
        DClawTurnRandom-v0: with one fixed target, the relabelled goals are ones never asked for."""
        goal = np.asarray(goals, dtype=np.float64)[:, 0]
        relabelled, errors = [], []
        for o in (obs, next_obs):
            errors.append(wrap_angle(goal - self._valve_angles(o)))
            o = o.copy()
            o[:, -1] = errors[-1]  # angle_error, the last term
            relabelled.append(o)
        n = self.spec.n_joints
        pose = np.linalg.norm(next_obs[:, :n].astype(np.float64) - self.rest, axis=1)
        reward = self._reward(np.abs(errors[1]), pose)
        return relabelled[0], relabelled[1], reward.astype(np.float32)
