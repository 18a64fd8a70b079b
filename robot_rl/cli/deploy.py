"""``robot-rl deploy policy.onnx --robot CONFIG [--port P] [--episodes N] [--dry-run]``.

Runs an exported policy on the robot with the on-device runner (no torch, no MuJoCo):
checks the policy against the robot config first, then runs episodes at the policy's
control rate with every safety layer on, prints each episode and a timing summary, and
turns torque off on every exit path. Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal
or SSH session) end the episode at the step, turn torque off and exit with 128 + the
signal's number (130, 143, 129); a second one stops at once (torque still off).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("deploy", help="run an exported policy on the robot (no torch needed)")
    p.add_argument("policy", help="exported policy (robot-rl export ... --out policy.onnx)")
    p.add_argument("--robot", required=True, help="robot config YAML (or a name: so101, dclaw)")
    p.add_argument("--port", help="serial port (default: the config's)")
    p.add_argument("--backend", choices=("serial", "virtual", "sim"),
                   help="serial: the real robot (default when a port is known); virtual: emulated bus with the "
                        "twin as plant; sim: the twin directly")
    p.add_argument("--episodes", type=positive_int, default=1, help="episodes to run (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes' goals")
    p.add_argument("--dry-run", action="store_true", help="read and compute, but write nothing to the motors")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_deploy)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_deploy(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import robot_side  # noqa: F401  (registers the ids)
    from deploy.errors import DeployError
    from deploy.runtime.policy import OnnxPolicy
    from deploy.runtime.runner import check_compatibility, run_policy
    from drivers.robot_config import load_robot_config
    from robot_side.robots import robot_config_path
    from robot_side.safety.stop_signals import StopNow, StopSignals

    try:
        policy = OnnxPolicy(args.policy)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    meta = policy.metadata
    if not meta.task_id or not meta.task_id.startswith("robot_rl/"):
        raise CommandError(f"{args.policy} was trained on {meta.task_id!r}, not a robot_rl task; nothing to deploy to")
    config_path = robot_config_path(args.robot)
    config = load_robot_config(config_path, port=args.port)
    backend = args.backend or ("serial" if config.port else config.backend)
    if backend == "serial" and not config.port:
        raise CommandError(f"{config_path}: no port for the real robot; pass --port /dev/ttyUSB0 (or --backend virtual)")
    if meta.robot_id is not None and meta.robot_id != config.name:  # before anything is opened
        raise CommandError(f"the policy does not fit this robot: robot: policy trained on {meta.robot_id!r}, "
                           f"robot config is {config.name!r} ({config_path})")
    try:
        env = gym.make(meta.task_id, robot=str(config_path), backend=backend, port=config.port,
                       read_only=args.dry_run)
    except (ValueError, gym.error.Error) as exc:
        raise CommandError(f"cannot make {meta.task_id} on {config_path}: {exc}") from exc
    inner = env.unwrapped
    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    report = None
    stop = StopSignals(on_signal=None)
    try:
        with stop:
            check_compatibility(meta, inner, config.name)
            say(f"policy {args.policy}: {meta.task_id} on {config.name} at {1 / inner.period_s:g} Hz "
                f"({backend}{', dry run: nothing is written' if args.dry_run else ''})")
            report = run_policy(policy, inner, args.episodes, env.spec.max_episode_steps if env.spec else None,
                                args.seed, stop=stop,
                                on_episode=lambda i, ret, ok, n: say(f"episode {i + 1}: return {ret:.2f} over {n} "
                                                                     f"steps{'  success' if ok else ''}"))
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    except StopNow:
        say(f"{stop.name}: stopped at once")
    finally:
        with StopSignals(on_signal=lambda count, signum: None):  # torque off must not be cut short
            env.close()
    interrupted = stop.requested
    if interrupted:
        say(f"{stop.name}: stopped, torque off")
    summary = report.summary() if report else {}
    summary.update(policy=str(Path(args.policy)), robot=config.name, backend=backend, dry_run=args.dry_run,
                   interrupted=interrupted, stopped_by=stop.name)
    if args.json:
        print(json.dumps(summary, indent=2))
    elif report:
        say(f"success rate {summary['success_rate']:.0%} over {summary['episodes']} episodes, mean return "
            f"{summary['mean_return']:.2f}")
        say(f"runner overhead per step (excluding bus and waiting): p50 {summary['overhead_us_p50']:.0f} us, "
            f"p99 {summary['overhead_us_p99']:.0f} us (policy p50 {summary['policy_us_p50']:.0f} us); "
            f"period error p99 {summary['period_error_ms_p99'] or 0:.3f} ms")
        if report.read_retries or report.stale_reads or report.watchdog_fired:
            say(f"bus: {report.read_retries} state reads retried within their period, {report.stale_reads} periods "
                f"held on the last good state; watchdog fired: {', '.join(report.watchdog_fired) or 'never'}")
    return stop.exit_code or 0
