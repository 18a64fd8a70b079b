"""The control loop's timing report (``robot-rl timing``): percentiles, overruns, the latency
budget and a histogram, computed from the per-step rows of
:mod:`robot_rl.realtime.loop_timing`.

The budget splits the period into where the time went, as means over the measured steps:
``read`` (the state read), ``compute`` (weight pick-up and policy), ``write`` (the command
write), ``other`` (observation, reward, ring push and bookkeeping between the read and the
write, and the wait for ``realtime.command_lead_s`` if set) and ``sleep`` (waiting for the
next tick, lateness included; on the twin this also holds the physics stepping). Since
``period = write + sleep + read + (latency - write)`` step by step,
``sleep = period - read - latency`` on average.

``tick_to_command`` is the time from the wake-up (the start of the state read) to the start of
the command write: without a command lead (``realtime.command_lead_s: null``) it is the work a
lead must cover, and the report suggests a lead of 1.25 times its p99.9, rounded up to 0.1 ms.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from robot_rl.errors import TrainingError
from robot_rl.realtime.loop_timing import COLUMNS

PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p99.9", 99.9))
REPORTED = ("period_error", "latency", "compute", "read", "write", "late")
LEAD_MARGIN = 1.25


class TimingReportError(TrainingError):
    """A run has no usable timing data; the message says why."""


def column(rows: np.ndarray, name: str) -> np.ndarray:
    return rows[:, COLUMNS.index(name)]


def percentiles(values: np.ndarray) -> dict[str, float]:
    """p50/p90/p99/p99.9/max/mean of the finite ``values`` (seconds); NaN when there are none."""
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {name: float("nan") for name in ("p50", "p90", "p99", "p99.9", "max", "mean")}
    out = {name: float(np.percentile(values, q)) for name, q in PERCENTILES}
    out["max"] = float(values.max())
    out["mean"] = float(values.mean())
    return out


def timing_report(rows: np.ndarray, target_period_s: float) -> dict[str, Any]:
    """The report of ``rows`` (n, len(COLUMNS)) against ``target_period_s``; all times in s.

    ``period_error`` is recomputed as ``|period - target|`` so that it matches the target
    reported. Raises :class:`TimingReportError` when no step has a measured period.
    """
    if not target_period_s > 0:
        raise TimingReportError(f"target period must be positive, got {target_period_s}")
    period = column(rows, "period")
    measured = np.isfinite(period)
    if not measured.any():
        raise TimingReportError(f"none of the {rows.shape[0]} recorded steps has a measured period "
                                f"(each episode's first step has none)")
    error = np.abs(period - target_period_s)
    stats = {"period": percentiles(period), "period_error": percentiles(error)}
    for name in REPORTED[1:]:
        stats[name] = percentiles(column(rows, name)[measured] if name == "latency" else column(rows, name))
    # latency = (read end -> write start) + write of the next step; read of the previous one.
    read_before = np.concatenate([[np.nan], column(rows, "read")[:-1]])
    tick_to_command = read_before + column(rows, "latency") - column(rows, "write")
    stats["tick_to_command"] = percentiles(tick_to_command[measured])
    p999 = stats["tick_to_command"]["p99.9"]
    suggested = float(np.ceil(p999 * LEAD_MARGIN * 1e4) / 1e4) if np.isfinite(p999) else None
    overrun = column(rows, "overrun") > 0
    mean_period = float(period[measured].mean())
    mean_read = float(column(rows, "read")[measured].mean())
    mean_compute = float(column(rows, "compute")[measured].mean())
    mean_write = float(column(rows, "write")[measured].mean())
    mean_latency = float(column(rows, "latency")[measured].mean())
    parts = {"read": mean_read, "compute": mean_compute, "write": mean_write,
             "other": max(mean_latency - mean_compute - mean_write, 0.0),
             "sleep": max(mean_period - mean_read - mean_latency, 0.0)}
    versions = column(rows, "weight_version")
    return {
        "steps": int(rows.shape[0]),
        "measured_periods": int(measured.sum()),
        "target_period_s": float(target_period_s),
        "control_rate_hz": 1.0 / target_period_s,
        "mean_period_s": mean_period,
        "stats_s": stats,
        "overruns": int(overrun.sum()),
        "overrun_rate": float(overrun.sum() / rows.shape[0]),
        "budget": {name: {"mean_s": value, "share": value / target_period_s} for name, value in parts.items()},
        "weight_versions": [int(versions.min()), int(versions.max())],
        "suggested_command_lead_s": suggested,
    }


def configured_command_lead(run_dir: Path) -> float | str | None:
    """The run's ``realtime.command_lead_s``: seconds, ``"auto"``, or None (unset or unknown)."""
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
        lead = (config.get("realtime") or {}).get("command_lead_s")
        return lead if lead in (None, "auto") else float(lead)
    except (OSError, yaml.YAMLError, TypeError, ValueError, AttributeError):
        return None


def target_period_from_config(run_dir: Path) -> tuple[float, str] | None:
    """The control period the run asked for, from its ``config.yaml``: the env's
    ``control_rate_hz`` option, else the robot config's ``control_rate_hz``. None if neither
    can be found (another env, no config)."""
    path = run_dir / "config.yaml"
    if not path.exists():
        return None
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError:
        return None
    env = config.get("env") or {}
    options = env.get("options") or {}
    if options.get("control_rate_hz"):
        return 1.0 / float(options["control_rate_hz"]), "config.yaml env.options.control_rate_hz"
    robot = options.get("robot") or _registered_robot(str(env.get("id", "")))
    if robot is None:
        return None
    from robot_side.robots import robot_config_path

    robot_path = robot_config_path(str(robot))
    try:
        robot_config = yaml.safe_load(robot_path.read_text()) or {}
        rate = float(robot_config["robot"]["control_rate_hz"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        return None
    return 1.0 / rate, f"robot config {robot_path.name} control_rate_hz"


def _registered_robot(env_id: str) -> str | None:
    try:
        import gymnasium as gym

        import robot_rl  # noqa: F401  (registers the ids)
    except ImportError:
        return None
    spec = gym.registry.get(env_id)
    return None if spec is None else (spec.kwargs or {}).get("robot")


def plot_timing(rows: np.ndarray, target_period_s: float, out_path: Path, title: str) -> Path:
    """Histograms of the period error and the state-to-command latency (us, log-scale counts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    period = column(rows, "period")
    measured = np.isfinite(period)
    error_us = np.abs(period[measured] - target_period_s) * 1e6
    latency_us = column(rows, "latency")[measured] * 1e6
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for ax, values, label, color in ((axes[0], error_us, "period error |actual - target| (us)", "C0"),
                                     (axes[1], latency_us, "state-to-command latency (us)", "C1")):
        values = values[np.isfinite(values)]
        if values.size:
            ax.hist(values, bins=100, color=color, log=True)
            for q, style in ((50, ":"), (99, "--")):
                ax.axvline(np.percentile(values, q), color="k", ls=style, lw=0.8, label=f"p{q}")
            ax.legend()
        ax.set_xlabel(label)
        ax.set_ylabel("steps (log scale)")
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path
