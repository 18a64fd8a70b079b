"""A ring buffer of past physics states at physics-step resolution, for observation latency.

The twin records only the states a delayed read can still ask for: the last ``depth + 1``
steps. Rows are preallocated and recording copies MjData's arrays into them (three
``np.copyto`` of a few dozen floats), so it allocates nothing and costs well under a
physics step.
"""

from __future__ import annotations

import mujoco
import numpy as np


class StateHistory:
    """States ``s_k`` (``qpos``, ``qvel``, ``actuator_force`` of ``data``) for the last
    ``depth + 1`` step numbers ``k``; ``s_k`` lives in row ``k % (depth + 1)``.

    ``data`` must stay the same MjData for the history's life (its arrays are held as views).
    """

    def __init__(self, depth_steps: int, data: mujoco.MjData) -> None:
        if depth_steps < 1:
            raise ValueError(f"depth_steps must be >= 1, got {depth_steps}")
        self.depth = depth_steps
        self._size = depth_steps + 1
        self._qpos, self._qvel, self._force = data.qpos, data.qvel, data.actuator_force
        self.qpos = np.zeros((self._size, self._qpos.shape[0]))
        self.qvel = np.zeros((self._size, self._qvel.shape[0]))
        self.force = np.zeros((self._size, self._force.shape[0]))
        self._rows = [(self.qpos[i], self.qvel[i], self.force[i]) for i in range(self._size)]

    def record(self, step: int) -> None:
        """Store the present state as ``s_step``."""
        qpos, qvel, force = self._rows[step % self._size]
        np.copyto(qpos, self._qpos)
        np.copyto(qvel, self._qvel)
        np.copyto(force, self._force)

    def fill(self) -> None:
        """Make every remembered step hold the present state (after a reset: the robot was
        at rest there before)."""
        self.qpos[:] = self._qpos
        self.qvel[:] = self._qvel
        self.force[:] = self._force

    def at(self, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of ``s_step`` (qpos, qvel, actuator_force), valid until the next record.
        ``step`` must be one of the last ``depth + 1`` recorded."""
        return self._rows[step % self._size]
