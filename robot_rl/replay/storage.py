"""The preallocated arrays behind a replay buffer, allocated here or supplied by the caller."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from robot_rl.replay.config import CORE_COLUMNS, ReplayConfig
from robot_rl.replay.errors import ReplayShapeError


@dataclass(frozen=True)
class ReplayStorage:
    """One array per column, each with ``capacity`` rows (layout: ``ReplayConfig.column_layout``).

    obs, next_obs: ``(capacity, obs_dim)``; action: ``(capacity, action_dim)``; reward:
    ``(capacity,)``, all of the config's ``dtype``. terminated, truncated: ``(capacity,)`` bool.
    extras: ``{name: (capacity,)}`` for each extra column, of its dtype.

    The arrays may live anywhere numpy can view: ordinary memory (:meth:`allocate`) or
    blocks the caller made, such as ``multiprocessing.shared_memory`` (:meth:`from_arrays`).
    The buffer only ever writes rows in place, so shared arrays stay shared.
    """

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    extras: Mapping[str, np.ndarray]

    @classmethod
    def allocate(cls, config: ReplayConfig, obs_dim: int, action_dim: int) -> ReplayStorage:
        """Zero-filled arrays for ``config``; ``config.memory_bytes(obs_dim, action_dim)`` bytes."""
        layout = config.column_layout(obs_dim, action_dim)
        return cls._from_checked({name: np.zeros(shape, dtype) for name, (shape, dtype) in layout.items()})

    @classmethod
    def from_arrays(cls, config: ReplayConfig, obs_dim: int, action_dim: int,
                    arrays: Mapping[str, np.ndarray]) -> ReplayStorage:
        """Wrap caller-owned arrays (not copied). ``arrays`` needs exactly the columns of
        ``config.column_layout(obs_dim, action_dim)``, each C-contiguous, writeable and of the
        listed shape and dtype. Raises ReplayShapeError naming the first column that is not."""
        layout = config.column_layout(obs_dim, action_dim)
        missing = [name for name in layout if name not in arrays]
        unknown = [name for name in arrays if name not in layout]
        if missing or unknown:
            raise ReplayShapeError(f"storage arrays: missing {missing}, unexpected {unknown}")
        for name, (shape, dtype) in layout.items():
            array = arrays[name]
            if not isinstance(array, np.ndarray):
                raise ReplayShapeError(f"storage column {name!r} must be a numpy array, got {type(array).__name__}")
            if array.shape != shape or array.dtype != dtype:
                raise ReplayShapeError(f"storage column {name!r} must be {shape} {dtype}, "
                                       f"got {array.shape} {array.dtype}")
            if not (array.flags.c_contiguous and array.flags.writeable):
                raise ReplayShapeError(f"storage column {name!r} must be C-contiguous and writeable")
        return cls._from_checked({name: arrays[name] for name in layout})

    @classmethod
    def _from_checked(cls, arrays: dict[str, np.ndarray]) -> ReplayStorage:
        core = {name: arrays.pop(name) for name in CORE_COLUMNS}
        return cls(**core, extras=arrays)

    def columns(self) -> dict[str, np.ndarray]:
        """Every array by column name, core columns first (the order segment files use)."""
        return {name: getattr(self, name) for name in CORE_COLUMNS} | dict(self.extras)

    @property
    def nbytes(self) -> int:
        """Total bytes of all arrays."""
        return sum(array.nbytes for array in self.columns().values())
