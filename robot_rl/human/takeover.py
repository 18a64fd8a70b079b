"""When a person with a leader arm has taken over: the leader moved away from where it rested.

A leader arm at rest (on the table, or held still) does not drive the robot. Moving any joint
more than ``takeover_rad`` from the rest pose takes over; from then on the leader's pose is
the command. Holding the leader within ``still_rad`` for ``release_s`` hands back to the
policy, and the pose where it stopped is the new rest. No key is needed, and a leader put
down anywhere never moves the robot on its own.
"""

from __future__ import annotations

import numpy as np


class TakeoverTrigger:
    """Feed it every leader pose (:meth:`update`); :attr:`active` says whether the person drives."""

    def __init__(self, takeover_rad: float, release_s: float, still_rad: float) -> None:
        self.takeover_rad, self.release_s, self.still_rad = takeover_rad, release_s, still_rad
        self.active = False
        self.rest: np.ndarray | None = None
        self._anchor: np.ndarray | None = None
        self._still_since = 0.0

    def update(self, pose_rad: np.ndarray, now_s: float) -> bool:
        """Take in the leader's pose at ``now_s``; returns :attr:`active`."""
        if self.rest is None:
            self.rest = pose_rad.copy()
        if not self.active:
            if float(np.max(np.abs(pose_rad - self.rest))) > self.takeover_rad:
                self.active = True
                self._anchor, self._still_since = pose_rad.copy(), now_s
            return self.active
        if float(np.max(np.abs(pose_rad - self._anchor))) > self.still_rad:
            self._anchor, self._still_since = pose_rad.copy(), now_s
        elif now_s - self._still_since >= self.release_s:
            self.release(pose_rad)
        return self.active

    def release(self, pose_rad: np.ndarray | None = None) -> None:
        """Hand back to the policy (an episode's end); ``pose_rad`` is the new rest."""
        self.active = False
        if pose_rad is not None:
            self.rest = pose_rad.copy()
