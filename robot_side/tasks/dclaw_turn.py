"""D'Claw turn: rotate the free-turning valve to a target angle (after ROBEL's DClawTurn).

Observation: the nine joint positions, cos and sin of the valve angle, the last action and
the wrapped angle error. Actions are absolute joint targets spanning each joint's range.
Reward: minus 5 x |angle error|, minus a cost on moving away from the claw's rest pose,
plus bonuses under 0.25 rad and under 0.1 rad. Success: error under 0.1 rad at the last step.
"""

from __future__ import annotations

from dataclasses import dataclass

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
        reward = (-5.0 * error - self.config.pose_cost * pose + self.config.bonus_near * (error < 0.25)
                  + self.config.bonus_success * (error < SUCCESS_RAD))
        return Outcome(reward, False, error < SUCCESS_RAD, {"angle_error_rad": error})
