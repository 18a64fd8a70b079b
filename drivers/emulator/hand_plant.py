"""``HandPlant``: servos with torque off, moved by a hand; the emulated leader arm's plant.

A leader arm is a copy of the robot whose servos never drive: the operator moves it, and the
bus reports where it is. Here the "hand" is a pose in joint angles (rad, the leader's joint
order) that another process writes into a small shared file, :class:`HandPose`; on every
packet the plant puts each shaft where that pose says, through the leader's calibration
(``encoder_rad = pi + direction * joint_rad - sign * homing_offset_ticks * 2 pi / 4096``, the
frame convention of every plant, see ``sim.twin_plant``). The velocity is the finite difference
of the last two poses set (over the time between the packets that saw them), the torque 0. Commands are ignored: a leader's servos are never asked to
move, and a hand outweighs a servo whose torque a client turned on by mistake.

A scripted "operator" (tests, benchmarks) moves the pose; the client reads it over the serial
line like a real leader's, bytes, calibration and all.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from drivers.emulator.plant import PlantCommand, PlantState

RAD_PER_TICK = 2 * math.pi / 4096
HAND_FILE_MAGIC = 0x48414E44  # "HAND"


class HandPose:
    """A joint pose in a file shared between processes: a float64 header (magic, joint count,
    write counter) and the angles. ``HandPose.create(path, pose)`` once, then
    ``HandPose(path)`` in any process; :meth:`set` writes, :meth:`get` reads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            raw = np.memmap(self.path, dtype=np.float64, mode="r+")
        except (OSError, ValueError) as exc:
            raise ValueError(f"hand pose file {self.path}: cannot be opened ({exc})") from exc
        if raw.size < 3 or int(raw[0]) != HAND_FILE_MAGIC or raw.size != 3 + int(raw[1]):
            raise ValueError(f"hand pose file {self.path}: not a hand pose file (made by HandPose.create)")
        self._raw = raw
        self.pose = raw[3:]

    @classmethod
    def create(cls, path: str | os.PathLike[str], pose_rad: np.ndarray) -> "HandPose":
        pose_rad = np.asarray(pose_rad, dtype=np.float64).ravel()
        data = np.concatenate([[HAND_FILE_MAGIC, pose_rad.size, 0.0], pose_rad])
        Path(path).write_bytes(data.tobytes())
        return cls(path)

    def set(self, pose_rad: np.ndarray) -> None:
        """Move the hand to ``pose_rad`` (one angle per joint)."""
        pose_rad = np.asarray(pose_rad, dtype=np.float64)
        if pose_rad.shape != self.pose.shape or not np.all(np.isfinite(pose_rad)):
            raise ValueError(f"a hand pose needs {self.pose.size} finite angles, got {pose_rad!r}")
        self.pose[:] = pose_rad
        self._raw[2] += 1.0

    def get(self) -> np.ndarray:
        return np.array(self.pose)

    @property
    def writes(self) -> int:
        """How many times the pose was set (a move is seen by this changing)."""
        return int(self._raw[2])


class HandPlant:
    """The shafts of ``len(direction)`` servos, placed by ``hand`` (see the module docstring).

    direction: +1/-1 per servo; offset_rad: ``sign * homing_offset_ticks * RAD_PER_TICK`` per
    servo (0 without a calibration)."""

    def __init__(self, hand: HandPose, direction: np.ndarray, offset_rad: np.ndarray) -> None:
        self.hand = hand
        self.direction = np.asarray(direction, dtype=np.float64)
        self.offset_rad = np.asarray(offset_rad, dtype=np.float64)
        if not (self.direction.shape == self.offset_rad.shape == hand.pose.shape):
            raise ValueError(f"the hand pose has {hand.pose.size} joints, the leader {self.direction.size} servos")
        self._position = self.shaft_rad(hand.get())
        self._velocity = np.zeros_like(self._position)
        self._torque = np.zeros_like(self._position)
        self._last_s: float | None = None
        self._writes = hand.writes

    def shaft_rad(self, joint_rad: np.ndarray) -> np.ndarray:
        """Encoder angles (rad, before the homing offset) of the joint angles ``joint_rad``."""
        return math.pi + self.direction * joint_rad - self.offset_rad

    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        writes = self.hand.writes
        if self._last_s is None:
            self._last_s = now_s
        if writes != self._writes:
            position = self.shaft_rad(self.hand.get())
            if now_s > self._last_s:
                self._velocity = (position - self._position) / (now_s - self._last_s)
            self._position, self._writes, self._last_s = position, writes, now_s
        elif now_s - self._last_s > 0.1:  # a hand at rest
            self._velocity = np.zeros_like(self._position)
        return PlantState(self._position, self._velocity, self._torque)
