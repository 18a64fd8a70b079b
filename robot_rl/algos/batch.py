"""The typed minibatch that SAC and TD3 learn from."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from robot_rl.algos.errors import LearnerError


class BatchError(LearnerError, ValueError):
    """Arrays given to ``Batch.from_numpy`` have inconsistent shapes."""


class Batch(NamedTuple):
    """``B`` transitions (n-step ones allowed), as float32 torch tensors on one device.

    obs, next_obs: ``(B, obs_dim)``; ``next_obs`` is the observation ``n`` steps later.
    action: ``(B, A)``, in the env's action units.
    reward: ``(B,)``, the discounted sum of the ``n`` rewards.
    done: ``(B,)``, 1.0 where the episode *terminated* within those steps (a true end: no
        bootstrapping), 0.0 otherwise. A time-limit truncation is not done: the value of
        ``next_obs`` is still bootstrapped.
    discount: ``(B,)``, ``gamma ** n`` for each sample's actual number of steps ``n``.
    """

    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor
    discount: torch.Tensor

    @classmethod
    def from_numpy(
        cls,
        obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        discount: np.ndarray | float,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """Build a batch from numpy arrays (copied, converted to float32).

        ``discount`` may be a scalar (``gamma`` for one-step transitions) or one value per
        sample. Raises BatchError if the leading dimensions or feature sizes disagree.
        """
        size = len(obs)
        arrays = {"obs": obs, "action": action, "reward": reward, "next_obs": next_obs, "terminated": terminated}
        for name, array in arrays.items():
            if len(array) != size:
                raise BatchError(f"{name} has {len(array)} rows, obs has {size}")
        if np.shape(obs)[1:] != np.shape(next_obs)[1:]:
            raise BatchError(f"obs shape {np.shape(obs)} differs from next_obs shape {np.shape(next_obs)}")
        for name in ("reward", "terminated"):
            if np.ndim(arrays[name]) != 1:
                raise BatchError(f"{name} must be 1-D, got shape {np.shape(arrays[name])}")
        discount_arr = np.broadcast_to(np.asarray(discount, dtype=np.float32), (size,))

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.tensor(np.asarray(array, dtype=np.float32), device=device)

        return cls(tensor(obs), tensor(action), tensor(reward), tensor(next_obs), tensor(terminated),
                   tensor(discount_arr))
