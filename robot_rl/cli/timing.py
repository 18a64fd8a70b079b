"""``robot-rl timing RUN_DIR [--json] [--out PNG]``: how well an asynchronous run's control
loop kept its deadlines, from the per-step timing files it wrote (``RUN_DIR/timing``).

With ``--json`` one JSON document is printed on stdout (and nothing else there); times are
in seconds. The histogram PNG is written either way.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("timing", help="the control loop's timing report of an async run")
    p.add_argument("run_dir", help="run directory of a loop.mode async run")
    p.add_argument("--json", action="store_true", help="print the report as JSON (times in s)")
    p.add_argument("--out", help="histogram PNG (default RUN_DIR/plots/loop_timing.png)")
    p.set_defaults(func=cmd_timing)


def cmd_timing(args: argparse.Namespace) -> int:
    import numpy as np

    from robot_rl.realtime.loop_timing import load_timing
    from robot_rl.realtime.timing_report import (TimingReportError, column, configured_command_lead, plot_timing,
                                                 target_period_from_config, timing_report)

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise CommandError(f"{run_dir} is not a directory")
    rows = load_timing(run_dir / "timing")
    if rows.shape[0] == 0:
        raise CommandError(f"{run_dir} has no loop timing ({run_dir / 'timing'}/timing-*.npy): only asynchronous "
                           f"runs (loop.mode async) record it, and only once their first steps are flushed")
    found = target_period_from_config(run_dir)
    if found is None:
        period = column(rows, "period")
        period = period[np.isfinite(period)]
        if period.size == 0:
            raise CommandError(f"{run_dir}: no control rate in config.yaml and no measured period to infer one from")
        found = (float(np.median(period)), "median measured period")
    target, source = found
    try:
        report = timing_report(rows, target)
    except TimingReportError as exc:
        raise CommandError(f"{run_dir}: {exc}") from exc
    out = Path(args.out) if args.out else run_dir / "plots" / "loop_timing.png"
    report["target_source"] = source
    report["command_lead_s"] = configured_command_lead(run_dir)
    report["run_dir"] = str(run_dir)
    report["plot"] = str(plot_timing(rows, target, out, f"{run_dir.name}: control loop at {1 / target:g} Hz"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0


def _ms(value: float) -> str:
    return f"{value * 1e3:9.3f}" if value == value else f"{'-':>9}"


def format_report(report: dict[str, Any]) -> str:
    stats = report["stats_s"]
    lines = [
        f"run        {report['run_dir']}",
        f"steps      {report['steps']}   ({report['measured_periods']} with a measured period; an episode's "
        f"first step has none)",
        f"target     {report['target_period_s'] * 1e3:.3f} ms ({report['control_rate_hz']:g} Hz, from "
        f"{report['target_source']})   mean period {report['mean_period_s'] * 1e3:.3f} ms",
        f"overruns   {report['overruns']}   ({report['overrun_rate']:.3%} of steps)",
        f"weights    versions {report['weight_versions'][0]} to {report['weight_versions'][1]} used by the loop",
        "",
        f"{'per step (ms)':<26}{'p50':>9}{'p90':>9}{'p99':>9}{'p99.9':>9}{'max':>9}",
    ]
    labels = {"period_error": "period error", "latency": "state-to-command latency",
              "tick_to_command": "tick to command", "compute": "compute (policy)", "read": "read (state)",
              "write": "write (command)", "late": "wake-up lateness"}
    for name, label in labels.items():
        s = stats[name]
        lines.append(f"{label:<26}" + "".join(_ms(s[k]) for k in ("p50", "p90", "p99", "p99.9", "max")))
    lines += ["", "latency budget (mean, share of the period)"]
    for name, part in report["budget"].items():
        bar = "#" * int(round(min(part["share"], 1.0) * 40))
        lines.append(f"  {name:<8}{part['mean_s'] * 1e3:9.3f} ms  {part['share']:7.1%}  {bar}")
    lead = report.get("command_lead_s")
    if lead == "auto":
        lines += ["", "command lead: auto (realtime.command_lead_s), measured as the run goes; tick to command "
                      "shows the lead in force"]
    elif lead is not None:
        lines += ["", f"command lead: {lead * 1e3:.3f} ms after the tick (realtime.command_lead_s)"]
    elif report["suggested_command_lead_s"] is not None:
        lines += ["", f"commands were sent as soon as ready; for commands at a fixed phase (microseconds of "
                      f"period error, constant latency) set realtime.command_lead_s: "
                      f"{report['suggested_command_lead_s']:g} (1.25 x this run's p99.9 tick to command) or auto"]
    lines += ["", f"plot       {report['plot']}"]
    return "\n".join(lines)
