"""``robot-rl inspect policy.onnx``: what an exported policy says about itself.

Needs only onnxruntime (it runs on the robot's computer): prints the metadata, the graph's
input and output, the file's size and sha256. ``--json`` prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("inspect", help="print an exported policy's metadata",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("policy", type=Path, help="an .onnx file written by robot-rl export")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=cmd_inspect)


def describe(path: Path) -> dict[str, Any]:
    """Metadata, graph signature, size and sha256 of an exported policy. Raises DeployError subclasses."""
    from deploy.metadata import file_sha256
    from deploy.runtime.policy import metadata_from_session, open_session

    session = open_session(path)
    metadata = metadata_from_session(session, path)
    signature = {arg.name: {"type": arg.type, "shape": [d if isinstance(d, int) else str(d) for d in arg.shape]}
                 for arg in [*session.get_inputs(), *session.get_outputs()]}
    return {"path": str(path), "bytes": path.stat().st_size, "sha256": file_sha256(path),
            "metadata": metadata.as_dict(), "graph": signature}


def cmd_inspect(args: argparse.Namespace) -> int:
    from deploy.errors import DeployError

    try:
        info = describe(args.policy)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    if args.json:
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    for line in format_description(info):
        print(line)
    return 0


def format_description(info: dict[str, Any]) -> list[str]:
    md = info["metadata"]
    rate = md["control_rate_hz"]
    rows = [
        ("task", md["task_id"]), ("robot", md["robot_id"]), ("algorithm", md["algorithm"]),
        ("control rate", None if rate is None else f"{rate:g} Hz"), ("precision", md["precision"]),
        ("normalisation", "inside the graph (feed raw observations)" if md["normalizes_observations"] else "none"),
        ("checkpoint sha256", md["checkpoint_sha256"]), ("config hash", md["config_hash"]),
        ("exported", f"{md['export_time']} by robot_rl {md['library_version']}"),
    ]
    lines = [f"{info['path']}: {info['bytes']:,} bytes, sha256 {info['sha256']}"]
    lines += [f"  {label:<18} {'unknown' if value is None else value}" for label, value in rows]
    graph = ", ".join(f"{name} {sig['type']} {sig['shape']}" for name, sig in info["graph"].items())
    lines.append(f"  {'graph':<18} {graph}")
    for title in ("observation", "action"):
        spec = md[title]
        lines.append(f"{title} ({spec['size']}):")
        width = max(len(name) for name in spec["names"])
        for i, (name, low, high) in enumerate(zip(spec["names"], spec["low"], spec["high"])):
            lines.append(f"  [{i:>3}] {name:<{width}}  [{_bound(low, -1)}, {_bound(high, 1)}]")
    return lines


def _bound(value: float | None, sign: int) -> str:
    return f"{sign * math.inf}" if value is None else f"{value:.6g}"
