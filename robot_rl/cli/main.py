"""Entry point of ``robot-rl``: one sub-command per module, each registering its parser.

Command modules import their heavy dependencies (torch, mujoco) inside their handlers so
that ``robot-rl motors ...`` starts fast and works on a robot computer without them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from drivers.errors import DriverError
from robot_rl.cli.errors import CommandError
from robot_rl.errors import TrainingError
from robot_side.errors import RobotSideError

# Each module defines ``register(subparsers)`` which adds its parser(s) with ``func`` set.
COMMAND_MODULES = (
    "robot_rl.cli.motors",
    "robot_rl.cli.virtual_bus",
    "robot_rl.cli.demo",
    "robot_rl.cli.train",
    "robot_rl.cli.export",
    "robot_rl.cli.inspect",
    "robot_rl.cli.deploy",
    "robot_rl.cli.pipeline",
    "robot_rl.cli.timing",
    "robot_rl.cli.sysid",
    "robot_rl.cli.teleop",
    "robot_rl.cli.record_demos",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robot-rl", description="Reinforcement learning on serial-bus servo robots.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # MuJoCo picks its OpenGL backend at import: headless machines render offscreen with EGL.
    os.environ.setdefault("MUJOCO_GL", "egl")
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"robot-rl {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not isinstance(exc, named_errors()):
            raise
        print(f"robot-rl {args.command}: error: {exc}", file=sys.stderr)
        return 2


def named_errors() -> tuple[type[BaseException], ...]:
    """The error types that carry a message a user can act on: one line, exit status 2. The
    layers' own bases, and those of ``sim`` and ``deploy`` where they are installed."""
    errors: list[type[BaseException]] = [DriverError, RobotSideError, TrainingError, CommandError]
    for module, name in (("sim.errors", "SimError"), ("deploy.errors", "DeployError")):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:  # sim needs mujoco (a robot computer may lack it); deploy needs nothing heavy
            continue
    return tuple(errors)


if __name__ == "__main__":
    sys.exit(main())
