"""SO-101 reach: bring the point between the gripper jaws to a target in the workspace.

Targets are drawn by sampling a random arm pose inside a margin of the joint limits and
taking its gripper position (so every target is reachable) above a floor height. Actions
are joint position *changes* (each in [-1, 1] times ``max_delta_rad``), which keeps the arm
gentle while exploring. Reward is dense: minus the distance in metres, plus a bonus inside
the 2 cm success radius, minus a small action cost. Success: within 2 cm at the last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import gymnasium as gym
import numpy as np

from drivers.robot import JointState, RobotSpec
from drivers.safety import clip
from robot_side.kinematics import Chain
from robot_side.tasks.task import InitialState, Outcome, Task
from sim.assets import model_path

SUCCESS_RADIUS_M = 0.02


@dataclass(frozen=True)
class ReachConfig:
    """fixed_target: the target of every episode (x, y, z in m); None draws one per episode.
    max_delta_rad: joint change per step at action 1. target_margin: fraction of each joint's
    range kept free when sampling target poses. min_height_m: lowest target. action_cost:
    weight of the squared action. success_bonus: reward added inside the success radius.
    initial_noise_rad: uniform noise on the home pose at reset. action_joints: the joints the
    policy moves (the others hold their start pose; the gripper and the wrist roll barely move
    the point between the jaws). distance_weight: reward per metre of distance.
    action_mode: ``delta``, each action a change of one joint's command (in [-1, 1] times
    ``max_delta_rad``); ``absolute``, each action a joint target across its range;
    ``cartesian``, the action (x, y, z) a move of the commanded gripper point (in [-1, 1] times
    ``max_step_m``), turned into changes of the action joints' commands by damped least
    squares on the arm's Jacobian (damping ``cartesian_damping_m``), the largest change no more
    than ``max_delta_rad``. precision_bonus: weight of a smooth bonus ``1 - tanh(d / precision_scale_m)``
    of the distance ``d``, steep in the last few centimetres where the linear term is flat."""

    fixed_target: tuple[float, float, float] | None = None
    max_delta_rad: float = 0.1
    target_margin: float = 0.25
    min_height_m: float = 0.05
    action_cost: float = 0.01
    success_bonus: float = 5.0
    initial_noise_rad: float = 0.05
    action_joints: tuple[str, ...] = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex")
    distance_weight: float = 10.0
    action_mode: Literal["delta", "absolute", "cartesian"] = "cartesian"
    max_step_m: float = 0.015
    precision_bonus: float = 0.0
    precision_scale_m: float = 0.02
    cartesian_damping_m: float = 0.01


class SO101Reach(Task):
    name = "SO101Reach"
    VELOCITY_SCALE = 0.1  # observation scale of joint velocities (rad/s -> about unit size)

    def __init__(self, spec: RobotSpec, config: ReachConfig = ReachConfig()) -> None:
        super().__init__(spec)
        self.config = config
        chain = Chain.from_mjcf(model_path("so101", scene=False), "gripper_site")
        missing = [n for n in chain.joint_names if n not in spec.joint_names]
        if missing:
            raise ValueError(f"robot {spec.name} lacks the arm joints {missing} that the reach task needs")
        self.chain = chain.with_joint_order(spec.joint_names)  # takes the robot's joint vector
        # The last joint state's (as bytes) and target's gripper terms: see _reach_terms.
        self._terms_key: tuple[bytes, list[float]] = (b"", [])
        self._terms = np.zeros(9)
        self._terms_distance = math.inf
        unknown = [j for j in config.action_joints if j not in spec.joint_names]
        if unknown or not config.action_joints:
            raise ValueError(f"action_joints {list(config.action_joints)}: unknown joints {unknown}; "
                             f"the robot has {list(spec.joint_names)}")
        self._act_index = np.array([spec.joint_names.index(j) for j in config.action_joints])
        n_act = len(self._act_index)
        self._cartesian = config.action_mode == "cartesian"
        n_actions = 3 if self._cartesian else n_act
        # A slice where the action joints are adjacent, as on the arm: it indexes a view, at
        # a fraction of the cost of the index array's copy (command and observe, every step).
        first = int(self._act_index[0])
        contiguous = np.array_equal(self._act_index, np.arange(first, first + n_act))
        self._act = slice(first, first + n_act) if contiguous else self._act_index
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n_actions,), dtype=np.float32)
        self.last_action = np.zeros(n_actions)
        # The action bounds and step per unit action as float64 arrays: numpy combines two arrays
        # about a third faster than an array and a Python float (command() runs every step), and
        # clipping against them gives float64 whatever the action's dtype, without a conversion.
        self._action_low, self._action_high = np.full(n_actions, -1.0), np.full(n_actions, 1.0)
        self._max_delta = np.full(n_act, config.max_delta_rad)
        self._velocity_scale = np.array(self.VELOCITY_SCALE)  # 0-d: multiplies faster than a float
        self.target = np.array(config.fixed_target or (0.25, 0.0, 0.15), dtype=np.float64)
        self.home = np.clip(np.zeros(spec.n_joints), self.low, self.high)
        n = spec.n_joints
        # Cartesian actions add the vector from the commanded gripper point to the target: where
        # the policy is asking the arm to be, next to where it is (the joints sag under gravity).
        size = 2 * n + 9 + n_actions + n_act + (3 if self._cartesian else 0)
        self._observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), dtype=np.float32)
        self.distance = np.inf

    @property
    def observation_space(self) -> gym.spaces.Box:
        return self._observation_space

    @property
    def action_names(self) -> tuple[str, ...]:
        if self._cartesian:
            return tuple(f"gripper_{a}_step" for a in "xyz")
        return tuple(f"{j}_delta" for j in self.config.action_joints)

    @property
    def observation_names(self) -> tuple[str, ...]:
        joints = self.spec.joint_names
        return (tuple(f"{j}_pos" for j in joints) + tuple(f"{j}_vel_x0.1" for j in joints)
                + tuple(f"gripper_{a}" for a in "xyz") + tuple(f"target_{a}" for a in "xyz")
                + tuple(f"to_target_{a}" for a in "xyz") + tuple(f"{a}_last" for a in self.action_names)
                + tuple(f"{j}_command" for j in self.config.action_joints)
                + (tuple(f"command_to_target_{a}" for a in "xyz") if self._cartesian else ()))

    def gripper_position(self, joint_position_rad: np.ndarray) -> np.ndarray:
        """Gripper site position (m), (3,)."""
        return self._reach_terms(joint_position_rad)[0][:3].copy()

    def _reach_terms(self, joint_position_rad: np.ndarray) -> tuple[np.ndarray, float]:
        """The observation's gripper position, target and gripper-to-target vector (9,) and
        the distance (m), computed once per joint state and target (``evaluate`` and
        ``observe`` both need them), on plain floats: a numpy call costs more than the
        arithmetic of a few floats."""
        key = (np.asarray(joint_position_rad, dtype=np.float64).tobytes(), self.target.tolist())
        if key != self._terms_key:
            gripper = self.chain.site_xyz(joint_position_rad)
            (x, y, z), (tx, ty, tz) = gripper, key[1]
            self._terms = np.array((x, y, z, tx, ty, tz, tx - x, ty - y, tz - z))
            self._terms_distance = math.dist(gripper, key[1])
            self._terms_key = key
        return self._terms, self._terms_distance

    def sample_target(self, rng: np.random.Generator) -> np.ndarray:
        margin = self.config.target_margin * (self.high - self.low) / 2
        for _ in range(1000):
            pose = rng.uniform(self.low + margin, self.high - margin)
            target = self.gripper_position(pose)
            if target[2] >= self.config.min_height_m and np.linalg.norm(target[:2]) >= 0.08:
                return target
        raise RuntimeError("no reachable target found above min_height_m; check the joint limits")

    def reset(self, rng: np.random.Generator) -> InitialState:
        if self.config.fixed_target is None:
            self.target = self.sample_target(rng)
        noise = rng.uniform(-1, 1, self.spec.n_joints) * self.config.initial_noise_rad
        self.last_action = np.zeros(self.action_space.shape[0])
        return InitialState(np.clip(self.home + noise, self.low, self.high), np.zeros(len(self.spec.sensor_names)))

    def command(self, action: np.ndarray, state: JointState, last_command: np.ndarray) -> np.ndarray:
        action = clip(action, self._action_low, self._action_high)
        self.last_action = action
        command = last_command.copy()
        if self.config.action_mode == "absolute":
            low, high = self.low[self._act_index], self.high[self._act_index]
            command[self._act] = low + (action + 1.0) * 0.5 * (high - low)
        elif self._cartesian:
            command[self._act] += self._joint_steps(last_command, action * self.config.max_step_m)
        else:
            command[self._act] += action * self._max_delta
        return clip(command, self.low, self.high)

    def action_toward(self, goal_rad: np.ndarray, last_command: np.ndarray) -> np.ndarray:
        """The action moving the command toward the joint pose ``goal_rad``: the action joints'
        change (delta), their targets (absolute), or the move of the commanded gripper point to
        the goal's (cartesian), each clipped to one step's reach; the other joints hold."""
        goal = np.asarray(goal_rad, dtype=np.float64)
        if self.config.action_mode == "absolute":
            low, high = self.low[self._act_index], self.high[self._act_index]
            return np.clip(2.0 * (goal[self._act_index] - low) / (high - low) - 1.0, -1.0, 1.0)
        if self._cartesian:
            move = np.array(self.chain.site_xyz(goal)) - np.array(self.chain.site_xyz(last_command))
            return np.clip(move / self.config.max_step_m, -1.0, 1.0)
        return np.clip((goal - last_command)[self._act_index] / self.config.max_delta_rad, -1.0, 1.0)

    def _joint_steps(self, command: np.ndarray, step_m: np.ndarray) -> np.ndarray:
        """Changes of the action joints' commands that move the commanded gripper point by
        ``step_m`` (3,): damped least squares, ``J^T (J J^T + d^2 I)^-1 step``, which stays
        bounded near a singular (stretched) arm, scaled down as a whole (the direction kept)
        when a change would exceed ``max_delta_rad``."""
        jacobian = self.chain.site_jacobian(command, self._act_index)
        damping = self.config.cartesian_damping_m ** 2 * np.eye(3)
        steps = jacobian.T @ np.linalg.solve(jacobian @ jacobian.T + damping, step_m)
        largest = float(np.abs(steps).max())
        if largest > self.config.max_delta_rad:
            steps *= self.config.max_delta_rad / largest
        return steps

    def observe(self, state: JointState, sent_command: np.ndarray) -> np.ndarray:
        terms, self.distance = self._reach_terms(state.position_rad)
        # The command, not only the measured position: with incremental actions and joints
        # that sag under gravity, the policy must see where it is asking the joints to be.
        parts = [state.position_rad, state.velocity_rad_s * self._velocity_scale, terms, self.last_action,
                 sent_command[self._act]]
        if self._cartesian:
            parts.append(self.target - np.array(self.chain.site_xyz(sent_command)))
        return np.concatenate(parts, dtype=np.float32)

    def achieved_goals(self, obs: np.ndarray) -> np.ndarray:
        """The gripper positions ``(B, 3)`` of observations ``(B, obs_dim)``: the goals they reached."""
        start = 2 * self.spec.n_joints
        return obs[:, start:start + 3]

    def relabel(self, obs: np.ndarray, action: np.ndarray, next_obs: np.ndarray, goals: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same transitions ``(B, ...)`` aimed at ``goals`` ``(B, 3)`` instead of their
        targets: the observations' target terms rewritten and the reward of ``evaluate``
        recomputed from the next observation's gripper position (hindsight relabelling)."""
        start = 2 * self.spec.n_joints
        target, to_target = slice(start + 3, start + 6), slice(start + 6, start + 9)
        relabelled = []
        for o in (obs, next_obs):
            o = o.copy()
            shift = goals - o[:, target]
            if self._cartesian:  # the commanded point stays where it was: its vector moves with the goal
                o[:, -3:] += shift
            o[:, target] = goals
            o[:, to_target] += shift
            relabelled.append(o)
        config = self.config
        distance = np.linalg.norm(relabelled[1][:, to_target].astype(np.float64), axis=1)
        action = action.astype(np.float64)
        reward = (-config.distance_weight * distance + config.success_bonus * (distance < SUCCESS_RADIUS_M)
                  - config.action_cost * (action * action).sum(axis=1))
        if config.precision_bonus:
            reward += config.precision_bonus * (1.0 - np.tanh(distance / config.precision_scale_m))
        return relabelled[0], relabelled[1], reward.astype(obs.dtype)

    def evaluate(self, state: JointState, action: np.ndarray) -> Outcome:
        distance = self._reach_terms(state.position_rad)[1]
        success = distance < SUCCESS_RADIUS_M
        action = np.asarray(action, dtype=np.float64)
        config = self.config
        reward = (-config.distance_weight * distance + config.success_bonus * success
                  - config.action_cost * float(action.dot(action)))
        if config.precision_bonus:
            reward += config.precision_bonus * (1.0 - math.tanh(distance / config.precision_scale_m))
        return Outcome(reward, False, success, {"distance_m": distance})

    def goal_markers(self) -> dict[str, np.ndarray]:
        return {"target": self.target}
