"""What ``robot-rl sysid fit`` shows: the error table, the parameter table and the plot."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.robot_config import RobotConfig
from robot_rl.sysid.log_rollout import LogRollout
from robot_rl.sysid.twin_fit import FitResult
from robot_side.sysid.log_file import SysidLog
from sim.twin_model import TwinModel
from sim.twin_params import twin_params_of


def print_fit(result: FitResult, config: RobotConfig, say: Callable[[str], None]) -> None:
    """Held-out RMS per joint (start, fitted, ratio), then each parameter with its interval."""
    before, after = result.held_out_rms_rad["start"], result.held_out_rms_rad["fitted"]
    say(f"held-out RMS joint error (mrad), {len([w for w in result.windows if w.held_out])} windows:")
    say(f"  {'joint':<16} {'start':>9} {'fitted':>9} {'ratio':>7}")
    for name in (*config.joint_names, "all"):
        ratio = before[name] / after[name] if after[name] > 0 else float("inf")
        say(f"  {name:<16} {before[name] * 1e3:9.2f} {after[name] * 1e3:9.2f} {ratio:7.1f}x")
    say(f"fit: {result.iterations} iterations, {result.seconds:.0f} s; RMS on the fitted windows "
        f"{result.fit_rms_rad['start'] * 1e3:.2f} -> {result.fit_rms_rad['fitted'] * 1e3:.2f} mrad")
    say(f"  {'parameter':<38} {'start':>10} {'fitted':>10} {'95 % interval':>14}")
    for name, a, b, i, ok in zip(result.names, result.start_values, result.fitted_values, result.interval,
                                 result.identified):
        interval = f"+-{i * 1e3:.1f} ms" if name == "delay_s" else f"+-{np.expm1(i) * 100:.0f} %"
        say(f"  {name:<38} {a:10.4g} {b:10.4g} {interval:>14}{'' if ok else '  not identified by this log'}")


def plot_fit(result: FitResult, log: SysidLog, config: RobotConfig, path: Path) -> Path:
    """One panel per excited joint: its measured angle over its excitation against the start
    twin and the fitted twin (held-out windows shaded). Written as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    windows = result.windows
    joints = sorted({w.joint for w in windows})
    twin = TwinModel(config, params=twin_params_of(config), force_sensors=True)
    sims = [[angles for angles, _ in sim] for sim in LogRollout(twin, log, windows).simulate([result.start,
                                                                                              result.fitted])]
    fig, axes = plt.subplots(len(joints), 1, figsize=(10, 2.2 * len(joints)), squeeze=False)
    for ax, joint in zip(axes[:, 0], joints):
        for w, window in enumerate(windows):
            if window.joint != joint:
                continue
            t = log.read_time_s[window.rows]
            if window.held_out:
                ax.axvspan(t[0], t[-1], color="0.92", zorder=0)
            first = w == min(i for i, x in enumerate(windows) if x.joint == joint)
            ax.plot(t, log.position_rad[window.rows, joint], color="k", lw=1.2, label="measured" if first else None)
            ax.plot(t, sims[0][w][:, joint], color="tab:red", lw=0.9, label="start twin" if first else None)
            ax.plot(t, sims[1][w][:, joint], color="tab:blue", lw=0.9, ls="--", label="fitted twin" if first else None)
        ax.set_ylabel(f"{config.joint_names[joint]}\n(rad)")
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[0, 0].set_title(f"{config.name}: measured and simulated joint angles (held out: shaded)")
    axes[-1, 0].set_xlabel("time (s)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

