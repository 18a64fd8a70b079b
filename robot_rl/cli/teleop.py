"""``robot-rl teleop``: the follower follows a leader arm at the control rate, through the safety stack.

The leader (a robot config such as ``so101_leader``) is read in a process of its own; a real
one on its port (``--leader-port``), or a virtual one whose "operator" is scripted (a slow
sweep of every joint) so that the whole path runs without hardware. Prints the loop's timing
report at the end; docs/teleop.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from robot_rl.cli.errors import CommandError
from robot_rl.cli.leader_options import EXIT_LEADER_LOST, add_leader_arguments, follower_and_leader
from robot_rl.cli.motors import finite_float


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "teleop", help="the robot follows a leader arm moved by hand",
        description="Reads the leader arm in a process of its own and sends its pose to the follower every "
                    "period through the safety stack (limits, workspace, watchdog). A lost leader holds the "
                    "follower for --hold-s, then torque off. Ctrl-C stops (torque off).")
    add_leader_arguments(p)
    p.add_argument("--rate-hz", type=finite_float, help="control rate (default: the follower config's)")
    p.add_argument("--seconds", type=finite_float, help="stop after this long (default: until Ctrl-C)")
    p.add_argument("--hold-s", type=finite_float, default=1.0,
                   help="after the leader is lost, hold the follower this long before torque off (default 1)")
    p.set_defaults(func=cmd_teleop)


def cmd_teleop(args: argparse.Namespace) -> int:
    from robot_side.robots import make_robot
    from robot_side.safety.safe_robot import SafeRobot
    from robot_side.safety.stop_signals import StopNow, StopSignals
    from robot_side.safety.workspace_guard import WorkspaceGuard
    from robot_side.teleop.follow import Follower, FollowSettings
    from robot_side.teleop.keyboard import SPACE, KeyboardKeys
    from robot_side.teleop.leader_arm import LeaderError
    from robot_side.teleop.sweep_operator import SweepOperator
    from robot_side.teleop.virtual_leader import open_leader

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))
    config_path, config, leader_config = follower_and_leader(args)
    backend = config.backend
    rate_hz = args.rate_hz or config.control_rate_hz
    spec = config.spec
    if not spec.control_rate_min_hz <= rate_hz <= spec.control_rate_max_hz:
        raise CommandError(f"--rate-hz {rate_hz:g} is outside robot {spec.name}'s range "
                           f"{spec.control_rate_min_hz:g}..{spec.control_rate_max_hz:g} Hz")
    try:
        settings = FollowSettings(rate_hz=rate_hz, hold_s=args.hold_s)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    operator = SweepOperator(leader_config) if leader_config.backend == "virtual" else None
    robot = SafeRobot(make_robot(config, seed=0), 1.0 / rate_hz, config.safety, WorkspaceGuard.from_config(config))
    stop = StopSignals(on_signal=None)
    report = None
    try:
        with stop, KeyboardKeys() as keys, \
                open_leader(leader_config, spec, args.leader_timeout_ms / 1e3) as (leader, virtual), robot:
            say(f"teleop: {spec.name} ({backend}) follows {leader_config.name} "
                f"({'virtual, scripted sweep' if virtual else leader.config.port}) at {rate_hz:g} Hz; "
                f"{'space pauses and resumes, ' if keys.available else ''}Ctrl-C stops (torque off)")
            follower = Follower(robot, leader, settings)
            report = follower.run(
                seconds=args.seconds, should_stop=lambda: f"signal {stop.name}" if stop.requested else None,
                before_step=(lambda t: virtual.move_to(operator.pose(t))) if operator is not None else None,
                paused=lambda: keys.toggled(SPACE))
    except StopNow:
        pass
    except LeaderError as exc:
        raise CommandError(str(exc)) from exc
    if report is None:
        say("teleop: stopped before the follower moved; torque off")
        return stop.exit_code or 0
    summary = {"robot": spec.name, "backend": backend, "leader": leader_config.name, "rate_hz": rate_hz,
               **report.summary()}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(summary, say)
    if report.ended_by.startswith(("leader lost", "follower fault")):
        say(f"teleop: {report.ended_by}; the follower held for {args.hold_s:g} s, then torque off")
        return EXIT_LEADER_LOST
    return stop.exit_code or 0


def print_report(summary: dict, say) -> None:
    period, age, track = summary["period_error_ms"], summary["leader_age_ms"], summary["tracking_error_rad"]

    def f(value, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    say(f"teleop: {summary['steps']} periods in {summary['seconds']:.1f} s, ended by {summary['ended_by']}")
    say(f"  period error       p50 {f(period['p50'], '.2f')} ms   p99 {f(period['p99'], '.2f')} ms   "
        f"max {f(period['max'], '.2f')} ms")
    say(f"  leader pose age    p50 {f(age['p50'], '.1f')} ms   p99 {f(age['p99'], '.1f')} ms   "
        f"({summary['leader_reads']} reads, {summary['failed_leader_reads']} failed)")
    say(f"  engaged after      {f(summary['engaged_after_s'], '.2f')} s; command - leader p50 "
        f"{f(track['p50'], '.3f')} rad, p99 {f(track['p99'], '.3f')} rad (the safety stack's limits)")
