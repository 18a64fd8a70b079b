"""Shared pytest setup: hardware tests run only when ROBOT_RL_PORT names a real port; the
``start_run`` fixture starts ``robot-rl train`` as a user would, on the twin paced to the wall
clock, small enough to run in a few seconds (the asynchronous mode's and the fleet's tests)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ROBOT_RL_PORT"):
        return
    skip = pytest.mark.skip(reason="needs real hardware: set ROBOT_RL_PORT=/dev/ttyUSB0")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


ROOT = Path(__file__).resolve().parents[1]
CONFIG = str(ROOT / "configs/train/so101_reach_sac.yaml")
# 50 Hz (20 ms = 10 physics steps), 50-step episodes: one second each. Small networks, updates
# from step 40, checkpoints every 100 steps. No real-time priority: tests share the machine.
# Uncompiled: compiling takes longer than these runs last.
SMALL = {"loop.mode": "async", "env.options.control_rate_hz": 50, "loop.start_steps": 40, "loop.update_after": 40,
         "algo.sac.hidden_sizes": "[32,32]", "algo.sac.batch_size": 32, "algo.sac.compile": "false",
         "loop.checkpoint_every_steps": 100,
         "loop.log_every_steps": 25, "replay.flush_interval_steps": 50, "realtime.realtime_priority": "null",
         "realtime.eval_every_episodes": 0}


HOOKS = ROOT / "tests" / "hooks"  # sitecustomize.py: fault injection for the processes a test starts


def hooked_env(**variables: str) -> dict[str, str]:
    """This process's environment with ``tests/hooks`` first on PYTHONPATH and ``variables``
    set (the hooks' switches, such as ``ROBOT_RL_TEST_FREEZE``)."""
    path = os.pathsep.join(p for p in (str(HOOKS), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **variables}


@pytest.fixture
def test_hooks() -> Callable[..., dict[str, str]]:
    """``test_hooks(ROBOT_RL_TEST_FREEZE="60:0.6")``: an environment for a process a test starts,
    with the fault injection of tests/hooks switched on (see ``hooked_env``)."""
    return hooked_env


class Run:
    """A ``robot-rl train`` process (the async mode's small settings, then ``overrides``); its
    stderr is collected line by line as it comes. ``env``: extra environment variables (with
    ``tests/hooks`` on PYTHONPATH, see ``hooked_env``)."""

    def __init__(self, run_dir: Path, args: list[str], overrides: dict[str, object],
                 env: dict[str, str] | None = None) -> None:
        sets = [f"{k}={v}" for k, v in {**SMALL, **overrides}.items()]
        command = [sys.executable, "-m", "robot_rl.cli.main", "train", CONFIG, "--run-dir", str(run_dir), "--json",
                   *args, *[part for s in sets for part in ("--set", s)]]
        self.run_dir = run_dir
        # A session of its own: a test can signal its whole process group, as a terminal does.
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=hooked_env(**env) if env else None, start_new_session=True)
        self.lines: list[str] = []
        self.out: list[str] = []
        # One reader per pipe (never communicate() as well: two readers would split the text).
        self._readers = [threading.Thread(target=self._read, args=(self.process.stderr, self.lines), daemon=True),
                         threading.Thread(target=self._read, args=(self.process.stdout, self.out), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, into: list[str]) -> None:
        for line in stream:
            into.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def steps(self) -> int:
        """The newest progress line's step count (0 before the first)."""
        found = re.findall(r"^step (\d+)/", self.stderr, re.M)
        return int(found[-1]) if found else 0

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the run ended early (exit code {self.process.returncode}):\n{self.stderr}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting:\n{self.stderr}")
            time.sleep(0.05)

    def finish(self, timeout_s: float = 60.0) -> tuple[int, dict]:
        """Exit code and the printed summary."""
        import json

        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the run did not end in {timeout_s} s:\n{self.stderr}") from None
        for reader in self._readers:
            reader.join(10)
        out = "".join(self.out)
        summary = json.loads(out[out.index("{"):]) if "{" in out else {}
        return self.process.returncode, summary


@pytest.fixture
def start_run() -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def start(run_dir: Path, *args: str, env: dict[str, str] | None = None, **overrides: object) -> Run:
        run = Run(run_dir, list(args), {k.replace("__", "."): v for k, v in overrides.items()}, env)
        runs.append(run)
        return run

    yield start
    for run in runs:  # a failed test must not leave a run going
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait(10)


def read_replay_column(run_dir: Path, name: str) -> "np.ndarray":
    """One column of a run's persisted replay, in order (all segments)."""
    import numpy as np

    segments = sorted((run_dir / "replay").glob("segment-*.npz"))
    return np.concatenate([np.load(path)[name] for path in segments])


@pytest.fixture
def replay_column() -> Callable[[Path, str], "np.ndarray"]:
    return read_replay_column


class Arm:
    """``robot-rl virtual-bus --robot so101`` in a process and a session of its own: the
    terminal's signals never reach it, as they never reach a real arm. Read it (:meth:`torque`)
    only once the program driving it has ended: a serial line has one client at a time (a
    program that is stepping opened the robot, which turned torque on, or it would have failed)."""

    def __init__(self, *options: str) -> None:
        """``options``: more ``robot-rl virtual-bus`` options (fault injection: ``--drop-prob 0.1``)."""
        self.process = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "virtual-bus", "--robot", "so101",
                                         "--wire-timing", *options], cwd=ROOT, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True, start_new_session=True)
        self.port = self.process.stdout.readline().strip()
        assert self.port.startswith("/dev/"), "the virtual bus printed no port"

    def torque(self) -> list[int]:
        """Every servo's Torque Enable, read through the serial line as a user would (patiently:
        an emulator just woken answers the requests queued while it slept first)."""
        from drivers.bus_factory import make_bus
        from drivers.motor import Motor
        from drivers.robot_config import load_robot_config

        robot = load_robot_config(ROOT / "robot_side/robot_configs/so101.yaml")
        motors = [Motor(j.name, j.id, j.model) for j in robot.joints]
        with make_bus(robot.protocol, self.port, motors, baud=robot.baud, retries=10, timeout_margin_s=0.1) as bus:
            return [int(v) for v in bus.read_raw("torque_enable")]

    def pause(self) -> None:
        """The line goes silent (SIGSTOP), as when a cable comes loose; :meth:`resume` undoes it."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """The servos hear the line again; the requests sent meanwhile are answered into the void."""
        self.process.send_signal(signal.SIGCONT)
        time.sleep(0.5)

    def close(self) -> None:
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def arm() -> Iterator[Arm]:
    """A virtual SO-101 that outlives the program driving it (see :class:`Arm`)."""
    arm = Arm()
    yield arm
    arm.close()


@pytest.fixture
def make_arm() -> Iterator[Callable[..., Arm]]:
    """``make_arm(*options)``: an :class:`Arm` with more ``robot-rl virtual-bus`` options; closed after the test."""
    arms: list[Arm] = []

    def make(*options: str) -> Arm:
        arms.append(Arm(*options))
        return arms[-1]

    yield make
    for arm in arms:
        arm.close()
