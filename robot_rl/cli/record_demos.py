"""``robot-rl record-demos``: demonstrations driven with a leader arm, in the replay format.

Each episode the robot follows the leader (through the task's own action, so what is stored
is what was done), and the finished episode joins the output folder's replay, flagged as a
demonstration. ``loop.demos: FOLDER`` in a training config puts them in front of the learner;
docs/human-in-the-loop.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from robot_rl.cli.errors import CommandError
from robot_rl.cli.leader_options import EXIT_LEADER_LOST, add_leader_arguments, follower_and_leader


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "record-demos", help="record demonstrations with a leader arm (for training)",
        description="Runs episodes of a task with the robot following a leader arm, and stores each finished "
                    "episode in the replay format, flagged as a demonstration.")
    add_leader_arguments(p)
    p.add_argument("--task", required=True, help="env id, e.g. robot_rl/SO101Reach-v0")
    p.add_argument("--episodes", type=int, default=10, help="episodes to record (default 10)")
    p.add_argument("--out", help="output folder (default demos/<task>-<UTC time>); must not exist")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes' targets (default 0)")
    p.set_defaults(func=cmd_record_demos)


def cmd_record_demos(args: argparse.Namespace) -> int:
    import gymnasium as gym

    import robot_side  # noqa: F401  (registers the ids)
    from robot_rl.human.demo_recording import record_demonstrations
    from robot_side.safety.stop_signals import StopNow, StopSignals
    from robot_side.teleop.leader_arm import LeaderError
    from robot_side.teleop.reach_operator import ReachOperator
    from robot_side.teleop.virtual_leader import open_leader

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    if args.episodes < 1:
        raise CommandError(f"--episodes must be at least 1, got {args.episodes}")
    config_path, config, leader_config = follower_and_leader(args)
    backend = config.backend
    virtual = leader_config.backend == "virtual"
    task_id = args.task if "/" in args.task else f"robot_rl/{args.task}"
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else Path("demos") / f"{task_id.split('/')[-1]}-{stamp}"
    if out.exists() and any(out.iterdir()):
        raise CommandError(f"--out {out} exists and is not empty; give a new folder (nothing there is touched)")
    try:
        env = gym.make(task_id, robot=str(config_path), backend=backend, port=config.port)
    except (ValueError, gym.error.Error) as exc:
        raise CommandError(f"cannot make {task_id} on {config_path}: {exc}") from exc
    inner = env.unwrapped
    operator = None
    if virtual:
        if inner.task.name != "SO101Reach":
            env.close()
            raise CommandError(f"a virtual leader needs a scripted operator, and there is one for SO101Reach only, "
                               f"not {inner.task.name}; use a real leader (--leader-port)")
        operator = ReachOperator(inner.task, 1.0 / inner.period_s, seed=args.seed)
    meta = {"env_id": task_id, "robot": config.name, "backend": backend, "leader": leader_config.name,
            "leader_backend": "virtual (scripted reach operator)" if virtual else "serial",
            "control_rate_hz": 1.0 / inner.period_s, "seed": args.seed}
    stop = StopSignals(on_signal=None)
    report = None
    try:
        with stop, open_leader(leader_config, config.spec, args.leader_timeout_ms / 1e3) as (leader, virtual_leader):
            say(f"record-demos: {args.episodes} episodes of {task_id} on {config.name} ({backend}) following "
                f"{leader_config.name} ({'virtual, scripted' if virtual else leader.config.port}) into {out}; "
                f"Ctrl-C stops (finished episodes are kept)")
            report = record_demonstrations(
                env, leader, args.episodes, out, meta, seed=args.seed, operator=operator,
                move_hand=virtual_leader.move_to if virtual_leader is not None else None,
                should_stop=lambda: f"signal {stop.name}" if stop.requested else None,
                on_episode=lambda i, ret, ok, n: say(f"episode {i + 1}: return {ret:.2f} over {n} steps"
                                                     f"{'  success' if ok else ''}"))
    except StopNow:
        pass
    except LeaderError as exc:
        raise CommandError(str(exc)) from exc
    finally:
        with StopSignals(on_signal=lambda count, signum: None):  # torque off must not be cut short
            env.close()
    summary = {"out": str(out), "env_id": task_id, **(report.summary() if report else {"episodes": 0})}
    if args.json:
        print(json.dumps(summary, indent=2))
    elif report is not None:
        say(f"record-demos: {report.episodes} episodes ({report.successes} successful, {report.transitions} "
            f"transitions) in {out}; ended by {report.ended_by}; torque off")
        say(f"next: add `loop: {{demos: {out}}}` to a training config (docs/human-in-the-loop.md)")
    if report is not None and report.ended_by.startswith("leader lost"):
        return EXIT_LEADER_LOST
    return stop.exit_code or 0
