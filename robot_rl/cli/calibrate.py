"""Interactive calibration (``robot-rl motors calibrate``): the only place that prompts.

1. Torque off; the motors' homing offsets are cleared.
2. The user puts every joint at its zero pose and presses Enter: the offsets that make that
   pose read the encoder centre are programmed into the motors.
3. The user moves every joint through its whole range and presses Enter: the range seen is
   recorded. The calibration YAML is written atomically (the old file survives a crash).
"""

from __future__ import annotations

import argparse
import json
import select
import sys
from pathlib import Path

import numpy as np

from drivers.bus_factory import make_bus
from drivers.calibration import (Calibration, MotorCalibration, homing_offset_for, load_calibration,
                                 save_calibration, ticks_to_joint_rad)
from drivers.motor import Motor
from drivers.robot_config import load_robot_config
from robot_rl.cli.errors import CommandError
from robot_side.robots import robot_config_path


def _wait_enter(prompt: str) -> None:
    print(prompt, file=sys.stderr, flush=True)
    if not sys.stdin.readline():
        raise CommandError("calibration aborted: standard input closed")


def _enter_pressed(timeout_s: float) -> bool:
    ready, _, _ = select.select([sys.stdin], [], [], timeout_s)
    if ready:
        if not sys.stdin.readline():
            raise CommandError("calibration aborted: standard input closed")
        return True
    return False


def run_calibration(args: argparse.Namespace) -> int:
    config_path = robot_config_path(args.robot)
    config = load_robot_config(config_path, port=args.port)
    if not config.port:
        raise CommandError(f"{args.robot}: no port; pass --port")
    out = Path(args.out or config.calibration or config_path.with_name(f"{config.name}_calibration.yaml"))
    previous = load_calibration(out) if out.exists() else None
    motors = [Motor(j.name, j.id, j.model) for j in config.joints]
    names = [m.name for m in motors]
    direction = np.array([previous.motors[n].direction if previous and n in previous.motors else 1 for n in names],
                         dtype=np.float64)
    with make_bus(config.protocol, config.port, motors, baud=config.baud) as bus:
        for motor in motors:
            found = bus.ping(motor.id)
            if found.model_number != bus.tables[motor.name].model_number:
                raise CommandError(f"motor {motor.name} (id {motor.id}) is a {found.model}, config says {motor.model}")
        bus.write_raw("torque_enable", np.zeros(len(motors), dtype=np.int64))
        for motor in motors:
            bus.write_register_one(motor.id, motor.model, "homing_offset", 0)
        _wait_enter("Torque is off. Put every joint at its zero pose (see docs/calibration.md), then press Enter.")
        actual = bus.read_raw("present_position")
        sign = bus.tables[names[0]].homing_offset_sign
        offsets = [homing_offset_for(int(a), sign) for a in actual]
        for motor, offset in zip(motors, offsets):
            bus.write_register_one(motor.id, motor.model, "homing_offset", offset)
        print("Now move every joint slowly through its whole range; press Enter when done.", file=sys.stderr,
              flush=True)
        low = np.full(len(motors), np.inf)
        high = np.full(len(motors), -np.inf)
        while True:
            position = ticks_to_joint_rad(bus.read_raw("present_position"), direction)
            low, high = np.minimum(low, position), np.maximum(high, position)
            if sys.stderr.isatty():
                text = "  ".join(f"{n}: [{lo:+.2f}, {hi:+.2f}]" for n, lo, hi in zip(names, low, high))
                print(f"\r{text}", end="", file=sys.stderr, flush=True)
            if _enter_pressed(0.05):
                break
    calibration = Calibration({m.name: MotorCalibration(m.id, int(o), int(d), float(lo), float(hi))
                               for m, o, d, lo, hi in zip(motors, offsets, direction, low, high)})
    save_calibration(out, calibration)
    rows = [{"joint": m.name, "id": m.id, "homing_offset_ticks": int(o), "range_min_rad": float(lo),
             "range_max_rad": float(hi)} for m, o, lo, hi in zip(motors, offsets, low, high)]
    if args.json:
        print(json.dumps({"file": str(out), "motors": rows}, indent=2))
    else:
        print(f"\nwrote {out}")
        for r in rows:
            print(f"  {r['joint']:<16} id {r['id']:>3}  offset {r['homing_offset_ticks']:>6}  "
                  f"range [{r['range_min_rad']:+.3f}, {r['range_max_rad']:+.3f}] rad")
        narrow = [r["joint"] for r in rows if r["range_max_rad"] - r["range_min_rad"] < 0.2]
        if narrow:
            print(f"warning: joints {narrow} moved less than 0.2 rad; was the whole range covered?")
    return 0
