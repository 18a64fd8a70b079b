"""``robot-rl train CONFIG [--set key=value ...] [--run-dir DIR] [--resume]``."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("train", help="train a policy (SAC or TD3) on the twin, hardware or any Gymnasium env")
    p.add_argument("config", help="training config YAML, e.g. configs/train/so101_reach_sac.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set loop.total_steps=5000 (repeatable)")
    p.add_argument("--run-dir", help="run directory (default runs/<name>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: this machine (loop.mode sync or async); ray: a fleet of robots feeding one learner "
                        "through Ray (docs/fleet.md)")
    p.add_argument("--address", help="with --backend ray: the Ray cluster to join (default: start one here)")
    p.add_argument("--actors", type=int, help="with --backend ray: how many robots (default fleet.actors)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (logs only)")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from robot_rl.train.config import load_train_config
    from robot_rl.train.run_dir import RunDir, RunDirError

    config_path = Path(args.config)
    config = load_train_config(config_path, args.overrides)
    run = RunDir(Path(args.run_dir) if args.run_dir else Path("runs") / config.name)
    if args.backend != "ray" and (args.address or args.actors):
        raise CommandError("--address and --actors need --backend ray")
    try:
        if args.backend == "ray":
            from robot_rl.cli.train_fleet import run_fleet

            summary = run_fleet(config, run, resume=args.resume, source=str(config_path), address=args.address,
                                actors=args.actors)
        elif config.loop.mode == "async":
            from robot_rl.cli.train_async import run_async

            summary = run_async(config, run, resume=args.resume, source=str(config_path))
        else:
            summary = _run_sync(config, run, args, str(config_path))
    except RunDirError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_summary(summary)
    return int(summary.get("exit_code", 0))


def _run_sync(config, run, args: argparse.Namespace, source: str) -> dict:
    from tqdm import tqdm

    from robot_rl.train.plots import learning_curve
    from robot_rl.train.run_dir import write_text_atomic
    from robot_rl.train.sync_trainer import Progress, SyncTrainer, make_env
    from robot_rl.train.video import record_episode
    from robot_side.safety.stop_signals import StopSignals

    bar = None if args.no_progress or args.json else tqdm(total=config.loop.total_steps, unit="step",
                                                          dynamic_ncols=True, file=sys.stderr)

    def on_progress(p: Progress) -> None:
        parts = {"ret": f"{p.recent_return:.1f}" if p.recent_return is not None else "-"}
        for key, label in (("alpha", "alpha"), ("critic_loss", "q_loss"), ("actor_loss", "pi_loss")):
            if key in p.metrics:
                parts[label] = f"{p.metrics[key]:.3g}"
        if p.evaluation is not None:
            parts["eval"] = f"{p.evaluation.mean_return:.1f}"
            if p.evaluation.success_rate is not None:
                parts["success"] = f"{p.evaluation.success_rate:.0%}"
        if bar is not None:
            bar.n = p.step
            bar.set_postfix(parts, refresh=True)
        else:
            logging.getLogger("robot_rl.train").warning(
                "step %d/%d  %.0f steps/s  %s", p.step, p.total_steps, p.steps_per_s,
                "  ".join(f"{k} {v}" for k, v in parts.items()))

    trainer = SyncTrainer(config, run, resume=args.resume, source=source, on_progress=on_progress)
    if args.resume:
        kept = trainer.kept_after_checkpoint
        print(f"resumed at step {trainer.step}: {trainer.restored_transitions} transitions restored"
              f"{f' ({kept} flushed after the last checkpoint, not taken again)' if kept else ''}, "
              f"{trainer.lost_transitions} lost after the last flush", file=sys.stderr)
    if bar is not None:
        bar.update(trainer.step)
    summary: dict = {}
    stop = StopSignals(on_signal=lambda count, signum: _say_stopping(count, signum, bar))
    try:
        with stop:
            summary = trainer.train(should_stop=lambda: stop.requested)
        if config.env.id.startswith("robot_rl/") and not stop.requested:
            _, message = record_episode(lambda: make_env(config, evaluation=True, render_mode="rgb_array"),
                                        lambda o: trainer.learner.act(o, deterministic=True),
                                        run.root / "videos" / "eval.gif", seed=config.loop.seed)
            summary["video"] = message
    except KeyboardInterrupt:  # a second signal: stopped at once (the checkpoint was still written)
        summary = trainer._summary(0.0, True)
    finally:
        if bar is not None:
            bar.close()
        trainer.close()
        summary.update(exit_code=stop.exit_code or 0, stopped_by=stop.name)
        plot = learning_curve(run.metrics, run.plots / "learning_curve.png", f"{config.env.id} ({config.algo.name})")
        summary["learning_curve"] = str(plot) if plot else None
        write_text_atomic(run.summary, json.dumps(summary, indent=2))
    return summary


def _say_stopping(count: int, signum: int, bar) -> None:
    """The sync trainer's signal handler: the first signal ends training after the step (a
    checkpoint is written), a second stops at once (the checkpoint is still written)."""
    from robot_side.safety.stop_signals import StopNow

    name = signal.Signals(signum).name
    message = (f"{name}: stopping after this step, writing a checkpoint (again to stop at once)" if count == 1
               else f"{name}: stopping at once")
    (bar.write if bar is not None else print)(message, file=sys.stderr)
    if count > 1:
        raise StopNow(name)


def print_summary(summary: dict) -> None:
    lines = [
        "",
        f"run        {summary.get('run_dir')}" + ("   (interrupted: resume with --resume)" if summary.get("interrupted") else ""),
        f"env        {summary.get('env')}   algo {summary.get('algo')}",
        f"steps      {summary.get('steps')}   episodes {summary.get('episodes')}   updates {summary.get('updates')}"
        f"   wall time {summary.get('wall_time_s', 0):.0f} s",
    ]
    if summary.get("best_eval_return") is not None:
        success = summary.get("best_eval_success_rate")
        lines.append(f"best eval  return {summary['best_eval_return']:.2f}"
                     + (f"   success {success:.0%}" if success is not None else ""))
    if summary.get("last_eval_return") is not None:
        success = summary.get("last_eval_success_rate")
        lines.append(f"final eval return {summary['last_eval_return']:.2f}"
                     + (f"   success {success:.0%}" if success is not None else ""))
    lines.append(f"checkpoint {summary.get('checkpoint')}")
    if summary.get("learning_curve"):
        lines.append(f"plot       {summary['learning_curve']}")
    if summary.get("video"):
        lines.append(summary["video"])
    print("\n".join(lines))
