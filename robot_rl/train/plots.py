"""The learning-curve PNG written at the end of a run (from ``metrics.jsonl``)."""

from __future__ import annotations

from pathlib import Path

from robot_rl.train.metrics import read_metrics


def learning_curve(metrics_path: Path, out_path: Path, title: str) -> Path | None:
    """Training episode returns and evaluation returns (and success rate) against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    train = [(r["step"], r["train/episode_return"]) for r in rows if "train/episode_return" in r]
    evals = [(r["step"], r["eval/mean_return"], r.get("eval/std_return", 0.0)) for r in rows if "eval/mean_return" in r]
    success = [(r["step"], r["eval/success_rate"]) for r in rows if "eval/success_rate" in r]
    if not train and not evals:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    if train:
        ax.plot(*zip(*train), color="0.7", lw=0.8, label="training episodes")
    if evals:
        steps, means, stds = zip(*evals)
        ax.errorbar(steps, means, yerr=stds, color="C0", marker="o", ms=3, capsize=2, label="evaluation (deterministic)")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if success:
        twin = ax.twinx()
        twin.plot(*zip(*success), color="C2", ls="--", label="eval success rate")
        twin.set_ylim(-0.05, 1.05)
        twin.set_ylabel("success rate")
        twin.legend(loc="lower right")
    ax.legend(loc="upper left")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path
