"""The bus tests a loaded machine used to break, run again and again under load.

``test_two_threads_share_one_bus`` failed about 1 run in 8 under CPU load: a reply too late
for one thread's read was taken for the next read's reply. The 10,000-transaction fault test
(``test_ten_thousand_noisy_transactions_never_return_a_corrupted_value``: 1 % of replies
corrupted, 1 % dropped, not one wrong value may come back) rests on the same parse. The suite
runs each once; this runs both ``--runs`` times in a row, each run a fresh pytest process
running every case of both (every protocol), while one busy-loop process per CPU keeps every
core loaded, as ``stress --cpu N`` would: the tests' threads and the emulator's serving
thread then wait for a CPU now and then. (Whether a late reply arises in a given run is up to
the scheduler; ``tests/drivers/test_bus.py::test_late_reply_from_the_same_motor_is_skipped``
makes one every time.)

Prints a table (per test case: runs, passed, failed, seconds, and the bus's counters the
tests print, summed: transactions, retries, packets skipped as stale, which are late replies
and packets from ids not awaited, such as a reply whose id byte was corrupted) and writes
bench/results/bus_stress.json with the processor it ran on and the first failures' messages.

    python bench/bus_stress.py [--runs 50] [--load-processes N] [--tests NODEID ...]
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing as mp
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
TESTS = ["tests/drivers/test_bus.py::test_two_threads_share_one_bus",
         "tests/drivers/test_bus_faults.py::test_ten_thousand_noisy_transactions_never_return_a_corrupted_value"]
MESSAGES_KEPT = 5  # failure messages kept per test case


def _spin() -> None:
    """A busy loop for one core, until terminated."""
    while True:
        pass


def processor() -> str:
    """The processor's model name (``lscpu``, else /proc/cpuinfo), with the machine type."""
    name = ""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        name = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                     if line.startswith("Model name:")), "")
    except (OSError, subprocess.SubprocessError):
        pass
    if not name:
        try:
            name = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("model name")), "")
        except OSError:
            pass
    return f"{name or platform.processor() or 'unknown'} ({platform.machine()})"


def bus_counters(output: str) -> dict[str, int]:
    """The bus's counters a test printed (``bus: {'transactions': ..., 'stale_replies': ...}``)."""
    found = re.search(r"bus: (\{[^}]*\})", output)
    return ast.literal_eval(found.group(1)) if found else {}


def run_once(tests: list[str]) -> dict[str, tuple[bool, float, str, dict[str, int]]]:
    """One pytest process over ``tests``: per test case, (passed, seconds, failure message,
    the bus's counters the test printed)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={report}",
                               "-o", "junit_logging=system-out", *tests],
                              cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode not in (0, 1) or not report.exists():  # 1: tests failed; else pytest itself did
            raise RuntimeError(f"pytest exited with {done.returncode}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        outcomes = {}
        for case in ET.parse(report).getroot().iter("testcase"):
            name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
            problem = next((child for child in case if child.tag in ("failure", "error", "skipped")), None)
            message = "" if problem is None else f"{problem.tag}: {problem.get('message', '')}"[:500]
            output = "".join(child.text or "" for child in case if child.tag == "system-out")
            outcomes[name] = (problem is None, float(case.get("time", 0.0)), message, bus_counters(output))
        return outcomes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="runs of every test case, in a row")
    parser.add_argument("--load-processes", type=int, default=os.cpu_count() or 1,
                        help="busy-loop processes beside the tests (default: one per CPU; 0: no load)")
    parser.add_argument("--tests", nargs="+", default=TESTS, help="pytest node ids (default: the two tests)")
    parser.add_argument("--json", type=Path, default=RESULTS / "bus_stress.json")
    args = parser.parse_args()

    rows: dict[str, dict[str, Any]] = {}
    load = [mp.Process(target=_spin, daemon=True) for _ in range(args.load_processes)]
    for process in load:
        process.start()
    started = time.monotonic()
    try:
        for run in range(1, args.runs + 1):
            t0 = time.monotonic()
            for name, (passed, seconds, message, counters) in run_once(args.tests).items():
                row = rows.setdefault(name, {"test": name, "runs": 0, "passed": 0, "failed": 0, "seconds": 0.0,
                                             "bus": {}, "failures": []})
                row["runs"] += 1
                row["passed" if passed else "failed"] += 1
                row["seconds"] += seconds
                for key, value in counters.items():  # summed over the runs
                    row["bus"][key] = row["bus"].get(key, 0) + value
                if not passed and len(row["failures"]) < MESSAGES_KEPT:
                    row["failures"].append({"run": run, "message": message})
            failed = sum(row["failed"] for row in rows.values())
            print(f"run {run} of {args.runs}: {time.monotonic() - t0:.1f} s, {failed} failed so far", flush=True)
    finally:
        for process in load:
            process.terminate()
        for process in load:
            process.join()
    elapsed = time.monotonic() - started

    cpu = processor()
    print(f"\n{args.runs} runs in a row with {args.load_processes} busy-loop processes on {os.cpu_count()} CPUs "
          f"({cpu}), {elapsed / 60:.1f} min")
    width = max(len(name) for name in rows)
    print(f"{'test':<{width}} {'runs':>5} {'passed':>6} {'failed':>6} {'seconds':>8} {'transactions':>12} "
          f"{'retries':>8} {'stale':>6}")
    for row in rows.values():
        bus = row["bus"]
        print(f"{row['test']:<{width}} {row['runs']:>5} {row['passed']:>6} {row['failed']:>6} {row['seconds']:>8.1f} "
              f"{bus.get('transactions', 0):>12} {bus.get('retries', 0):>8} {bus.get('stale_replies', 0):>6}")
        for failure in row["failures"]:
            print(f"    run {failure['run']}: {failure['message']}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "runs": args.runs, "load_processes": args.load_processes, "tests": args.tests,
        "machine": {"processor": cpu, "machine": platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version()},
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "elapsed_s": elapsed, "rows": list(rows.values()),
    }, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(row["failed"] == 0 for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
