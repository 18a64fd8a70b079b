"""``robot-rl motors ...``: bus tools for finding, inspecting and configuring servos.

Every command takes ``--json`` and then prints one JSON document on stdout (and nothing
else there), so scripts can parse it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterable

from drivers.bus import MotorBus
from drivers.bus_factory import PROTOCOLS, bus_class, make_bus
from drivers.errors import BusTimeoutError, ConfigurationError
from drivers.motor import PingResult

DEFAULT_SCAN_BAUDS = {"dynamixel": (57_600, 1_000_000, 115_200, 2_000_000, 3_000_000, 4_000_000, 9_600),
                      "feetech": (1_000_000, 500_000, 115_200, 57_600, 250_000, 128_000, 76_800, 38_400)}
DEFAULT_BAUD = {"dynamixel": 57_600, "feetech": 1_000_000}


def parse_ids(text: str) -> list[int]:
    """``"1,2,5-7"`` -> [1, 2, 5, 6, 7]."""
    ids: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = part.split("-", 1)
                ids.extend(range(int(lo), int(hi) + 1))
            elif part:
                ids.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad id list {text!r}; use e.g. 1,2,5-7") from None
    bad = [i for i in ids if not 0 <= i <= 252]
    if bad:
        raise argparse.ArgumentTypeError(f"ids {bad} are out of range 0..252")
    return ids


def finite_float(text: str) -> float:
    """An argparse type: a finite number (no nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("motors", help="scan, read, write and configure servos on a bus")
    sub = parser.add_subparsers(dest="motors_command", required=True, metavar="ACTION")

    def common(p: argparse.ArgumentParser, protocol_required: bool = True) -> None:
        p.add_argument("--port", required=True, help="serial device or pyserial URL, e.g. /dev/ttyUSB0")
        p.add_argument("--protocol", choices=PROTOCOLS, required=protocol_required)
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.add_argument("--timeout-ms", type=float, default=10.0, help="reply margin per transaction (default 10)")

    p = sub.add_parser("scan", help="find every id answering at each baud")
    common(p, protocol_required=False)
    p.add_argument("--baud", type=int, nargs="+", help="baud rates to try (default: the usual ones)")
    p.add_argument("--ids", type=parse_ids, default=list(range(0, 253)), help="ids to ping (default 0-252)")
    p.set_defaults(func=cmd_scan)

    for name, helptext in (("read", "read a register"), ("write", "write a register")):
        p = sub.add_parser(name, help=helptext)
        common(p)
        p.add_argument("--baud", type=int)
        p.add_argument("--ids", type=parse_ids, required=True, help="e.g. 1,2,5-7")
        p.add_argument("--register", required=True, help="register name, e.g. present_position")
        p.add_argument("--model", help="servo model (default: asked from each motor)")
        p.add_argument("--raw", action="store_true", help="raw integers instead of SI units")
        if name == "write":
            p.add_argument("--value", type=finite_float, required=True,
                           help="value in the register's SI unit (or raw)")
        p.set_defaults(func=cmd_read if name == "read" else cmd_write)

    p = sub.add_parser("set-id", help="change a motor's id")
    common(p)
    p.add_argument("--baud", type=int)
    p.add_argument("--id", type=int, required=True)
    p.add_argument("--new-id", type=int, required=True)
    p.set_defaults(func=cmd_set_id)

    p = sub.add_parser("set-baud", help="change the baud rate of motors")
    common(p)
    p.add_argument("--baud", type=int, help="the motors' present baud")
    p.add_argument("--ids", type=parse_ids, required=True)
    p.add_argument("--new-baud", type=int, required=True)
    p.set_defaults(func=cmd_set_baud)

    p = sub.add_parser("torque", help="turn torque on or off")
    p.add_argument("state", choices=("on", "off"))
    common(p)
    p.add_argument("--baud", type=int)
    p.add_argument("--ids", type=parse_ids, required=True)
    p.set_defaults(func=cmd_torque)

    p = sub.add_parser("calibrate", help="interactive calibration of a robot's joints")
    p.add_argument("--robot", required=True, help="robot config: a name (so101, dclaw) or a YAML path")
    p.add_argument("--port", help="serial port (default: the config's)")
    p.add_argument("--out", help="calibration file to write (default: the config's)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_calibrate)


# -- helpers ---------------------------------------------------------------------------------
def _open_bus(args: argparse.Namespace, baud: int | None = None) -> MotorBus:
    baud = baud or getattr(args, "baud", None) or DEFAULT_BAUD[args.protocol]
    return make_bus(args.protocol, args.port, baud=baud, timeout_margin_s=args.timeout_ms / 1e3).open()


def _emit(args: argparse.Namespace, payload: object, lines: Iterable[str]) -> None:
    if args.json:
        json.dump(payload, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in lines:
            print(line)


def _model_of(bus: MotorBus, motor_id: int, model: str | None) -> str:
    if model:
        bus.table(model)
        return model
    try:
        result = bus.ping(motor_id)
    except BusTimeoutError as exc:
        raise ConfigurationError(f"motor {motor_id} does not answer at {bus.transport.baud} baud") from exc
    if result.model is None:
        raise ConfigurationError(f"motor {motor_id} has model number {result.model_number}, which is not in "
                                 f"the {bus.name} tables; pass --model")
    return result.model


# -- commands --------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    protocols = [args.protocol] if args.protocol else list(PROTOCOLS)
    found: list[tuple[str, PingResult]] = []
    for protocol in protocols:
        bauds = args.baud or DEFAULT_SCAN_BAUDS[protocol]
        bus = bus_class(protocol)(args.port, baud=bauds[0], retries=0, timeout_margin_s=args.timeout_ms / 1e3)
        with bus:
            for baud in bauds:
                bus.transport.set_baud(baud)
                if not args.json:
                    print(f"scanning {protocol} at {baud} baud, ids {args.ids[0]}-{args.ids[-1]} ...",
                          file=sys.stderr, flush=True)
                found += [(protocol, r) for r in bus.scan(args.ids)]
    rows = [{**r.as_dict(), "protocol": p} for p, r in found]
    lines = [f"{'protocol':<10} {'baud':>8} {'id':>4} {'model':<12} {'model#':>7} firmware"]
    lines += [f"{row['protocol']:<10} {row['baud']:>8} {row['id']:>4} {row['model']:<12} "
              f"{row['model_number']:>7} {row['firmware']}" for row in rows]
    if not rows:
        lines = ["no motors found (check power, wiring, --protocol and --baud)"]
    _emit(args, rows, lines)
    return 0 if rows else 1


def cmd_read(args: argparse.Namespace) -> int:
    rows = []
    with _open_bus(args) as bus:
        for motor_id in args.ids:
            model = _model_of(bus, motor_id, args.model)
            reg = bus.table(model)[args.register]
            raw = bus.read_register_one(motor_id, model, args.register)
            rows.append({"id": motor_id, "model": model, "register": reg.name, "raw": raw,
                         "value": float(reg.to_si(raw)), "unit": reg.unit})
    _emit(args, rows, [f"id {r['id']:>3} {r['model']:<11} {r['register']} = {r['raw']}"
                       + ("" if args.raw or not r["unit"] else f"  ({r['value']:.6g} {r['unit']})") for r in rows])
    return 0


def raw_value(args: argparse.Namespace, model: str) -> int:
    """``--value`` as the raw integer of ``--register`` on ``model``, range checked (ConfigurationError)."""
    reg = bus_class(args.protocol).models[model][args.register]
    raw = int(round(args.value)) if args.raw else int(reg.from_si(args.value))
    return reg.check_raw(raw)


def check_value_before_sending(args: argparse.Namespace) -> None:
    """Refuse ``--value`` before a byte is sent when no model could take it: the given
    ``--model``'s register, else the register of every model of the protocol that has it."""
    models = bus_class(args.protocol).models
    if args.model:
        if args.model not in models:
            raise ConfigurationError(f"unknown {args.protocol} model {args.model!r}; known: {', '.join(sorted(models))}")
        candidates = [args.model]
    else:
        candidates = [m for m, table in models.items() if args.register in table]
        if not candidates:  # the table's own error names the register and suggests the closest
            next(iter(models.values()))[args.register]
    errors = []
    for model in candidates:
        try:
            raw_value(args, model)
            return
        except ConfigurationError as exc:
            errors.append(f"{model}: {exc}")
    raise ConfigurationError(f"--value {args.value:g} fits register {args.register} of no "
                             f"{'such' if args.model else args.protocol} model ({'; '.join(errors[:3])}"
                             f"{'; ...' if len(errors) > 3 else ''}); nothing was sent")


def cmd_write(args: argparse.Namespace) -> int:
    check_value_before_sending(args)
    rows = []
    with _open_bus(args) as bus:
        for motor_id in args.ids:
            model = _model_of(bus, motor_id, args.model)
            raw = raw_value(args, model)
            bus.write_register_one(motor_id, model, args.register, raw)
            rows.append({"id": motor_id, "model": model, "register": args.register, "raw": raw})
    _emit(args, rows, [f"id {r['id']:>3} {r['register']} <- {r['raw']}" for r in rows])
    return 0


def cmd_set_id(args: argparse.Namespace) -> int:
    with _open_bus(args) as bus:
        model = _model_of(bus, args.id, None)
        try:
            bus.ping(args.new_id)
        except BusTimeoutError:
            pass
        else:
            raise ConfigurationError(f"id {args.new_id} is already taken on this bus")
        bus.write_register_one(args.id, model, "id", args.new_id)
        time.sleep(0.05)
        result = bus.ping(args.new_id)
    _emit(args, {"old_id": args.id, "new_id": args.new_id, "model": result.model},
          [f"motor {args.id} ({result.model}) is now id {args.new_id}"])
    return 0


def cmd_set_baud(args: argparse.Namespace) -> int:
    rows = []
    with _open_bus(args) as bus:
        for motor_id in args.ids:
            model = _model_of(bus, motor_id, None)
            value = bus.table(model).baud_value(args.new_baud)
            bus.write_register_one(motor_id, model, "baud_rate", value)
            rows.append({"id": motor_id, "model": model, "baud": args.new_baud})
        time.sleep(0.05)
        bus.transport.set_baud(args.new_baud)
        for row in rows:
            bus.ping(row["id"])
    _emit(args, rows, [f"motor {r['id']} ({r['model']}) now runs at {r['baud']} baud" for r in rows])
    return 0


def cmd_torque(args: argparse.Namespace) -> int:
    value = 1 if args.state == "on" else 0
    with _open_bus(args) as bus:
        for motor_id in args.ids:
            bus.write_register_one(motor_id, _model_of(bus, motor_id, None), "torque_enable", value)
    _emit(args, {"ids": args.ids, "torque": args.state}, [f"torque {args.state}: ids {args.ids}"])
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from robot_rl.cli.calibrate import run_calibration

    return run_calibration(args)
