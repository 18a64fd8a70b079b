"""Virtual hardware: the robot's emulated servo bus, with the MuJoCo twin as the plant, in its
own process, driven by ``BusRobot`` through a pseudo-terminal.

The bytes on the line are those a real robot would exchange, so everything above the serial
port (drivers, safety, env, runner) runs exactly as on hardware. The emulator process is
started on ``open`` and stopped on ``close``; users and tests need no second terminal.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import yaml

from drivers.bus_robot import BusRobot
from drivers.config import to_dict
from drivers.errors import TransportError
from drivers.robot import JointState, RobotSpec
from drivers.robot_config import RobotConfig

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0


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
        self.process: subprocess.Popen[str] | None = None
        self.robot: BusRobot | None = None
        self._config_file: Path | None = None
        self.spec: RobotSpec = config.spec

    def open(self) -> "VirtualHardware":
        if self.robot is not None:
            return self
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump({"robot": to_dict(dataclasses.replace(self.config, port=None, backend="virtual"))}, f)
            self._config_file = Path(f.name)
        cmd = [sys.executable, "-m", "robot_rl.cli.main", "virtual-bus", "--robot", str(self._config_file),
               "--plant", self.plant, "--exit-with", str(os.getpid())] + (["--wire-timing"] if self.wire_timing else [])
        # A session of its own: the terminal's Ctrl-C or hang-up reaches the program driving the
        # robot, which then turns torque off through it, as on hardware; it stops with that program.
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
        port = _first_line(self.process, START_TIMEOUT_S)
        if not port:
            code = self.process.wait(timeout=10)
            self._cleanup()
            raise TransportError(f"the virtual bus for {self.config.name} exited with code {code} before "
                                 f"printing its port (run `robot-rl virtual-bus --robot ... --plant {self.plant}` "
                                 f"to see why)")
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
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)
            self._config_file = None

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


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    import selectors

    if process.stdout is None:
        return ""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return ""
    return process.stdout.readline().strip()
