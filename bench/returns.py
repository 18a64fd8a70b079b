"""Sample efficiency: mean deterministic evaluation return after fixed step budgets, robot_rl
SAC against Stable-Baselines3 SAC with the same sizes and hyper-parameters, in the same run.

Envs: Pendulum-v1, InvertedPendulum-v5 and robot_rl/SO101Reach-v0 (twin); 3 seeds each. Both
learners: two 256-unit hidden layers, batch 256, learning rate 3e-4, gamma from the table,
automatic temperature, 1 update per env step after the same random warm-up. Prints a table
(mean and std over seeds per budget), writes bench/results/returns.json and a plot
bench/results/returns.png. SB3 is a benchmark-only dependency (pip install stable-baselines3).

    python bench/returns.py [--envs Pendulum-v1 ...] [--seeds 0 1 2] [--scale 1.0] [--json PATH]
                            [--keep EARLIER.json ...]

``--scale 0.25`` shortens every budget to a quarter for a quick look. ``--keep`` takes the
runs an earlier invocation finished (its results or its ``.partial.json`` after a crash) and
runs only the rest; runs split over several processes are put together the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import robot_rl  # noqa: E402,F401  (registers the ids)
from robot_rl.train.config import train_config_from_dict  # noqa: E402
from robot_rl.train.evaluate import evaluate  # noqa: E402
from robot_rl.train.run_dir import RunDir  # noqa: E402
from robot_rl.train.sync_trainer import SyncTrainer  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# env id: (budgets in env steps, gamma, warm-up steps, eval episodes)
SETTINGS = {
    "Pendulum-v1": ((2_000, 5_000, 10_000), 0.99, 1_000, 5),
    "InvertedPendulum-v5": ((5_000, 10_000, 20_000), 0.99, 1_000, 5),
    "robot_rl/SO101Reach-v0": ((10_000, 20_000, 40_000), 0.95, 2_000, 10),
}


def ours(env_id: str, seed: int, budgets: list[int], gamma: float, warmup: int, episodes: int,
         workdir: Path) -> list[float]:
    """Train once to the last budget, evaluating at each budget (same evaluation as SB3's)."""
    config = train_config_from_dict({
        "name": "bench", "env": {"id": env_id},
        "algo": {"name": "sac", "sac": {"gamma": gamma, "hidden_sizes": [256, 256], "batch_size": 256}},
        "loop": {"total_steps": budgets[-1], "start_steps": warmup, "update_after": warmup,
                 "eval_every_steps": budgets[-1] * 10, "checkpoint_every_steps": budgets[-1] * 10,
                 "log_every_steps": budgets[-1] * 10, "seed": seed},
        "replay": {"capacity": max(budgets[-1], 10_000), "flush_interval_steps": max(budgets[-1], 10_000),
                   "segment_steps": max(budgets[-1], 10_000)}})
    run = RunDir(workdir / f"ours-{env_id.replace('/', '_')}-{seed}")
    results = []
    trainer = SyncTrainer(config, run)
    try:
        for budget in budgets:
            trainer.train(stop_at=budget)
            results.append(evaluate(trainer.eval_env, lambda o: trainer.learner.act(o, deterministic=True),
                                    episodes, seed=10_000 + seed).mean_return)
    finally:
        trainer.close()
    return results


def sb3(env_id: str, seed: int, budgets: list[int], gamma: float, warmup: int, episodes: int) -> list[float]:
    from stable_baselines3 import SAC

    env = gym.make(env_id)
    eval_env = gym.make(env_id)
    model = SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=max(budgets[-1], 10_000), learning_starts=warmup,
                batch_size=256, gamma=gamma, tau=0.005, train_freq=1, gradient_steps=1,
                policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0)
    results, done = [], 0
    for budget in budgets:
        model.learn(total_timesteps=budget - done, reset_num_timesteps=False)
        done = budget
        results.append(evaluate(eval_env, lambda o: model.predict(o, deterministic=True)[0], episodes,
                                seed=10_000 + seed).mean_return)
    env.close()
    eval_env.close()
    return results


