"""A control loop killed with ``kill -9`` cannot turn torque off itself: its supervisor opens the
robot's port once more and does. Proven on a serial port served by an emulated SO-101 bus in
this process, so that the test reads the servos' Torque Enable registers directly."""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from pathlib import Path

from drivers.emulator import FaultConfig, VirtualBus
from drivers.robot_config import load_robot_config
from robot_rl.cli.virtual_bus import build_robot_bus

ROOT = Path(__file__).resolve().parents[2]
ROBOT = ROOT / "robot_side/robot_configs/so101.yaml"


def torque(bus: VirtualBus, ids: list[int], expect: int, timeout_s: float = 5.0) -> list[int]:
    """Every servo's Torque Enable, waiting up to ``timeout_s`` for all to read ``expect``."""
    deadline = time.monotonic() + timeout_s
    while True:
        values = [bus.read_register(i, "torque_enable") for i in ids]
        if all(v == expect for v in values) or time.monotonic() > deadline:
            return values
        time.sleep(0.02)


def test_kill_9_of_the_loop_still_leaves_a_real_robot_with_torque_off(tmp_path: Path, start_run) -> None:
    args = argparse.Namespace(robot=str(ROBOT), plant="servo", wire_timing=False, any_baud=False, link=None)
    bus = build_robot_bus(args, FaultConfig(), None).start()
    ids = [j.id for j in load_robot_config(ROBOT).joints]
    try:
        run = start_run(tmp_path / "run", env__options__backend="serial", env__options__port=bus.port,
                        loop__total_steps=100_000)
        run.wait_for(lambda: run.steps() >= 50, 120)
        assert torque(bus, ids, expect=1) == [1] * len(ids)  # the loop is commanding the arm
        pids = json.loads((run.run_dir / "pids.json").read_text())
        os.kill(pids["control_loop"], signal.SIGKILL)
        code, summary = run.finish(timeout_s=120)
        assert code == 1 and summary["reason"].startswith("the control loop failed"), (summary, run.stderr)
        assert "without its safe stop: torque turned off on every motor of so101" in run.stderr, run.stderr
        assert torque(bus, ids, expect=0) == [0] * len(ids)
        assert (run.run_dir / "checkpoints/latest.pt").exists()  # the learner still checkpointed
    finally:
        bus.stop()
