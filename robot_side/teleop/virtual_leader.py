"""A virtual leader arm: the leader's emulated bus, its shafts placed by a scripted operator.

``VirtualLeader(config)`` starts ``robot-rl virtual-bus --plant hand`` for the leader config
(its ids, models, baud and calibration) in a process of its own, with a hand-pose file
(:class:`drivers.emulator.hand_plant.HandPose`) that :meth:`VirtualLeader.move_to` writes. The
leader is then read like a real one: :attr:`VirtualLeader.serial_config` is the leader config
with the emulator's port, for :class:`robot_side.teleop.leader_arm.LeaderArm`. Tests and
benchmarks use it to run teleoperation, demonstrations and interventions without hardware.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from drivers.emulator.hand_plant import HandPose
from drivers.robot import RobotSpec
from drivers.robot_config import RobotConfig
from robot_side.teleop.leader_arm import LeaderArm
from robot_side.virtual_bus_process import VirtualBusProcess


class VirtualLeader:
    """The emulated leader of ``config``, its hand at ``start_rad`` (default: the config's
    home pose) until moved. ``extra_args`` go to ``robot-rl virtual-bus`` (fault injection:
    ``--disconnect-after N``)."""

    def __init__(self, config: RobotConfig, start_rad: np.ndarray | None = None, *,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.start_rad = np.array(config.home_rad if start_rad is None else start_rad, dtype=np.float64)
        self.extra_args = extra_args
        self.hand: HandPose | None = None
        self._folder: Path | None = None
        self._bus: VirtualBusProcess | None = None
        self.serial_config: RobotConfig | None = None

    def open(self) -> "VirtualLeader":
        if self._bus is not None:
            return self
        self._folder = Path(tempfile.mkdtemp(prefix="robot_rl-leader-"))
        hand_file = self._folder / "hand.pose"
        self.hand = HandPose.create(hand_file, self.start_rad)
        self._bus = VirtualBusProcess(self.config, "hand", extra_args=("--hand-file", str(hand_file),
                                                                      *self.extra_args))
        try:
            port = self._bus.start()
        except BaseException:
            self.close()
            raise
        self.serial_config = dataclasses.replace(self.config, backend="serial", port=port)
        return self

    def move_to(self, joint_rad: np.ndarray) -> None:
        """Put the operator's hand (the leader's joints, in the leader's joint order) at ``joint_rad``."""
        if self.hand is None:
            raise RuntimeError("the virtual leader is not open")
        self.hand.set(joint_rad)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.stop()
            self._bus = None
        self.hand = None
        self.serial_config = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> "VirtualLeader":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


@contextlib.contextmanager
def open_leader(config: RobotConfig, follower: RobotSpec, timeout_s: float) -> Iterator[tuple[LeaderArm, VirtualLeader | None]]:
    """The leader of ``config`` read for ``follower``: on its port (backend serial), or a
    virtual one started first (backend virtual; returned too, for its operator to move)."""
    with contextlib.ExitStack() as stack:
        virtual = stack.enter_context(VirtualLeader(config)) if config.backend == "virtual" else None
        arm = stack.enter_context(LeaderArm(virtual.serial_config if virtual is not None else config, follower,
                                            timeout_s=timeout_s))
        yield arm, virtual
