"""The options every command driving a follower from a leader arm shares (``teleop``,
``record-demos``), and the two robot configs they resolve to."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from robot_rl.cli.errors import CommandError
from robot_rl.cli.motors import finite_float

if TYPE_CHECKING:
    from pathlib import Path

    from drivers.robot_config import RobotConfig

EXIT_LEADER_LOST = 3


def add_leader_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--leader", required=True, help="leader config YAML or name (so101_leader)")
    p.add_argument("--robot", required=True, help="follower robot config YAML or name (so101)")
    p.add_argument("--port", help="the follower's serial port (real robot)")
    p.add_argument("--leader-port", help="the leader's serial port (real leader; default: the leader config's "
                                         "backend, virtual for so101_leader)")
    p.add_argument("--backend", choices=("serial", "virtual"),
                   help="follower: serial (default when a port is known) or virtual (emulated bus, twin plant)")
    p.add_argument("--leader-timeout-ms", type=finite_float, default=250.0,
                   help="a leader pose older than this means the leader is lost (default 250)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def follower_and_leader(args: argparse.Namespace) -> tuple[Path, RobotConfig, RobotConfig]:
    """The follower's config path and config (its backend resolved) and the leader's config.
    Raises ``CommandError`` for a real follower without a port or a leader of backend sim."""
    from drivers.robot_config import load_robot_config
    from robot_side.robots import robot_config_path

    config_path = robot_config_path(args.robot)
    config = load_robot_config(config_path, port=args.port)
    backend = args.backend or ("serial" if config.port else "virtual")
    if backend == "serial" and not config.port:
        raise CommandError(f"{config_path}: no port for the real robot; pass --port /dev/ttyUSB0 (or --backend virtual)")
    config = dataclasses.replace(config, backend=backend)
    leader = load_robot_config(robot_config_path(args.leader), port=args.leader_port)
    if args.leader_port:
        leader = dataclasses.replace(leader, backend="serial")
    if leader.backend == "sim":
        raise CommandError(f"leader {leader.name}: backend sim has no leader; use virtual or serial")
    return config_path, config, leader
