"""``robot-rl export RUN_DIR_OR_CHECKPOINT --out PATH``: write the deployable policy and check it.

After writing, the export is compared with the torch policy on 10,000 stress observations
(``deploy.export.parity``) and its single-observation latency is measured; both are printed.
A float32 export that fails the check is not left at ``--out``: it is renamed with the suffix
``.rejected`` (kept for inspection), the reason goes to stderr, and the command exits with
status 1. torch is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from robot_rl.cli.errors import CommandError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export a trained policy to ONNX or C and check its parity",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", metavar="RUN_DIR_OR_CHECKPOINT",
                        help="a checkpoint file, or a run directory (uses checkpoints/latest.pt)")
    parser.add_argument("--out", required=True, type=Path,
                        help="the .onnx file to write, or the directory for policy.c/policy.h with --format c")
    parser.add_argument("--format", choices=("onnx", "c"), default="onnx")
    parser.add_argument("--precision", choices=("fp32", "fp16", "int8"), default="fp32",
                        help="ONNX only; reduced precision trades accuracy for size (default fp32)")
    parser.add_argument("--name", default="policy", help="C only: file stem and function prefix (default policy)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--parity-samples", type=int, default=10_000, help="observations for the parity check")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    from deploy.errors import DeployError
    from deploy.export.checkpoint import load_policy_from_checkpoint
    if args.format == "c" and args.precision != "fp32":
        raise CommandError("--precision applies to ONNX exports only; the C export is float32")
    try:
        loaded = load_policy_from_checkpoint(args.source)
        report = _export_onnx(args, loaded) if args.format == "onnx" else _export_c(args, loaded)
    except DeployError as exc:
        raise CommandError(str(exc)) from exc
    report["checkpoint"] = str(loaded.checkpoint_path)
    parity_ok = report["parity"] is None or report["precision"] != "fp32" or report["parity"]["passed"]
    report["parity_ok"] = parity_ok
    if not parity_ok:
        report["rejected"] = [_reject(Path(path)) for path in report.pop("written")]
        report["written"] = []
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _print_report(report)
    if not parity_ok:
        print(f"robot-rl export: error: the export does not match the torch policy: {report['parity_summary']}. "
              f"Not written to {args.out}; kept for inspection as {', '.join(report['rejected'])}",
              file=sys.stderr)
        return 1
    return 0


def _reject(path: Path) -> str:
    """Move a file that failed its check out of the way, to ``<name>.rejected``; returns the new path."""
    rejected = path.with_name(path.name.removesuffix(".unchecked") + ".rejected")
    os.replace(path, rejected)
    return str(rejected)


def _export_onnx(args: argparse.Namespace, loaded: Any) -> dict[str, Any]:
    from deploy.export.latency import single_call_latency_us
    from deploy.export.onnx_export import export_onnx
    from deploy.export.precision import convert_precision
    from deploy.export.verify import onnx_parity
    from deploy.runtime.policy import OnnxPolicy

    out: Path = args.out
    report: dict[str, Any] = {"format": "onnx", "precision": args.precision, "written": [str(out)]}
    if args.precision == "fp32":
        # Written under its final name only once it passed the parity check (cmd_export).
        metadata = export_onnx(loaded.actor, loaded.normalizer, loaded.metadata, unchecked(out), opset=args.opset)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            fp32_path = Path(tmp) / "fp32.onnx"
            export_onnx(loaded.actor, loaded.normalizer, loaded.metadata, fp32_path, opset=args.opset)
            metadata = convert_precision(fp32_path, out, args.precision)
            report["fp32_bytes"] = fp32_path.stat().st_size
            report["fp32_latency"] = single_call_latency_us(OnnxPolicy(fp32_path), metadata.observation.size)
    written = unchecked(out) if args.precision == "fp32" else out
    parity = onnx_parity(loaded.actor, loaded.normalizer, written, n=args.parity_samples)
    report.update(bytes=written.stat().st_size, metadata=metadata.as_dict(), parity=parity.as_dict(),
                  parity_summary=parity.summary(),
                  latency=single_call_latency_us(OnnxPolicy(written), metadata.observation.size))
    if args.precision == "fp32" and parity.passed():
        os.replace(written, out)
    elif args.precision == "fp32":
        report["written"] = [str(written)]
    return report


def unchecked(out: Path) -> Path:
    """Where an export waits for its parity check: beside ``out``, a name no loader takes for it."""
    return out.with_name(out.name + ".unchecked")


def _export_c(args: argparse.Namespace, loaded: Any) -> dict[str, Any]:
    from deploy.errors import CompilerError
    from deploy.export.c_export import export_c
    from deploy.export.verify import c_parity

    result = export_c(loaded.actor, loaded.normalizer, loaded.metadata, args.out, name=args.name)
    report: dict[str, Any] = {
        "format": "c", "precision": "fp32", "written": [str(result.source_path), str(result.header_path)],
        "bytes": result.source_path.stat().st_size, "flash_bytes": result.flash_bytes,
        "ram_bytes": result.ram_bytes, "layer_sizes": list(result.layer_sizes),
        "metadata": result.metadata.as_dict(), "parity": None, "parity_skipped": None}
    try:
        parity = c_parity(loaded.actor, loaded.normalizer, result, n=args.parity_samples)
        report.update(parity=parity.as_dict(), parity_summary=parity.summary())
    except CompilerError as exc:
        report["parity_skipped"] = f"not measured: {exc}"
    return report


def _print_report(report: dict[str, Any]) -> None:
    md = report["metadata"]
    for path in report["written"]:
        print(f"wrote {path}")
    print(f"from {report['checkpoint']} ({md['algorithm']}, sha256 {md['checkpoint_sha256'][:16]}...)")
    sizes = f"{report['format']} {report['precision']}: {report['bytes']:,} bytes"
    if "fp32_bytes" in report:
        sizes += f" ({report['bytes'] / report['fp32_bytes']:.0%} of fp32's {report['fp32_bytes']:,})"
    if report["format"] == "c":
        sizes += (f" of source; flash {report['flash_bytes']:,} bytes (weights), "
                  f"RAM {report['ram_bytes']:,} bytes (scratch); layers {report['layer_sizes']}")
    print(sizes)
    print(f"observation {md['observation']['size']} -> action {md['action']['size']}, normalisation "
          f"{'in the graph' if md['normalizes_observations'] else 'none'}")
    parity = report["parity"]
    if parity is None:
        print(f"parity: {report['parity_skipped']}")
    else:
        regimes = ", ".join(f"{k} {v:.2e}" for k, v in parity["per_regime"].items())
        worst = max(parity["limit_ratio"].values())
        verdict = "" if report["precision"] != "fp32" else (
            f" (ok, {worst:.2g} of the limit)" if report["parity_ok"] else f" (FAILED, {worst:.3g} times the limit)")
        print(f"parity vs torch: max |error| {parity['max_abs_error']:.2e}{verdict} over {parity['samples']:,} "
              f"observations ({regimes})")
    if "latency" in report:
        lat = report["latency"]
        line = (f"latency (1 observation, onnxruntime, 1 thread): p50 {lat['p50_us']:.1f} us, "
                f"p99 {lat['p99_us']:.1f} us")
        if "fp32_latency" in report:
            fp32 = report["fp32_latency"]
            line += f"; fp32: p50 {fp32['p50_us']:.1f} us, p99 {fp32['p99_us']:.1f} us"
        print(line)
