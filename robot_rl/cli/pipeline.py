"""``robot-rl pipeline CONFIG``: the whole job in one command (the README's ``make train``).

1. train on the MuJoCo twin (the config's env, synchronous);
2. export the policy to ONNX (with its parity check);
3. run the exported policy with the on-device runner on virtual hardware (the robot's
   emulated servo bus, moved by the twin, in real time) and on the twin, side by side;
4. print the success rates and where the run directory, plots and model are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("pipeline", help="train on the twin, export, and run the policy on virtual hardware")
    p.add_argument("config", help="training config of a robot_rl task, e.g. configs/train/so101_reach_sac.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a training config value (repeatable)")
    p.add_argument("--run-dir", help="run directory (default runs/<name>-<date>-<time>)")
    p.add_argument("--episodes", type=int, default=10, help="evaluation episodes of the exported policy (default 10)")
    p.set_defaults(func=cmd_pipeline)


def _robot_rl(*args: str) -> dict:
    """Run a robot-rl command in a child process (as a user would) and return its JSON report.
    The child's own error message reaches stderr (it is not captured); a failure names the
    command and its exit code."""
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args, "--json"], stdout=subprocess.PIPE,
                            text=True)
    if result.returncode != 0:
        raise CommandError(f"`robot-rl {' '.join(args)}` failed with exit code {result.returncode} "
                           f"(its message is above)")
    return json.loads(result.stdout)


def export_step(run: Path) -> tuple[Path, dict]:
    """Step 2: export the run's last policy to ``<run>/export/policy.onnx`` with its parity check;
    returns the model's path and the export's report."""
    # The last policy, not the best-evaluated one (checkpoints/best.pt): picked on ten episodes,
    # the best one scored lower on fifty others than the last one did (66 % against 74 %).
    model = run / "export" / "policy.onnx"
    print(f"[2/3] exporting the policy to {model}", file=sys.stderr, flush=True)
    return model, _robot_rl("export", str(run), "--out", str(model))


def cmd_pipeline(args: argparse.Namespace) -> int:
    from robot_rl.train.config import load_train_config

    config = load_train_config(args.config, args.overrides)
    if not config.env.id.startswith("robot_rl/"):
        raise CommandError(f"the pipeline deploys to a robot; {config.env.id} is not a robot_rl task")
    run = Path(args.run_dir or f"runs/{config.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    sets = [f"--set={o}" for o in args.overrides]
    print(f"[1/3] training {config.env.id} on the twin into {run}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "train", args.config, "--run-dir", str(run), *sets],
                   check=False)
    if not (run / "checkpoints" / "latest.pt").exists():
        raise CommandError(f"training left no checkpoint in {run}")
    model, exported = export_step(run)
    robot = exported["metadata"]["robot_id"]
    print(f"[3/3] running the exported policy for {args.episodes} episodes on virtual hardware (emulated "
          f"servo bus, real time) and on the twin", file=sys.stderr, flush=True)
    virtual = _robot_rl("deploy", str(model), "--robot", robot, "--backend", "virtual", "--episodes",
                        str(args.episodes))
    twin = _robot_rl("deploy", str(model), "--robot", robot, "--backend", "sim", "--episodes", str(args.episodes))
    summary = json.loads((run / "summary.json").read_text()) if (run / "summary.json").exists() else {}
    print()
    print(f"task                 {config.env.id} ({config.algo.name}, {summary.get('steps', '?')} steps, "
          f"{summary.get('wall_time_s', 0):.0f} s of training)")
    print(f"virtual hardware     success {virtual['success_rate']:.0%}, mean return {virtual['mean_return']:.2f} "
          f"({virtual['episodes']} episodes through the real drivers on an emulated bus)")
    print(f"twin                 success {twin['success_rate']:.0%}, mean return {twin['mean_return']:.2f}")
    print(f"runner overhead      p99 {virtual['overhead_us_p99']:.0f} us per step (policy p50 "
          f"{virtual['policy_us_p50']:.0f} us), period error p99 {virtual['period_error_ms_p99']:.3f} ms")
    print(f"run directory        {run}")
    print(f"learning curve       {run / 'plots' / 'learning_curve.png'}")
    print(f"model                {model} ({exported['bytes']:,} bytes; parity vs torch "
          f"{exported['parity']['max_abs_error']:.1e})")
    print(f"on the real arm      robot-rl deploy {model} --robot {robot} --port /dev/ttyUSB0")
    (run / "pipeline.json").write_text(json.dumps({"virtual": virtual, "twin": twin, "export": exported}, indent=2))
    return 0
