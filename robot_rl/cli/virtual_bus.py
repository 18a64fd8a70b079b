"""``robot-rl virtual-bus``: emulated servos on a pseudo-terminal, until SIGINT, SIGTERM or SIGHUP.

The first line on stdout is the serial port to open (the pty's slave path); everything else
goes to stderr. Exit status 0 after a signal or an injected disconnect.
"""

from __future__ import annotations

import argparse
import math
import sys
import threading

from typing import TYPE_CHECKING

from drivers.emulator import FaultConfig, ServoSpec, VirtualBus
from drivers.emulator.bus import VENDORS
from robot_rl.cli.errors import CommandError
from robot_rl.cli.motors import parse_ids

if TYPE_CHECKING:
    from drivers.calibration import Calibration
    from drivers.emulator.plant import Plant
    from drivers.robot_config import RobotConfig

DEFAULT_MODEL = {"dynamixel": "XM430-W350", "feetech": "STS3215"}
DEFAULT_BAUD = {"dynamixel": 57_600, "feetech": 1_000_000}  # the vendors' factory settings


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "virtual-bus", help="emulate servos on a pseudo-terminal (virtual hardware)",
        description="Emulated Dynamixel or Feetech servos answering on a pseudo-terminal. Prints the "
                    "port path on the first line of stdout and runs until SIGINT or SIGTERM.")
    p.add_argument("--robot", help="serve the servos of this robot config, by name (so101, dclaw) or YAML path "
                                   "(ids, models, baud, calibration); replaces --protocol/--model/--ids/--baud")
    p.add_argument("--plant", choices=("servo", "twin", "hand"), default="servo",
                   help="what moves the shafts: a simple servo model, the robot's MuJoCo twin in real time, or a "
                        "hand (a leader arm: torque off, placed at the pose in --hand-file); twin and hand need --robot")
    p.add_argument("--hand-file", help="for --plant hand: the pose file a scripted operator writes "
                                       "(drivers.emulator.hand_plant.HandPose)")
    p.add_argument("--protocol", choices=sorted(VENDORS))
    p.add_argument("--model", help="servo model (default: XM430-W350 / STS3215)")
    p.add_argument("--ids", type=parse_ids, default=[1], help="servo ids, e.g. 1-9 or 1,2,5-7 (default 1)")
    p.add_argument("--baud", type=int, help="the servos' baud (default: factory, 57600 / 1000000)")
    p.add_argument("--link", help="also make this symlink to the port (removed on exit)")
    p.add_argument("--return-delay-us", type=float, help="return delay of every servo (default: factory)")
    p.add_argument("--wire-timing", action="store_true",
                   help="deliver replies when a real bus would (10 bits per byte at the baud)")
    p.add_argument("--any-baud", action="store_true",
                   help="answer whatever baud the client set (default: only at the servos' baud)")
    p.add_argument("--corrupt-prob", type=float, default=0.0, help="chance a reply has a flipped byte")
    p.add_argument("--drop-prob", type=float, default=0.0, help="chance a reply is not sent")
    p.add_argument("--extra-delay-ms", type=float, default=0.0, help="added to every reply's time")
    p.add_argument("--disconnect-after", type=int, help="close the port after this many requests")
    p.add_argument("--seed", type=int, default=0, help="seed of the fault injection (default 0)")
    p.add_argument("--exit-with", type=int, metavar="PID",
                   help="stop when process PID exits (virtual hardware's emulator, in a session of its own, "
                        "follows the program driving it)")
    p.set_defaults(func=cmd_virtual_bus)


def build_bus(args: argparse.Namespace) -> VirtualBus:
    """The :class:`VirtualBus` the arguments describe (not started)."""
    faults = FaultConfig(corrupt_probability=args.corrupt_prob, drop_probability=args.drop_prob,
                         extra_delay_s=args.extra_delay_ms * 1e-3,
                         disconnect_after_packets=args.disconnect_after, seed=args.seed)
    delay_s = None if args.return_delay_us is None else args.return_delay_us * 1e-6
    if args.robot:
        return build_robot_bus(args, faults, delay_s)
    if args.plant in ("twin", "hand"):
        raise CommandError(f"--plant {args.plant} needs --robot (the {args.plant}'s joints are the robot's)")
    if not args.protocol:
        raise CommandError("give --protocol (or --robot)")
    model = args.model or DEFAULT_MODEL[args.protocol]
    specs = [ServoSpec(id=motor_id, model=model, return_delay_s=delay_s) for motor_id in args.ids]
    return VirtualBus(args.protocol, specs, baud=args.baud or DEFAULT_BAUD[args.protocol], faults=faults,
                      wire_timing=args.wire_timing, check_client_baud=not args.any_baud, link=args.link)


