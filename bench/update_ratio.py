"""The control loop's timing with the learner idle (update-to-data ratio 0) and with it paced to
the configured ratio, in one run of this script on this machine.

Both measurements are the product itself, ``robot-rl train --set loop.mode=async`` on the
SO-101 twin paced to the wall clock, with bench/loop.py's settings (loop pinned to CPU 0 at
SCHED_FIFO 80 where allowed, learner on CPU 1, SAC 2x256, batch 256, uncompiled, one torch
thread); only ``loop.updates_per_step`` differs. At ratio 0 the learner only drains the ring
into the replay; at the configured ratio (``configs/train/so101_reach_async.yaml``, or
``--ratio``) it updates as far as its CPU allows. The learner is a process of its own, so the
loop's period error should not move with it; the achieved ratio shows whether the CPU kept up.

    python bench/update_ratio.py [--seconds 60] [--rate 100] [--ratio R]

Prints a table and writes bench/results/update_ratio.json with the processor's model name and
the load average beside the figures (other work on the machine shows in them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# bench/ is the script's folder: its other scripts import as modules.
from bus_stress import processor
from loop import BATCH, HIDDEN, RESULTS, async_run, loop_figures

ASYNC_CONFIG = ROOT / "configs" / "train" / "so101_reach_async.yaml"


def configured_ratio() -> float:
    from robot_rl.train.config import load_train_config

    return load_train_config(ASYNC_CONFIG).loop.updates_per_step


def measure(rate_hz: int, seconds: float, ratio: float) -> dict[str, Any]:
    rows, learner, summary = async_run(rate_hz, seconds, "auto", ratio)
    return {"updates_per_step_target": ratio, "updates_per_step_achieved": summary["updates_per_step_achieved"],
            "updates": summary["updates"], "learner_updates_per_s": learner["updates_per_s"],
            "exit_code": summary["exit_code"], **loop_figures(rows, rate_hz)}


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'ratio':>6}{'achieved':>10}{'updates':>9}{'upd/s':>8}{'steps':>8}  {'period error (ms)':^32}"
          f"{'overruns':>10}")
    print(f"{'':>41}  {'p50':>8}{'p99':>8}{'p99.9':>8}{'max':>8}")
    for r in rows:
        print(f"{r['updates_per_step_target']:>6g}{r['updates_per_step_achieved']:>10.2f}{r['updates']:>9}"
              f"{r['learner_updates_per_s']:>8.1f}{r['steps']:>8}  {r['period_error_p50_ms']:8.3f}"
              f"{r['period_error_p99_ms']:8.3f}{r['period_error_p999_ms']:8.3f}{r['period_error_max_ms']:8.2f}"
              f"{r['overruns']:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per measurement (default 60)")
    parser.add_argument("--rate", type=int, default=100, help="control rate, Hz (default 100)")
    parser.add_argument("--ratio", type=float, help=f"the ratio to compare with 0 (default: {ASYNC_CONFIG.name}'s)")
    parser.add_argument("--json", type=Path, default=RESULTS / "update_ratio.json")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench/update_ratio.py needs two CPUs (loop and learner)")
    ratio = configured_ratio() if args.ratio is None else args.ratio
    load_start = os.getloadavg()
    results = []
    for target in (0.0, ratio):
        print(f"async loop at {args.rate} Hz, learner at {target:g} updates per step ({args.seconds:.0f} s) ...",
              flush=True)
        results.append(measure(args.rate, args.seconds, target))
    print()
    print_table(results)
    out = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "seconds": args.seconds, "rate_hz": args.rate,
           "machine": {"processor": processor(), "cpus": os.cpu_count(), "python": platform.python_version(),
                       "load_average_start": load_start, "load_average_end": os.getloadavg()},
           "learner": {"algo": "sac", "hidden_sizes": HIDDEN, "batch_size": BATCH, "compile": False, "threads": 1},
           "rows": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
