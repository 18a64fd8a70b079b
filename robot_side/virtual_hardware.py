"""Virtual hardware: the robot's emulated servo bus, with the MuJoCo twin as the plant, in its
own process, driven by ``BusRobot`` through a pseudo-terminal.

The bytes on the line are those a real robot would exchange, so everything above the serial
port (drivers, safety, env, runner) runs exactly as on hardware. The emulator process is
started on ``open`` and stopped on ``close``; users and tests need no second terminal.
"""

from __future__ import annotations

import dataclasses
import logging
from types import TracebackType
from typing import Any

import numpy as np

from drivers.bus_robot import BusRobot
from drivers.errors import TransportError
from drivers.robot import JointState, RobotSpec
from drivers.robot_config import RobotConfig
from robot_side.virtual_bus_process import VirtualBusProcess

log = logging.getLogger(__name__)


class VirtualHardware:
    """A ``Robot``: ``BusRobot`` on an emulated bus whose plant is the twin (``plant="twin"``)
    or the simple servo model (``plant="servo"``)."""

    simulated = False  # the twin moves in real time behind a serial line, as hardware does

    def __init__(self, config: RobotConfig, *, plant: str = "twin", sim: dict[str, Any] | None = None,
                 wire_timing: bool = True, read_only: bool = False) -> None:
        self.read_only = read_only
        self.config = dataclasses.replace(config, backend="serial", port="(virtual)")
        self.plant = plant
        self.wire_timing = wire_timing
        self.bus_process: VirtualBusProcess | None = None
        self.robot: BusRobot | None = None
        self.spec: RobotSpec = config.spec

    def open(self) -> "VirtualHardware":
        if self.robot is not None:
            return self
        self.bus_process = VirtualBusProcess(self.config, self.plant, wire_timing=self.wire_timing)
        port = self.bus_process.start()
        log.info("virtual hardware for %s on %s (plant: %s)", self.config.name, port, self.plant)
        try:
            self.robot = BusRobot(dataclasses.replace(self.config, port=port), read_only=self.read_only).open()
        except BaseException:
            self._cleanup()
            raise
        return self

    def close(self) -> None:
        try:
            if self.robot is not None:
                self.robot.close()
        finally:
            self.robot = None
            self._cleanup()

    def __enter__(self) -> "VirtualHardware":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _cleanup(self) -> None:
        if self.bus_process is not None:
            self.bus_process.stop()
            self.bus_process = None

    def _require(self) -> BusRobot:
        if self.robot is None:
            raise TransportError("virtual hardware is not open")
        return self.robot

    def read(self) -> JointState:
        return self._require().read()

    def write(self, position_rad: np.ndarray) -> np.ndarray:
        return self._require().write(position_rad)

    def now_s(self) -> float:
        return self._require().now_s()

    def hold(self) -> np.ndarray:
        return self._require().hold()

    def torque_off(self) -> None:
        if self.robot is not None:
            self.robot.torque_off()

    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> None:
        raise NotImplementedError(f"virtual hardware of {self.config.name} is driven like hardware: it cannot be "
                                  f"put in a state, only moved there")

    def render(self, markers: dict[str, np.ndarray] | None = None) -> np.ndarray:
        raise NotImplementedError("virtual hardware does not render; the twin (backend sim) does")

    def sleep_until(self, t_s: float) -> float:
        return self._require().sleep_until(t_s)
