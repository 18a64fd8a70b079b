"""Run ``robot-rl virtual-bus`` in its own process for a benchmark (so the emulator's timing
threads do not share the client's interpreter lock) and stop it afterwards."""

from __future__ import annotations

import signal
import subprocess
import sys
from types import TracebackType


class VirtualBusProcess:
    """``with VirtualBusProcess("--protocol", "feetech", "--ids", "1-6") as port: ...``"""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        self.process = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "virtual-bus", *self.args],
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        port = self.process.stdout.readline().strip()
        if not port:
            self.process.wait(timeout=10)
            raise RuntimeError(f"virtual-bus exited with {self.process.returncode} before printing its port")
        return port

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
