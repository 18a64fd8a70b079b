"""``robot-rl demo``: the real drivers against an emulated SO-101 bus, no hardware needed.

Starts six emulated STS3215 servos on a pseudo-terminal with real wire timing, scans the
bus, then runs a sync-read/sync-write position loop through ``FeetechBus`` and prints how
well the servos tracked the commands and how long each bus cycle took.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

from drivers.clock import sleep_until
from drivers.emulator import ServoSpec, VirtualBus
from drivers.feetech.bus import FeetechBus
from drivers.motor import Motor

JOINTS = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="drive an emulated SO-101 servo bus through the real drivers")
    p.add_argument("--seconds", type=float, default=3.0, help="length of the control loop (default 3)")
    p.add_argument("--rate-hz", type=float, default=100.0, help="control rate (default 100)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    servos = [ServoSpec(id=i + 1, model="STS3215") for i in range(len(JOINTS))]
    motors = [Motor(name, i + 1, "STS3215") for i, name in enumerate(JOINTS)]
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    with VirtualBus("feetech", servos, baud=1_000_000, wire_timing=True) as virtual:
        say(f"emulated Feetech bus of {len(servos)} STS3215 servos on {virtual.port} (1 Mbps, wire timing on)")
        with FeetechBus(virtual.port, motors, baud=1_000_000) as bus:
            found = bus.scan(range(0, 11))
            bus.stats.clear()
            say("scan: " + ", ".join(f"id {r.id} {r.model} fw {r.firmware}" for r in found))
            start = bus.read("present_position")
            bus.write_raw("torque_enable", np.ones(len(motors), dtype=np.int64))
            period = 1.0 / args.rate_hz
            n = int(args.seconds * args.rate_hz)
            cycle_s = np.empty(n)
            errors = np.empty(n)
            t0 = time.monotonic()
            for k in range(n):
                tick = t0 + k * period
                sleep_until(tick)
                c0 = time.monotonic()
                state = bus.read_many(["present_position", "present_velocity"])
                goal = start + 0.5 * math.sin(2 * math.pi * 0.5 * k * period) * np.linspace(1.0, 0.5, len(motors))
                bus.write("goal_position", goal)
                cycle_s[k] = time.monotonic() - c0
                errors[k] = float(np.abs(state["present_position"] - goal).max())
            bus.write_raw("torque_enable", np.zeros(len(motors), dtype=np.int64))
            stats = dict(bus.stats)
    summary = {"motors_found": len(found), "cycles": n, "rate_hz": args.rate_hz,
               "cycle_ms_p50": float(np.percentile(cycle_s, 50) * 1e3),
               "cycle_ms_p99": float(np.percentile(cycle_s, 99) * 1e3),
               "tracking_error_rad_p50": float(np.percentile(errors[n // 4:], 50)),
               "bus_retries": int(stats.get("retries", 0)), "bus_failures": int(stats.get("failed", 0))}
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
    else:
        say(f"{n} control cycles at {args.rate_hz:.0f} Hz: sync read + sync write took "
            f"{summary['cycle_ms_p50']:.3f} ms median, {summary['cycle_ms_p99']:.3f} ms p99; "
            f"median tracking error {summary['tracking_error_rad_p50']:.3f} rad; "
            f"{summary['bus_retries']} retries, {summary['bus_failures']} failures")
    return 0 if len(found) == len(servos) else 1