def main() -> None:
    import tempfile

    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget (0.25: a quick look)")
    parser.add_argument("--json", type=Path, default=RESULTS / "returns.json",
                        help="results file; every finished run also goes to its .partial.json, the plot to its .png")
    parser.add_argument("--keep", type=Path, nargs="+", default=[],
                        help="results (or .partial.json) files of earlier runs: their runs are kept, not run again")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = kept_rows(args.keep, args.scale)
    done = {(r["env"], r["learner"], r["seed"]) for r in rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    partial = args.json.with_suffix(".partial.json")  # every finished run, so that a crash loses at most one
    with tempfile.TemporaryDirectory() as tmp:
        for env_id in args.envs:
            budgets, gamma, warmup, episodes = SETTINGS[env_id]
            budgets = [max(int(b * args.scale), warmup + 100) for b in budgets]
            for seed in args.seeds:
                for name, run in (("robot_rl", lambda: ours(env_id, seed, budgets, gamma, warmup, episodes, Path(tmp))),
                                  ("SB3", lambda: sb3(env_id, seed, budgets, gamma, warmup, episodes))):
                    if (env_id, name, seed) in done:
                        continue
                    start = time.monotonic()
                    returns = run()
                    rows.append({"env": env_id, "learner": name, "seed": seed, "budgets": budgets,
                                 "returns": returns, "wall_s": time.monotonic() - start})
                    print(f"{env_id:<24} {name:<9} seed {seed}: " + "  ".join(
                        f"{b}: {r:8.1f}" for b, r in zip(budgets, returns)) + f"   ({rows[-1]['wall_s']:.0f} s)",
                        flush=True)
                    partial.write_text(json.dumps({"rows": rows, "seeds": args.seeds, "scale": args.scale}, indent=2))
    table = summarize(rows)
    print(f"\n{'env':<24} {'budget':>7} {'robot_rl':>18} {'SB3':>18}")
    for env_id, budget, mine, theirs in table:
        print(f"{env_id:<24} {budget:>7} {mine[0]:>9.1f} +-{mine[1]:>6.1f} {theirs[0]:>9.1f} +-{theirs[1]:>6.1f}")
    args.json.write_text(json.dumps({"rows": rows, "seeds": args.seeds, "scale": args.scale}, indent=2))
    plot(table, args.json.with_suffix(".png"))
    print(f"\nwrote {args.json} and {args.json.with_suffix('.png')}")


def kept_rows(paths: list[Path], scale: float) -> list[dict]:
    """The runs recorded in ``paths`` (each run once, the first found), after checking they
    were made at the same ``scale``."""
    rows: dict[tuple, dict] = {}
    for path in paths:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"--keep {path}: cannot read it: {exc}") from exc
        if saved.get("scale") != scale:
            raise SystemExit(f"--keep {path}: its runs were made at --scale {saved.get('scale')}, not {scale}")
        for row in saved["rows"]:
            rows.setdefault((row["env"], row["learner"], row["seed"]), row)
    return list(rows.values())


def summarize(rows: list[dict]) -> list[tuple[str, int, tuple[float, float], tuple[float, float]]]:
    table = []
    for env_id in dict.fromkeys(r["env"] for r in rows):
        budgets = next(r["budgets"] for r in rows if r["env"] == env_id)
        for k, budget in enumerate(budgets):
            stats = []
            for learner in ("robot_rl", "SB3"):
                values = [r["returns"][k] for r in rows if r["env"] == env_id and r["learner"] == learner]
                stats.append((float(np.mean(values)), float(np.std(values))))
            table.append((env_id, budget, stats[0], stats[1]))
    return table


def plot(table, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(t[0] for t in table))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        rows = [t for t in table if t[0] == env_id]
        budgets = [t[1] for t in rows]
        for index, (label, color) in enumerate((("robot_rl SAC", "C0"), ("SB3 SAC", "C1"))):
            mean = np.array([t[2 + index][0] for t in rows])
            std = np.array([t[2 + index][1] for t in rows])
            ax.plot(budgets, mean, marker="o", color=color, label=label)
            ax.fill_between(budgets, mean - std, mean + std, color=color, alpha=0.2)
        ax.set_title(env_id)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("mean evaluation return")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main()
