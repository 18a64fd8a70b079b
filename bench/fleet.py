"""The fleet against the single-machine asynchronous mode: environment steps collected per
second and learner updates per second, on the SO-101 twin paced to the wall clock.

Three runs of the product as a user starts them, each for ``--seconds`` of collection:

- ``async``: ``robot-rl train --set loop.mode=async`` (one control-loop process, one learner
  process, shared memory between them);
- ``fleet x1``: ``robot-rl train --backend ray --actors 1`` (a local Ray instance: one robot
  actor with its control loop, one learner actor with its learner process);
- ``fleet x2``: the same with two robots.

Rates are the slopes of the runs' own progress lines (steps and updates against the time each
line arrived) after a warm-up of a fifth of the run, so Ray's and the processes' start-up does
not count. Same config for all three (SAC 2x256, batch 256, the twin at the task's default
20 Hz, no real-time priority and no CPU pinning: two robots and a learner share this machine's
cores; no limit on updates per step, so updates/s is the learner's capacity beside the robots).

    python bench/fleet.py [--seconds 60]

Prints a table (ratios against ``async`` from the same run) and writes bench/results/fleet.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
CONFIG = ROOT / "configs" / "train" / "so101_reach_sac.yaml"
RATE_HZ = 20.0  # the SO-101 reach task's default control rate
# The learner updates as fast as it can (no ratio limit), so that updates/s measures its capacity
# beside the robots rather than the data rate.
# A command up to 5 ms late (10 % of the period) is no overrun here: on a shared machine without
# real-time priority the default 2 ms would hold (and not count) many steps, in every mode alike.
SETTINGS = {"loop.mode": "async", "env.options.control_rate_hz": RATE_HZ, "loop.updates_per_step": 10**6,
            "realtime.overrun_tolerance_s": 0.005, "realtime.realtime_priority": "null", "realtime.loop_cpu": "null",
            "realtime.learner_cpu": "null", "loop.log_every_steps": 100, "loop.start_steps": 500,
            "loop.update_after": 500, "loop.eval_every_steps": 10**9, "realtime.eval_every_episodes": 0}
PROGRESS = re.compile(r"^step (\d+)/\d+\s+updates (\d+)")


def measure(name: str, extra: list[str], robots: int, seconds: float, workdir: Path) -> dict:
    steps = int(seconds * RATE_HZ * robots)
    sets = {**SETTINGS, "loop.total_steps": steps}
    command = [sys.executable, "-m", "robot_rl.cli.main", "train", str(CONFIG), "--run-dir", str(workdir / name),
               "--json", *extra, *[part for k, v in sets.items() for part in ("--set", f"{k}={v}")]]
    points: list[tuple[float, int, int]] = []
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def read() -> None:
        for line in process.stderr:
            match = PROGRESS.match(line)
            if match:
                points.append((time.monotonic(), int(match.group(1)), int(match.group(2))))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    out, _ = process.communicate(timeout=seconds * 4 + 300)
    reader.join(10)
    if process.returncode != 0:
        raise SystemExit(f"{name}: robot-rl train failed (exit code {process.returncode})")
    summary = json.loads(out[out.index("{"):])
    t, s, u = (np.array(column, dtype=float) for column in zip(*points))
    keep = s >= s[-1] * 0.2  # after the warm-up
    steps_per_s = float(np.polyfit(t[keep], s[keep], 1)[0])
    updates_per_s = float(np.polyfit(t[keep], u[keep], 1)[0])
    return {"name": name, "robots": robots, "steps": summary["steps"], "updates": summary["updates"],
            "wall_s": summary["wall_time_s"], "steps_per_s": steps_per_s, "updates_per_s": updates_per_s,
            "target_steps_per_s": RATE_HZ * robots, "progress_points": int(keep.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="collection time of each run")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra, robots in (("async", [], 1), ("fleet x1", ["--backend", "ray", "--actors", "1"], 1),
                                    ("fleet x2", ["--backend", "ray", "--actors", "2"], 2)):
            print(f"{name}: {args.seconds:.0f} s of collection ...", flush=True)
            rows.append(measure(name, extra, robots, args.seconds, Path(tmp)))
    base = rows[0]
    print(f"\n{'run':<10} {'robots':>6} {'steps/s':>9} {'target':>7} {'vs async':>9} {'updates/s':>10} {'vs async':>9}")
    for row in rows:
        row["steps_ratio"] = row["steps_per_s"] / base["steps_per_s"]
        row["updates_ratio"] = row["updates_per_s"] / base["updates_per_s"]
        print(f"{row['name']:<10} {row['robots']:>6} {row['steps_per_s']:>9.1f} {row['target_steps_per_s']:>7.0f} "
              f"{row['steps_ratio']:>8.2f}x {row['updates_per_s']:>10.1f} {row['updates_ratio']:>8.2f}x")
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "fleet.json"
    path.write_text(json.dumps({"rows": rows, "seconds": args.seconds, "cpus": os.cpu_count(),
                                "load_average_start": load, "load_average_end": os.getloadavg()[0]}, indent=2))
    print(f"\nload average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end; wrote {path}")


if __name__ == "__main__":
    main()
