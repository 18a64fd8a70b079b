"""n-step returns over consecutive stored transitions, computed when sampling."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class NStepWindow(NamedTuple):
    """Per-sample result of :func:`nstep_window`, each of shape ``(B,)``.

    reward: ``sum_{j<k} gamma**j * r[start + j]`` (float64).
    last: ring position of the window's last transition (its ``next_obs`` is the target state).
    steps: ``k``, the number of transitions summed, ``1 <= k <= n``.
    """

    reward: np.ndarray
    last: np.ndarray
    steps: np.ndarray


def episode_window(starts: np.ndarray, newest: int, terminated: np.ndarray, truncated: np.ndarray, n: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The ring positions ``(B, n)`` of rows ``s, s+1, ...`` (mod capacity) from each start
    ``s``, and how many of them ``(B,)`` belong to the start's episode: up to and including
    the first row that ended it (terminated or truncated), at most ``n``, never past
    ``newest`` (the last row written: what follows it is older data)."""
    capacity = len(terminated)
    positions = starts[:, None] + np.arange(n)
    positions %= capacity
    ended = terminated.take(positions) | truncated.take(positions)
    ended[:, -1] = True  # so that argmax finds the window's last step: the first end, or step n
    steps = ended.argmax(axis=1) + 1
    np.minimum(steps, (newest - starts) % capacity + 1, out=steps)
    return positions, steps


def nstep_window(starts: np.ndarray, newest: int, reward: np.ndarray, terminated: np.ndarray,
                 truncated: np.ndarray, n: int, gamma: float) -> NStepWindow:
    """Discounted sums of up to ``n`` rewards from each ring position in ``starts``.

    reward, terminated, truncated: the ring's ``(capacity,)`` columns; rows follow each other
    in time, wrapping at the end, and ``newest`` is the ring position of the last row written.
    A window starting at ``s`` takes rows ``s, s+1, ...`` (mod capacity) and stops after
    ``n`` rows, after the first row that ended its episode (terminated or truncated), or after
    ``newest`` (the write head: what follows it is older data), whichever comes first.
    """
    positions, steps = episode_window(starts, newest, terminated, truncated, n)
    offsets = np.arange(n)
    include = offsets < steps[:, None]
    returns = (reward.take(positions) * gamma ** offsets.astype(np.float64) * include).sum(axis=1)
    last = positions[np.arange(len(starts)), steps - 1]
    return NStepWindow(returns, last, steps)
