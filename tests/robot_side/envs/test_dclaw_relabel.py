"""D'Claw turn as a goal task: the achieved goal is the valve angle, and relabelled transitions
equal what the task itself observes and rewards for the new target, on a real twin episode.

Observations are float32: the angle from their cos and sin is good to about 1e-6 rad, hence the
tolerances (1e-5 rad, 1e-4 reward), which hold on any CPU."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the ids)
from drivers.robot import JointState
from robot_side.tasks.dclaw_turn import SUCCESS_RAD, DClawTurn
from robot_side.tasks.task import wrap_angle

ANGLE_TOL, REWARD_TOL = 1e-5, 1e-4


@dataclass
class Episode:
    """A twin episode of T steps: the observations, states and sent commands before and after
    each step (T + 1 of each), the actions and the env's rewards (T)."""

    task: DClawTurn
    obs: np.ndarray
    states: list[JointState]
    commands: list[np.ndarray]
    actions: np.ndarray
    rewards: np.ndarray

    def batches(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(obs, action, next_obs)`` of its T transitions."""
        return self.obs[:-1], self.actions, self.obs[1:]

    def valve_angles(self) -> np.ndarray:
        """The valve angle (rad, not wrapped) after each step, (T,)."""
        return np.array([s.sensor_position_rad[self.task.valve_index] for s in self.states[1:]])


def _episode(seed: int, steps: int = 30) -> Episode:
    """DClawTurnRandom-v0 on its twin under uniformly random actions (with the optional
    precision bonus on, so that relabelling covers every reward term)."""
    env = gym.make("robot_rl/DClawTurnRandom-v0", task={"precision_bonus": 2.0})
    inner, task = env.unwrapped, env.unwrapped.task
    rng = np.random.default_rng(seed)
    try:
        obs, _ = env.reset(seed=seed)
        observations, states, commands = [obs], [inner._state], [inner._last_command.copy()]
        actions, rewards = [], []
        for _ in range(steps):
            actions.append(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            obs, reward, *_ = env.step(actions[-1])
            observations.append(obs)
            states.append(inner._state)
            commands.append(inner._last_command.copy())
            rewards.append(reward)
    finally:
        env.close()
    return Episode(task, np.stack(observations), states, commands, np.stack(actions), np.array(rewards))


def _assert_observations_match(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal within ANGLE_TOL, the angle error (last term) compared modulo a turn (an error of
    about pi may come out as -pi on one side and pi on the other)."""
    difference = actual.astype(np.float64) - expected.astype(np.float64)
    difference[-1] = wrap_angle(difference[-1])
    np.testing.assert_allclose(difference, 0.0, rtol=0, atol=ANGLE_TOL)


def test_relabelled_transitions_are_the_tasks_own() -> None:
    """For each step, the relabelled (obs, next_obs, reward) for a new goal equals the task's
    observe/evaluate with its target set to that goal. Half the goals are uniform in [-pi, pi),
    half near the angle reached, so that both bonuses and neither are all exercised."""
    episode = _episode(seed=5)
    task, (obs_b, act_b, next_b) = episode.task, episode.batches()
    rng = np.random.default_rng(1)
    count = len(act_b)
    near = wrap_angle(episode.valve_angles() + rng.uniform(-0.3, 0.3, count))
    goals = np.where(np.arange(count) % 2 == 0, rng.uniform(-np.pi, np.pi, count), near)
    goals = goals[:, None].astype(np.float32)
    new_obs, new_next, new_reward = task.relabel(obs_b, act_b, next_b, goals)
    assert new_obs.shape == obs_b.shape and new_next.shape == next_b.shape and new_reward.shape == (count,)
    assert new_reward.dtype == np.float32
    last = slice(task.spec.n_joints + 2, 2 * task.spec.n_joints + 2)
    assert all(name.endswith("_last_action") for name in task.observation_names[last])
    errors = []
    for i in range(count):
        task.target = float(goals[i, 0])
        for t, relabelled in ((i, new_obs[i]), (i + 1, new_next[i])):
            task.last_action = episode.obs[t, last].astype(np.float64)  # observe's last action is the obs's own
            _assert_observations_match(relabelled, task.observe(episode.states[t], episode.commands[t]))
        outcome = task.evaluate(episode.states[i + 1], act_b[i])
        assert new_reward[i] == pytest.approx(outcome.reward, abs=REWARD_TOL)
        errors.append(outcome.info["angle_error_rad"])
    errors = np.array(errors)
    assert (errors < SUCCESS_RAD).any() and ((errors >= SUCCESS_RAD) & (errors < 0.25)).any() and (errors > 1).any()
    assert np.abs(new_reward - episode.rewards).min() > 1e-3  # every goal changed the reward


def test_relabelling_to_the_episodes_own_target_changes_nothing() -> None:
    """The episode's own target as the goal gives back the env's observations and rewards."""
    episode = _episode(seed=6)
    obs_b, act_b, next_b = episode.batches()
    goals = np.full((len(act_b), 1), episode.task.target, dtype=np.float32)
    new_obs, new_next, new_reward = episode.task.relabel(obs_b, act_b, next_b, goals)
    for actual, expected in zip((*new_obs, *new_next), (*obs_b, *next_b)):
        _assert_observations_match(actual, expected)
    np.testing.assert_allclose(new_reward, episode.rewards, rtol=0, atol=REWARD_TOL)


def test_achieved_goals_are_the_valve_angles() -> None:
    """achieved_goals of each observation is the valve angle of the state it was observed in
    (modulo a turn), over two episodes whose valves start at different angles."""
    episodes = [_episode(seed=seed, steps=15) for seed in (7, 8)]
    angles = np.concatenate([e.valve_angles() for e in episodes])
    observations = np.concatenate([e.obs[1:] for e in episodes])
    goals = episodes[0].task.achieved_goals(observations)
    assert goals.shape == (len(angles), 1) and goals.dtype == np.float32
    assert np.ptp(angles) > 0.5  # the angles vary: a constant answer would not pass
    np.testing.assert_allclose(wrap_angle(goals[:, 0].astype(np.float64) - angles), 0.0,
                               rtol=0, atol=ANGLE_TOL)


@pytest.mark.parametrize("env_id", ["robot_rl/DClawTurnRandom-v0", "robot_rl/DClawTurn-v0"])
def test_hindsight_relabeler_accepts_the_turn_task(env_id: str) -> None:
    """Random targets are where relabelling helps; the fixed target is allowed (still valid)."""
    from robot_rl.replay import ReplayConfig
    from robot_rl.train.config import train_config_from_dict
    from robot_rl.train.replay_batch import hindsight_relabeler

    config = train_config_from_dict({"name": "t", "env": {"id": env_id}, "loop": {"hindsight_fraction": 0.5}})
    relabeler = hindsight_relabeler(config, ReplayConfig())
    assert relabeler is not None and isinstance(relabeler.task, DClawTurn)
    assert relabeler.horizon == 80 and relabeler.fraction == 0.5


def test_hindsight_on_a_task_without_goals_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every registered robot task now has goals, so a goal-less one is stood in for."""
    from robot_rl.replay import ReplayConfig
    from robot_rl.train.config import train_config_from_dict
    from robot_rl.train.replay_batch import hindsight_relabeler
    from robot_side.envs import registration

    monkeypatch.setattr(registration, "make_task", lambda env_id, options=None: (object(), 80))
    config = train_config_from_dict({"name": "t", "env": {"id": "robot_rl/DClawTurn-v0"},
                                     "loop": {"hindsight_fraction": 0.5}})
    with pytest.raises(ValueError, match="loop.hindsight_fraction 0.5.*no goals to relabel"):
        hindsight_relabeler(config, ReplayConfig())