def build_robot_bus(args: argparse.Namespace, faults: FaultConfig, delay_s: float | None) -> VirtualBus:
    """The servos of a robot config, holding its calibration, optionally moved by its twin."""
    from drivers.calibration import load_calibration
    from drivers.robot_config import load_robot_config
    from robot_side.robots import robot_config_path

    config = load_robot_config(robot_config_path(args.robot))
    calibration = load_calibration(config.calibration) if config.calibration else None
    parts = list(config.joints) + list(config.sensors)
    home = {j.name: q for j, q in zip(config.joints, config.home_rad)}
    specs = []
    for part in parts:
        direction = 1
        offset = 0
        if calibration is not None and part.name in calibration.motors:
            direction = calibration.motors[part.name].direction
            offset = calibration.motors[part.name].homing_offset_ticks
        elif hasattr(part, "direction"):
            direction = part.direction
        # Power-on shaft angle: the joint's home pose, before the homing offset is applied.
        present_rad = math.pi + direction * home.get(part.name, 0.0)
        sign = 1 if config.protocol == "dynamixel" else -1
        actual_rad = present_rad - sign * offset * 2 * math.pi / 4096
        specs.append(ServoSpec(id=part.id, model=part.model, initial_position_rad=actual_rad,
                               return_delay_s=delay_s if delay_s is not None else config.return_delay_s))
    plant = None
    if args.plant == "hand":
        plant = _hand_plant(args, config, calibration)
    if args.plant == "twin":
        from sim.twin_plant import TwinPlant

        plant = TwinPlant(config, calibration)
    bus = VirtualBus(config.protocol, specs, baud=config.baud, faults=faults, wire_timing=args.wire_timing,
                     check_client_baud=not args.any_baud, link=args.link, plant=plant)
    if calibration is not None:
        for part in parts:
            if part.name in calibration.motors:
                bus.write_register(part.id, "homing_offset", calibration.motors[part.name].homing_offset_ticks)
    return bus


def _hand_plant(args: argparse.Namespace, config: "RobotConfig", calibration: "Calibration | None") -> "Plant":
    """A leader arm's plant: the joints placed where the pose in ``--hand-file`` says."""
    import numpy as np

    from drivers.emulator.hand_plant import RAD_PER_TICK, HandPlant, HandPose

    if config.sensors:
        raise CommandError(f"--plant hand: robot {config.name} has sensors; a leader arm is joints only")
    if not args.hand_file:
        raise CommandError("--plant hand needs --hand-file (the pose file its operator writes)")
    try:
        hand = HandPose(args.hand_file)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if calibration is not None:
        direction, offset_ticks = calibration.arrays(config.joint_names)
    else:
        direction, offset_ticks = np.ones(len(config.joints)), np.zeros(len(config.joints))
    sign = np.array([VENDORS[config.protocol].models[j.model].homing_offset_sign for j in config.joints])
    try:
        return HandPlant(hand, direction, sign * offset_ticks * RAD_PER_TICK)
    except ValueError as exc:
        raise CommandError(f"--hand-file {args.hand_file}: {exc}") from exc


def cmd_virtual_bus(args: argparse.Namespace) -> int:
    from robot_side.process_watch import ProcessWatch
    from robot_side.safety.stop_signals import StopSignals

    bus = build_bus(args)
    stop = threading.Event()
    owner = ProcessWatch(args.exit_with) if args.exit_with is not None else None
    with StopSignals(on_signal=lambda count, signum: stop.set()), bus:
        print(bus.port, flush=True)
        ids = ",".join(str(s.id) for s in bus.specs)
        print(f"virtual {bus.protocol} bus: {bus.specs[0].model} ids {ids} at {bus.baud} baud on "
              f"{bus.port}" + (f" (link {bus.link})" if bus.link else "") + "; stop with Ctrl-C",
              file=sys.stderr, flush=True)
        while not stop.is_set() and bus.running and not (owner is not None and owner.gone()):
            stop.wait(0.2)
        bus.check()
        if bus.disconnected:
            print(f"virtual bus: port closed after {args.disconnect_after} requests (injected disconnect)",
                  file=sys.stderr)
    return 0
