"""Hindsight relabelling: future goals from the same episode only, and relabelled transitions
equal to what the task itself observes and rewards for that goal."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import robot_rl  # noqa: F401  (registers the ids)
from robot_rl.replay import ReplayBuffer, ReplayConfig
from robot_rl.replay.hindsight import HindsightRelabeler


def test_future_rows_stay_in_the_episode_and_cover_it() -> None:
    """Episodes of 5 rows in a ring of 12 that wrapped (rows t = 0..16 written, 5..16 kept; the
    newest episode unfinished): each future next_obs is of the same episode, at or after the row."""
    buffer = ReplayBuffer(ReplayConfig(capacity=12, flush_interval_steps=12, segment_steps=12), 1, 1, rng=0)
    for t in range(17):
        buffer.add([t], [0.0], 0.0, [t + 1000], False, t % 5 == 4)
    rows = np.repeat(np.arange(12), 400)
    futures = buffer.future_next_obs(rows, horizon=5)[:, 0] - 1000
    seen: dict[int, set[int]] = {}
    for row, future in zip(rows, futures):
        t = int(buffer._obs[row, 0])
        seen.setdefault(t, set()).add(int(future))
    for t, values in seen.items():
        episode_end = min(t // 5 * 5 + 4, 16)  # 16: the newest row, its episode not ended yet
        assert values == set(range(t, episode_end + 1)), t


@pytest.mark.parametrize("mode", ["delta", "cartesian"])
def test_relabelled_transitions_are_the_tasks_own(mode: str) -> None:
    """For each step of a real episode on the twin, the relabelled (obs, next_obs, reward) for a
    new goal equals the task's observe/evaluate with its target set to that goal."""
    env = gym.make("robot_rl/SO101Reach-v0", task={"action_mode": mode, "precision_bonus": 2.0})
    inner, task = env.unwrapped, env.unwrapped.task
    rng = np.random.default_rng(0)
    try:
        obs, _ = env.reset(seed=3)
        records, rewards = [], []
        for _ in range(20):
            state, command = inner._state, inner._last_command.copy()
            action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
            next_obs, reward, *_ = env.step(action)
            rewards.append(reward)
            records.append((obs, action, next_obs, state, inner._state, command, inner._last_command.copy()))
            obs = next_obs
        obs_b, act_b, next_b = (np.stack([r[i] for r in records]) for i in range(3))
        goals = task.achieved_goals(next_b)[rng.permutation(len(records))] + rng.normal(0, 0.01, (len(records), 3))
        new_obs, new_next, new_reward = task.relabel(obs_b, act_b, next_b, goals.astype(np.float32))
        for i, (_, action, _, state, next_state, command, next_command) in enumerate(records):
            task.target = goals[i].astype(np.float32).astype(np.float64)
            task.last_action = np.zeros_like(task.last_action)  # observe's last action is the obs's own
            expected_obs = task.observe(state, command)
            expected_next = task.observe(next_state, next_command)
            expected_reward = task.evaluate(next_state, action).reward
            keep = [j for j, name in enumerate(task.observation_names) if not name.endswith("_last")]
            np.testing.assert_allclose(new_obs[i, keep], expected_obs[keep], rtol=0, atol=2e-6)
            np.testing.assert_allclose(new_next[i, keep], expected_next[keep], rtol=0, atol=2e-6)
            assert new_reward[i] == pytest.approx(expected_reward, abs=1e-4)
        assert np.abs(new_reward - np.array(rewards)).min() > 1e-3  # every goal changed the reward
    finally:
        env.close()


def test_the_relabeler_rewrites_its_share_of_a_batch() -> None:
    env = gym.make("robot_rl/SO101Reach-v0")
    task = env.unwrapped.task
    obs_dim, act_dim = env.observation_space.shape[0], env.action_space.shape[0]
    buffer = ReplayBuffer(ReplayConfig(capacity=500, flush_interval_steps=500, segment_steps=500), obs_dim, act_dim,
                          rng=0)
    obs, _ = env.reset(seed=0)
    for t in range(200):
        action = env.action_space.sample()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, next_obs, terminated, truncated)
        obs = env.reset(seed=t)[0] if terminated or truncated else next_obs
    env.close()
    sample = buffer.sample(64)
    relabelled = HindsightRelabeler(task, 0.25, horizon=50)(buffer, sample)
    changed = (relabelled.obs != sample.obs).any(axis=1)
    assert changed[:16].all() and not changed[16:].any()
    np.testing.assert_array_equal(relabelled.action, sample.action)
    with pytest.raises(ValueError, match="fraction"):
        HindsightRelabeler(task, 1.5, horizon=50)


@pytest.mark.parametrize("env, replay, message", [
    ("Pendulum-v1", {}, "not a robot env"),
    ("robot_rl/SO101Reach-v0", {"n_step": 3}, "n_step 1"),
])
def test_hindsight_where_it_cannot_apply_is_a_config_error(env: str, replay: dict, message: str) -> None:
    from robot_rl.train.config import train_config_from_dict
    from robot_rl.train.replay_batch import hindsight_relabeler

    config = train_config_from_dict({"name": "t", "env": {"id": env}, "loop": {"hindsight_fraction": 0.5},
                                     "replay": replay})
    with pytest.raises(ValueError, match=f"loop.hindsight_fraction 0.5.*{message}"):
        hindsight_relabeler(config, ReplayConfig(**replay))
    relabeler = hindsight_relabeler(train_config_from_dict(
        {"name": "t", "env": {"id": "robot_rl/SO101Reach-v0", "options": {"max_episode_steps": 30}},
         "loop": {"hindsight_fraction": 0.5}}), ReplayConfig())
    assert relabeler is not None and relabeler.horizon == 30 and relabeler.fraction == 0.5
