"""The fleet behind ``robot-rl train CONFIG --backend ray`` (see :mod:`robot_rl.fleet.run`)."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from typing import Any

from robot_rl.train.config import TrainConfig
from robot_rl.train.run_dir import RunDir


def run_fleet(config: TrainConfig, run: RunDir, *, resume: bool, source: str, address: str | None,
              actors: int | None) -> dict[str, Any]:
    from robot_rl.cli.errors import CommandError

    if importlib.util.find_spec("ray") is None:
        raise CommandError("--backend ray needs Ray, which is not installed: pip install -e '.[ray]'")
    from robot_rl.fleet.run import FleetError, run_fleet as start
    from robot_rl.train.plots import learning_curve

    last = {"steps": -1.0}

    def on_status(values: dict[str, Any]) -> None:
        if values["fleet_steps"] - last["steps"] < config.loop.log_every_steps:
            return
        last["steps"] = values["fleet_steps"]
        robots = "  ".join(f"r{r['index']} {r.get('steps', 0)} v{r.get('weight_version', 0)}"
                           + (f" ({r['ended']})" if r["ended"] else "") for r in values["robots"])
        print(f"step {int(values['fleet_steps'])}/{config.loop.total_steps}  updates {int(values['updates'])}  "
              f"weights v{values['version']}  robots: {robots}", file=sys.stderr, flush=True)

    try:
        # Ray forwards the actors' output and its own scheduler messages to stdout: keep stdout
        # for the summary (--json), and everything Ray prints on stderr with the logs.
        with contextlib.redirect_stdout(sys.stderr):
            summary = start(config, run, resume=resume, source=source, address=address, actors=actors,
                            on_status=on_status)
    except FleetError as exc:
        raise CommandError(str(exc)) from exc
    if run.metrics.exists():  # the learner may have written the run on another host
        plot = learning_curve(run.metrics, run.plots / "learning_curve.png", f"{config.env.id} (fleet {config.algo.name})")
        summary["learning_curve"] = str(plot) if plot else None
    print(f"fleet run ended: {summary['reason']} (exit code {summary['exit_code']})", file=sys.stderr)
    for robot in summary["robots"]:
        print(f"  robot {robot['index']} on {robot['host']}: {robot['transitions']} transitions, weights "
              f"v{robot['weight_version']}, {robot['restarts']} restarts, {robot['ended'] or 'running'}",
              file=sys.stderr)
    return summary
