"""``robot-rl virtual-bus`` for one robot config, in a process of its own.

Virtual hardware (the twin behind the robot's bus) and the virtual leader arm (a hand behind
the leader's bus) both run their emulated bus this way: a child process in a session of its
own (the terminal's Ctrl-C reaches the program driving the robot, which turns torque off
through the bus, as on hardware), stopping with that program. The first line the child prints
is the pseudo-terminal to open.
"""

from __future__ import annotations

import dataclasses
import os
import selectors
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from drivers.config import to_dict
from drivers.errors import TransportError
from drivers.robot_config import RobotConfig

START_TIMEOUT_S = 60.0


class VirtualBusProcess:
    """The emulated bus of ``config``'s servos moved by ``plant`` (``twin``, ``servo``, ``hand``),
    with ``extra_args`` for ``robot-rl virtual-bus``. :meth:`start` returns the port."""

    def __init__(self, config: RobotConfig, plant: str, *, wire_timing: bool = True,
                 extra_args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.plant = plant
        self.wire_timing = wire_timing
        self.extra_args = extra_args
        self.process: subprocess.Popen[str] | None = None
        self.port: str | None = None
        self._config_file: Path | None = None

    def start(self) -> str:
        if self.port is not None:
            return self.port
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            yaml.safe_dump({"robot": to_dict(dataclasses.replace(self.config, port=None, backend="virtual"))}, f)
            self._config_file = Path(f.name)
        cmd = [sys.executable, "-m", "robot_rl.cli.main", "virtual-bus", "--robot", str(self._config_file),
               "--plant", self.plant, "--exit-with", str(os.getpid()), *self.extra_args] + \
            (["--wire-timing"] if self.wire_timing else [])
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, start_new_session=True)
        port = _first_line(self.process, START_TIMEOUT_S)
        if not port:
            code = self.process.wait(timeout=10)
            self.stop()
            raise TransportError(f"the virtual bus for {self.config.name} exited with code {code} before "
                                 f"printing its port (run `robot-rl virtual-bus --robot ... --plant {self.plant}` "
                                 f"to see why)")
        self.port = port
        return port

    def stop(self) -> None:
        """Stop the bus (SIGTERM, then SIGKILL after 10 s) and remove its config file. Idempotent."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.port = None
        if self._config_file is not None:
            self._config_file.unlink(missing_ok=True)
            self._config_file = None


def _first_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    if process.stdout is None:
        return ""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout_s):
            return ""
    return process.stdout.readline().strip()
