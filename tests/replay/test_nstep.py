"""n-step returns at sample time, against hand-computed values and a plain-loop reference."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.replay import ReplayBuffer, ReplayConfig, nstep_window

GAMMA = 0.5


def buffer_with(rewards: list[float], ends: dict[int, str], capacity: int, n: int) -> ReplayBuffer:
    """Transitions t = 0, 1, ...: obs = [t], next_obs = [t + 1]; ``ends`` maps t to "term"/"trunc"."""
    cfg = ReplayConfig(capacity=capacity, n_step=n, gamma=GAMMA, flush_interval_steps=capacity,
                       segment_steps=capacity)
    buffer = ReplayBuffer(cfg, 1, 1, rng=0)
    for t, r in enumerate(rewards):
        buffer.add([t], [0.0], r, [t + 100], ends.get(t) == "term", ends.get(t) == "trunc")
    return buffer


def by_start(buffer: ReplayBuffer, draws: int = 3000) -> dict[int, tuple[float, float, float, float]]:
    """Sample a lot and collect ``t -> (reward, next_obs, done, discount)`` for every start t seen."""
    sample = buffer.sample(draws)
    table: dict[int, tuple[float, float, float, float]] = {}
    for obs, reward, next_obs, done, discount in zip(sample.obs[:, 0], sample.reward, sample.next_obs[:, 0],
                                                     sample.done, sample.discount):
        row = (float(reward), float(next_obs), float(done), float(discount))
        assert table.setdefault(int(obs), row) == row
    return table


def test_hand_computed_windows_with_termination_truncation_and_write_head() -> None:
    # rewards 1, 2, 4, ...; t=1 terminates, t=4 is truncated (a time limit), t=6 is the newest.
    buffer = buffer_with([1, 2, 4, 8, 16, 32, 64], {1: "term", 4: "trunc"}, capacity=8, n=3)
    assert by_start(buffer) == {
        0: (1 + 0.5 * 2, 101, 1.0, 0.25),           # stops at the termination: done, no bootstrap
        1: (2, 101, 1.0, 0.5),
        2: (4 + 0.5 * 8 + 0.25 * 16, 104, 0.0, 0.125),  # full window, ends on the truncated step
        3: (8 + 0.5 * 16, 104, 0.0, 0.25),          # stops at the truncation: bootstrap from its next_obs
        4: (16, 104, 0.0, 0.5),
        5: (32 + 0.5 * 64, 106, 0.0, 0.25),         # stops at the write head
        6: (64, 106, 0.0, 0.5),
    }


def test_windows_wrap_around_the_array_end_but_not_past_the_write_head() -> None:
    # capacity 5 after 7 transitions: rows hold t = 5, 6, 2, 3, 4; head at row 2 (t = 2, the oldest).
    buffer = buffer_with([1, 2, 4, 8, 16, 32, 64], {}, capacity=5, n=3)
    assert buffer.head == 2
    assert by_start(buffer) == {
        2: (4 + 0.5 * 8 + 0.25 * 16, 104, 0.0, 0.125),
        3: (8 + 0.5 * 16 + 0.25 * 32, 105, 0.0, 0.125),   # rows 3, 4, 0: across the array end
        4: (16 + 0.5 * 32 + 0.25 * 64, 106, 0.0, 0.125),
        5: (32 + 0.5 * 64, 106, 0.0, 0.25),                # rows 0, 1, then the head: stop
        6: (64, 106, 0.0, 0.5),
    }


def reference(rewards: np.ndarray, term: np.ndarray, trunc: np.ndarray, start: int, n: int) -> tuple:
    """Plain loop over the transitions in time order (index = time)."""
    total, k = 0.0, 0
    for j in range(n):
        t = start + j
        if t >= len(rewards):
            break
        total += GAMMA ** j * rewards[t]
        k = j + 1
        if term[t] or trunc[t]:
            break
    last = start + k - 1
    return total, last, bool(term[last]), GAMMA ** k


@pytest.mark.parametrize("n", [1, 2, 3, 6])
@pytest.mark.parametrize("count", [25, 37, 100])
def test_matches_a_plain_loop_on_random_episodes(n: int, count: int) -> None:
    rng = np.random.default_rng(n * 1000 + count)
    rewards = rng.normal(size=count)
    term, trunc = rng.random(count) < 0.12, rng.random(count) < 0.08
    capacity = 37
    cfg = ReplayConfig(capacity=capacity, n_step=n, gamma=GAMMA, flush_interval_steps=10, segment_steps=10)
    buffer = ReplayBuffer(cfg, 1, 1, rng=3)
    for t in range(count):
        buffer.add([t], [0.0], rewards[t], [t + 0.5], term[t], trunc[t])
    oldest = max(0, count - capacity)  # the reference sees only what the ring holds
    sample = buffer.sample(400)
    for t, reward, next_obs, done, discount in zip(sample.obs[:, 0].astype(int), sample.reward,
                                                   sample.next_obs[:, 0], sample.done, sample.discount):
        ref_reward, last, ref_done, ref_discount = reference(rewards[oldest:], term[oldest:], trunc[oldest:],
                                                             t - oldest, n)
        assert reward == pytest.approx(ref_reward, rel=1e-5, abs=1e-6)
        assert next_obs == last + oldest + 0.5
        assert done == float(ref_done)
        assert discount == pytest.approx(ref_discount)


def test_one_step_fast_path_agrees_with_the_window_function() -> None:
    rng = np.random.default_rng(5)
    reward = rng.normal(size=50).astype(np.float32)
    term, trunc = rng.random(50) < 0.2, rng.random(50) < 0.2
    starts = np.arange(50)
    window = nstep_window(starts, 17, reward, term, trunc, 1, 0.9)
    np.testing.assert_array_equal(window.last, starts)
    np.testing.assert_array_equal(window.steps, np.ones(50))
    np.testing.assert_allclose(window.reward, reward)
