"""The asynchronous mode behind ``robot-rl train`` (``loop.mode: async``)."""

from __future__ import annotations

import json
import sys
from typing import Any

from robot_rl.train.config import TrainConfig
from robot_rl.train.run_dir import RunDir, write_text_atomic
from robot_rl.train.update_ratio import ratio_line


def run_async(config: TrainConfig, run: RunDir, *, resume: bool, source: str) -> dict[str, Any]:
    from robot_rl.realtime.run import run_async as start
    from robot_rl.train.plots import learning_curve

    last = {"steps": -1.0, "told_resume": not resume}

    def on_status(values: dict[str, float]) -> None:
        if not last["told_resume"]:  # the learner restored the replay before it started
            last["told_resume"] = True
            print(f"resumed at step {int(values['actor_steps'])}: {int(values['resume_restored'])} transitions "
                  f"restored, {int(values['resume_lost'])} lost since the last flush", file=sys.stderr, flush=True)
        if values["actor_steps"] - last["steps"] >= config.loop.log_every_steps:
            last["steps"] = values["actor_steps"]
            print(f"step {int(values['actor_steps'])}/{config.loop.total_steps}  updates "
                  f"{int(values['learner_updates'])}  weights v{int(values['actor_weight_version'])}  "
                  f"last return {values['actor_last_return']:.1f}  loop p99 error "
                  f"{values['loop_period_err_p99_s'] * 1e3:.3f} ms  overruns {int(values['loop_overruns'])}",
                  file=sys.stderr, flush=True)

    from robot_rl.cli.errors import CommandError
    from robot_rl.realtime.env_description import AsyncModeError
    from robot_rl.realtime.run import LearnerStartError

    try:
        summary = start(config, run, resume=resume, source=source, on_status=on_status)
    except (AsyncModeError, LearnerStartError) as exc:
        raise CommandError(str(exc)) from exc
    plot = learning_curve(run.metrics, run.plots / "learning_curve.png", f"{config.env.id} (async {config.algo.name})")
    summary["learning_curve"] = str(plot) if plot else None
    write_text_atomic(run.summary, json.dumps(summary, indent=2))
    ratio = ratio_line(summary["updates_per_step_target"], summary["updates_per_step_achieved"])
    print(f"async run ended: {summary['reason']} (exit code {summary['exit_code']}); {ratio}", file=sys.stderr)
    return summary
