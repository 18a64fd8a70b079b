"""``robot-rl sysid record`` and ``robot-rl sysid fit``: measure the robot, fit its twin.

``record`` drives the robot through a per-joint excitation (chirps and steps inside every
limit, through the safety stack, torque off on every exit) and writes one log file
(``robot_side/sysid/log_file.py``). ``fit`` fits the twin's servo parameters and delay to a
log with ``mujoco.sysid`` (the ``[sysid]`` extra), prints the held-out error before and after
per joint, and writes the fitted parameters (for a robot config's ``twin_params:``) and a
plot. docs/sim2real.md walks through both on a real arm.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import sys
from pathlib import Path

from robot_rl.cli.errors import CommandError
from robot_rl.cli.motors import finite_float


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sysid", help="record an excitation run and fit the twin to it")
    sub = parser.add_subparsers(dest="sysid_command", required=True, metavar="ACTION")
    r = sub.add_parser("record", help="move each joint through chirps and steps and log commands and readings",
                       description="Moves one joint at a time (the others hold home) through a chirp and steps "
                                   "inside its limits, through the safety stack, and logs every period.")
    r.add_argument("--robot", required=True, help="robot config YAML (or a name: so101, dclaw)")
    r.add_argument("--port", help="serial port of the real robot (default: the config's)")
    r.add_argument("--backend", choices=("serial", "virtual", "sim"),
                   help="serial: the real robot (default when a port is known); virtual: emulated bus with the "
                        "twin (or the config's virtual_plant) as plant; sim: the twin")
    r.add_argument("--out", help="log file (.npz; default sysid/<robot>-<UTC time>.npz)")
    r.add_argument("--rate-hz", type=finite_float, default=50.0, help="logging and command rate (default 50)")
    r.add_argument("--joints", help="comma-separated joint names to excite (default: all)")
    r.add_argument("--amplitude-rad", type=finite_float, default=0.5,
                   help="largest excursion from each joint's middle (default 0.5; less where the range is short)")
    r.add_argument("--chirp-s", type=finite_float, default=8.0, help="chirp length per joint (default 8 s)")
    r.add_argument("--step-hold-s", type=finite_float, default=1.0, help="hold of each step (default 1 s)")
    r.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    r.set_defaults(func=cmd_record)

    f = sub.add_parser("fit", help="fit the twin's servo parameters and delay to a recorded log",
                       description="Fits position gain, damping, armature, friction and effort limit per joint, "
                                   "the command delay and a link mass scale, within bounds, with mujoco.sysid.")
    f.add_argument("log", help="log file from `robot-rl sysid record`")
    f.add_argument("--robot", required=True, help="robot config YAML (or a name) whose twin is the start")
    f.add_argument("--out", help="fitted parameters YAML (default: beside the log, <log>_twin.yaml)")
    f.add_argument("--plot", help="measured against simulated plot (default: <log>_fit.png; 'none' for no plot)")
    f.add_argument("--fields", help="comma-separated servo fields to fit (default: all of kp_nm_per_rad, "
                                    "damping_nm_s_per_rad, armature_kg_m2, frictionloss_nm, effort_limit_nm)")
    f.add_argument("--no-delay", action="store_true", help="keep the delay at the start's")
    f.add_argument("--no-link-mass", action="store_true", help="keep the link masses at the start's")
    f.add_argument("--held-out", type=finite_float, default=0.25,
                   help="fraction of each joint's excitation kept from the fit to score it (default 0.25)")
    f.add_argument("--max-iters", type=int, default=40, help="optimiser iterations at most (default 40)")
    f.add_argument("--json", action="store_true", help="print the fit's summary as JSON on stdout")
    f.set_defaults(func=cmd_fit)


def _say(args: argparse.Namespace):
    return (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))


def cmd_record(args: argparse.Namespace) -> int:
    from drivers.robot_config import load_robot_config
    from robot_side.robots import make_robot, robot_config_path
    from robot_side.safety.safe_robot import SafeRobot
    from robot_side.safety.stop_signals import StopNow, StopSignals
    from robot_side.safety.workspace_guard import WorkspaceGuard
    from robot_side.sysid.excitation import ExcitationConfig, plan_excitation
    from robot_side.sysid.recorder import ExcitationRecorder

    say = _say(args)
    config_path = robot_config_path(args.robot)
    config = load_robot_config(config_path, port=args.port)
    backend = args.backend or ("serial" if config.port else config.backend)
    if backend == "serial" and not config.port:
        raise CommandError(f"{config_path}: no port for the real robot; pass --port /dev/ttyUSB0 (or --backend virtual)")
    config = dataclasses.replace(config, backend=backend)
    spec = config.spec
    if not spec.control_rate_min_hz <= args.rate_hz <= spec.control_rate_max_hz:
        raise CommandError(f"--rate-hz {args.rate_hz:g} is outside robot {spec.name}'s range "
                           f"{spec.control_rate_min_hz:g}..{spec.control_rate_max_hz:g} Hz")
    joints = None
    if args.joints:
        names = [n.strip() for n in args.joints.split(",") if n.strip()]
        unknown = [n for n in names if n not in spec.joint_names]
        if unknown:
            raise CommandError(f"--joints: no joint named {unknown[0]!r}; {spec.name}'s joints are "
                               f"{', '.join(spec.joint_names)}")
        joints = [spec.joint_names.index(n) for n in names]
    try:
        excitation = ExcitationConfig(amplitude_rad=args.amplitude_rad, chirp_s=args.chirp_s,
                                      step_hold_s=args.step_hold_s)
        plan = plan_excitation(spec, config.home_rad, args.rate_hz, joints, excitation)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    out = Path(args.out) if args.out else \
        Path("sysid") / f"{spec.name}-{datetime.datetime.now(datetime.timezone.utc):%Y%m%dT%H%M%SZ}.npz"
    robot = SafeRobot(make_robot(config, seed=0), 1.0 / args.rate_hz, config.safety,
                      WorkspaceGuard.from_config(config))
    recorder = ExcitationRecorder(robot, plan, excitation, backend)
    say(f"sysid record: {spec.name} ({backend}) at {args.rate_hz:g} Hz, {len(plan.amplitude_rad.nonzero()[0])} "
        f"joints, {plan.duration_s:.0f} s of motion (plus the move to the start); Ctrl-C stops (torque off)")
    bar = None
    if not args.json:
        from tqdm import tqdm

        bar = tqdm(unit="period", file=sys.stderr, leave=False)
    stop = StopSignals(on_signal=None)
    error: BaseException | None = None
    try:
        with stop:
            with robot:
                recorder.run(should_stop=lambda: stop.name if stop.requested else None,
                             on_progress=_progress(bar) if bar is not None else None)
    except StopNow:
        recorder.meta["stopped_by"] = stop.name
    except BaseException as exc:  # the rows so far are saved below, then the error goes on
        error = exc
    finally:
        if bar is not None:
            bar.close()
    log = recorder.log()
    path = log.save(out) if len(log) else None
    summary = {"log": str(path) if path else None, "rows": len(log), "complete": log.meta["complete"],
               "stopped_by": log.meta["stopped_by"], "robot": spec.name, "backend": backend,
               "rate_hz": args.rate_hz, "seconds": float(log.read_time_s[-1]) if len(log) else 0.0,
               "period_error_ms_p99": log.meta["period_error_ms_p99"]}
    if args.json:
        print(json.dumps(summary, indent=2))
    if error is not None:
        if path:
            say(f"sysid record: stopped by an error after {len(log)} periods; torque off; the rows so far are in {path}")
        raise error
    if path:
        say(f"sysid record: {len(log)} periods ({summary['seconds']:.1f} s{'' if log.meta['complete'] else ', stopped early'}"
            f") in {path}; period error p99 {summary['period_error_ms_p99'] or 0:.2f} ms; torque off")
        say(f"next: robot-rl sysid fit {path} --robot {args.robot}")
    return stop.exit_code or 0


def _progress(bar):
    """``on_progress(k, n)`` for a tqdm bar: ``n`` (the plan plus the move to its start) is known once it runs."""
    def update(k: int, n: int) -> None:
        bar.total = n
        bar.update(k - bar.n)
    return update


def cmd_fit(args: argparse.Namespace) -> int:
    try:
        from mujoco import sysid  # noqa: F401
    except ImportError as exc:
        raise CommandError("the fit needs MuJoCo's system-identification toolbox: pip install 'robot-rl[sysid]' "
                           f"(or 'mujoco[sysid]') ({exc})") from exc
    from drivers.robot_config import load_robot_config
    from robot_rl.sysid.fit_report import plot_fit, print_fit
    from robot_rl.sysid.twin_fit import FitSettings, fit_twin
    from robot_side.robots import robot_config_path
    from robot_side.sysid.log_file import load_log
    from sim.twin_params import save_twin_params

    say = _say(args)
    log = load_log(args.log)
    config = load_robot_config(robot_config_path(args.robot), backend="sim")
    try:
        settings = FitSettings(fields=tuple(s.strip() for s in args.fields.split(",")) if args.fields else
                               FitSettings.fields, fit_delay=not args.no_delay, fit_link_mass=not args.no_link_mass,
                               held_out_fraction=args.held_out, max_iters=args.max_iters)
        result = fit_twin(config, log, settings, say=say, output=None if args.json else sys.stderr)
    except ValueError as exc:
        raise CommandError(f"{args.log}: {exc}") from exc
    stem = Path(args.log).with_suffix("")
    out = Path(args.out) if args.out else stem.with_name(stem.name + "_twin.yaml")
    header = (f"Twin parameters of {config.name} fitted by `robot-rl sysid fit` to {Path(args.log).name}\n"
              f"({datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC). Held-out RMS joint error: "
              f"{result.held_out_rms_rad['start']['all'] * 1e3:.2f} mrad before, "
              f"{result.held_out_rms_rad['fitted']['all'] * 1e3:.2f} mrad after.\n"
              f"Use it: add `twin_params: {out.name}` to the robot config (a path relative to the config).")
    save_twin_params(result.fitted, out, header)
    plot = None if (args.plot or "").lower() == "none" else \
        plot_fit(result, log, config, Path(args.plot) if args.plot else stem.with_name(stem.name + "_fit.png"))
    summary = {**result.summary(), "twin_params": str(out), "plot": str(plot) if plot else None}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_fit(result, config, say)
        say(f"fitted twin parameters in {out}" + (f", plot in {plot}" if plot else ""))
        say(f"use them: add `twin_params: {out.resolve()}` to your robot config (backend sim and virtual use it)")
    return 0
