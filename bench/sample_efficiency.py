"""Sample efficiency of the learner recipes: evaluation success rate after fixed step budgets,
per recipe (configs/learners/*.yaml: SAC as trained so far, CrossQ, high-UTD DroQ...) and env,
with Stable-Baselines3's SAC as the peer in the same run.

Envs (twin, ``backend: sim``): robot_rl/SO101Reach-v0, robot_rl/DClawTurn-v0 and
robot_rl/DClawTurnRandom-v0, each with its training config (configs/train/*.yaml) as the base.
A run's config is that base with the recipe laid over it: the recipe's ``algo`` section
replaces the base's whole (the base's discount ``gamma`` is kept unless the recipe sets one),
its ``loop`` keys replace the base's one by one. The bench then sets the seed, the step count
and turns the trainer's own evaluation, checkpoints and logging off.

At each budget: ``episodes`` deterministic evaluation episodes (the same function for every
learner, seeded alike), success rate (the env's ``info["success"]`` at an episode's end) and
mean return. Per run: the first budget whose success rate is at least 90 % (so at the budget
grid's resolution, not the exact step; None if none), training seconds (evaluation excluded),
total seconds, and robot time (steps / the env's control rate: what the steps would take on
the real robot). The peer, ``sb3``: ``stable_baselines3.SAC("MlpPolicy", env)`` with SB3's own
defaults (learning_starts 100, buffer 1e6, lr 3e-4, batch 256, ...) except ``gamma``, taken
from the env's base config, and ``device="cpu"`` like ours; its envs are made from the same
base config (same id, same options). SB3 comes from the ``bench`` extra.

Prints a table per env, writes bench/results/sample_efficiency.json (every finished run also
to its .partial.json at once) with the processor it ran on, and a plot beside it (.png).

    python bench/sample_efficiency.py [--envs ID ...] [--recipes sac crossq droq sb3] [--seeds 0 1 2]
        [--budgets-scale 1.0] [--max-steps N] [--eval-episodes 50] [--stop-at-success 0.9] [--jobs N]
        [--json PATH] [--keep EARLIER.json ...] [--quick]

``--budgets-scale 0.25`` shortens every budget (and, below 1, the recipes' warm-up) for a quick
look; ``--quick``: one seed, scale 0.05, 5 evaluation episodes, a smoke run of minutes.
``--max-steps N`` keeps only the budgets up to N steps (the warm-up as the recipe has it).
``--stop-at-success X`` ends a run once two budgets in a row reach X. ``--keep`` takes the runs
an earlier invocation finished (its results or its .partial.json after a crash) and runs only
the rest. ``--jobs N`` runs N (recipe, env, seed) runs at once, one process and one torch
thread each.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import robot_rl  # noqa: F401  (registers the ids)
from bench.bus_stress import processor
from drivers.config import ConfigError, build, load_yaml
from robot_rl.algos.learner_configs import SACConfig, TD3Config
from robot_rl.train.config import LoopConfig, TrainConfig, train_config_from_dict
from robot_rl.train.evaluate import evaluate

RESULTS = Path(__file__).resolve().parent / "results"
RECIPES = ROOT / "configs" / "learners"
PEER = "sb3"
TARGET_SUCCESS = 0.9
EVAL_SEED = 10_000  # evaluation episodes are seeded EVAL_SEED + seed + episode, as the trainer does
# env id: (base training config, default step budgets)
ENVS = {
    "robot_rl/SO101Reach-v0": (ROOT / "configs/train/so101_reach_sac.yaml",
                               (2_500, 5_000, 7_500, 10_000, 12_000, 15_000, 20_000, 40_000)),
    "robot_rl/DClawTurn-v0": (ROOT / "configs/train/dclaw_turn_sac.yaml", (2_500, 5_000, 10_000, 18_000, 36_000)),
    "robot_rl/DClawTurnRandom-v0": (ROOT / "configs/train/dclaw_turn_random_sac.yaml",
                                    (5_000, 10_000, 20_000, 36_000)),
}
CPU_FLAGS = ("avx512f", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")


class BenchError(Exception):
    """A recipe, env or earlier result this bench cannot use."""


# -- configs -------------------------------------------------------------------------------------
def load_recipe(path: Path) -> dict[str, Any]:
    """A recipe file: a partial train config of only ``algo`` and ``loop`` mappings."""
    recipe = load_yaml(path)
    for key, value in recipe.items():
        if key not in ("algo", "loop"):
            raise BenchError(f"{path}: a recipe holds only 'algo' and 'loop', not {key!r}")
        if not isinstance(value, dict):
            raise BenchError(f"{path}: {key!r} must be a mapping, got {type(value).__name__}")
    return recipe


def merge_recipe(base: dict[str, Any], recipe: dict[str, Any]) -> dict[str, Any]:
    """``base`` (a train config as a mapping) with ``recipe`` laid over it: the recipe's ``algo``
    replaces the base's whole, but for the base's ``gamma``, kept unless the recipe sets one;
    the recipe's ``loop`` keys replace the base's. Neither input is changed."""
    merged = copy.deepcopy(base)
    if "algo" in recipe:
        algo = copy.deepcopy(recipe["algo"])
        base_algo = base.get("algo", {})
        gamma = base_algo.get(base_algo.get("name", "sac"), {}).get("gamma")
        section = algo.setdefault(algo.get("name", "sac"), {})
        if gamma is not None and isinstance(section, dict) and "gamma" not in section:
            section["gamma"] = gamma
        merged["algo"] = algo
    merged["loop"] = {**base.get("loop", {}), **copy.deepcopy(recipe.get("loop", {}))}
    return merged


def bench_config(config: dict[str, Any], name: str, budgets: list[int], seed: int,
                 warmup_scale: float) -> dict[str, Any]:
    """``config`` set up for one bench run: ``seed``, trained to the last budget, no evaluation,
    checkpoint or log of the trainer's own before it, the replay kept in memory, the warm-up
    (``start_steps``, ``update_after``) multiplied by ``warmup_scale``."""
    config = copy.deepcopy(config)
    config["name"] = name
    loop = config.setdefault("loop", {})
    never = budgets[-1] * 10
    # One past the last budget: the trainer evaluates by itself at total_steps, which is never reached.
    loop.update(total_steps=budgets[-1] + 1, seed=seed, eval_every_steps=never,
                checkpoint_every_steps=never, log_every_steps=never)
    defaults = LoopConfig()
    for key in ("start_steps", "update_after"):
        loop[key] = round(loop.get(key, getattr(defaults, key)) * warmup_scale)
    replay = config.setdefault("replay", {})
    replay["capacity"] = max(int(replay.get("capacity", 0)), budgets[-1])
    replay["flush_interval_steps"] = replay["segment_steps"] = budgets[-1]
    return config


def scaled_budgets(budgets: tuple[int, ...], scale: float) -> list[int]:
    return sorted({max(1, round(b * scale)) for b in budgets})


def discount(config: TrainConfig, source: str) -> float:
    """The discount of ``config``'s selected learner, its default where the config sets none."""
    cls = {"sac": SACConfig, "td3": TD3Config}[config.algo.name]
    return build(cls, dict(getattr(config.algo, config.algo.name)), source, f"algo.{config.algo.name}").gamma


# -- results of one run --------------------------------------------------------------------------
def first_at(budgets: list[int], successes: list[float], target: float = TARGET_SUCCESS) -> int | None:
    """The first budget whose success rate reaches ``target`` (None if none does)."""
    return next((b for b, s in zip(budgets, successes) if s >= target), None)


def held(successes: list[float], target: float) -> bool:
    """Whether the last two evaluations both reached ``target``."""
    return len(successes) >= 2 and min(successes[-2:]) >= target


@dataclass(frozen=True)
class Job:
    """One (learner, env, seed) run. config: the train config as a mapping (for the peer: the
    env's base config, which gives its envs and gamma)."""

    learner: str
    env_id: str
    seed: int
    budgets: tuple[int, ...]
    config: dict[str, Any]
    episodes: int
    stop_at: float | None


def control_rate_hz(env: Any) -> float | None:
    period_s = getattr(env.unwrapped, "period_s", None)
    return 1.0 / period_s if period_s else None


def train_and_evaluate(job: Job, train_to: Callable[[int], None], act: Callable[[np.ndarray], np.ndarray],
                       eval_env: Any) -> dict[str, Any]:
    """Train (``train_to(step)``) to each budget of ``job`` in turn and evaluate there; a line
    per evaluation on stdout. Returns the run's row of the results."""
    row: dict[str, Any] = {"env": job.env_id, "learner": job.learner, "seed": job.seed,
                           "planned_budgets": list(job.budgets), "budgets": [], "success": [], "returns": []}
    train_s = eval_s = 0.0
    for budget in job.budgets:
        start = time.monotonic()
        train_to(budget)
        trained = time.monotonic()
        result = evaluate(eval_env, act, job.episodes, seed=EVAL_SEED + job.seed)
        train_s, eval_s = train_s + trained - start, eval_s + time.monotonic() - trained
        if result.success_rate is None:
            raise BenchError(f"{job.env_id} reports no info['success']: no success rate to measure")
        row["budgets"].append(budget)
        row["success"].append(result.success_rate)
        row["returns"].append(result.mean_return)
        print(f"[{time.strftime('%H:%M:%S')}] {job.learner:<8} {job.env_id:<28} seed {job.seed}  step {budget:>6}  "
              f"success {result.success_rate:4.2f}  return {result.mean_return:8.2f}  "
              f"(train {train_s:6.0f} s, eval {eval_s:4.0f} s)", flush=True)
        if job.stop_at is not None and held(row["success"], job.stop_at):
            break
    rate = control_rate_hz(eval_env)
    row.update(first_at_target=first_at(row["budgets"], row["success"]), train_s=train_s, eval_s=eval_s,
               steps=row["budgets"][-1], control_rate_hz=rate,
               robot_time_s=row["budgets"][-1] / rate if rate else None,
               stopped_early=len(row["budgets"]) < len(job.budgets))
    return row


def run_ours(job: Job, workdir: Path) -> dict[str, Any]:
    from robot_rl.train.run_dir import RunDir
    from robot_rl.train.sync_trainer import SyncTrainer

    source = f"recipe {job.learner} on {job.env_id}"
    trainer = SyncTrainer(train_config_from_dict(job.config, source), RunDir(workdir / "run"), source=source)
    try:
        row = train_and_evaluate(job, lambda step: trainer.train(stop_at=step),
                                 lambda obs: trainer.learner.act(obs, deterministic=True), trainer.eval_env)
        row["updates"] = trainer.learner.num_updates
    finally:
        trainer.close()
    row["config"] = job.config
    return row


def run_sb3(job: Job) -> dict[str, Any]:
    from stable_baselines3 import SAC

    from robot_rl.train.sync_trainer import make_env

    config = train_config_from_dict(job.config, f"{job.env_id} base config")
    env, eval_env = make_env(config), make_env(config, evaluation=True)
    gamma = discount(config, f"{job.env_id} base config")
    model = SAC("MlpPolicy", env, gamma=gamma, seed=job.seed, device="cpu", verbose=0)

    def train_to(step: int) -> None:
        model.learn(total_timesteps=step - model.num_timesteps, reset_num_timesteps=False)

    try:
        row = train_and_evaluate(job, train_to, lambda obs: model.predict(obs, deterministic=True)[0], eval_env)
    finally:
        env.close()
        eval_env.close()
    row["sb3"] = {"gamma": gamma, "otherwise": "SB3 defaults"}
    return row


def run_job(job: Job) -> dict[str, Any]:
    """One run, in this process or a worker's: one torch thread."""
    import torch

    torch.set_num_threads(1)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sample_efficiency-") as tmp:
        row = run_sb3(job) if job.learner == PEER else run_ours(job, Path(tmp))
    row["wall_s"] = time.monotonic() - start
    return row


# -- planning, resuming --------------------------------------------------------------------------
def plan(envs: list[str], recipes: list[str], seeds: list[int], scale: float, episodes: int,
         stop_at: float | None, max_steps: int | None = None) -> list[Job]:
    """Every run to make, each config checked before any starts (``ConfigError`` names the file).
    ``max_steps``: drop the (scaled) budgets beyond it."""
    jobs = []
    for env_id in envs:
        base_path, budgets = ENVS[env_id]
        base = load_yaml(base_path)
        budgets = tuple(b for b in scaled_budgets(budgets, scale) if max_steps is None or b <= max_steps)
        if not budgets:
            raise BenchError(f"--max-steps {max_steps}: no budget of {env_id} is that small")
        configs = {}
        for recipe in recipes:
            if recipe == PEER:
                configs[recipe] = base
                continue
            configs[recipe] = merge_recipe(base, load_recipe(RECIPES / f"{recipe}.yaml"))
        for seed in seeds:
            for recipe in recipes:
                config = bench_config(configs[recipe], f"bench-{recipe}", list(budgets), seed, min(scale, 1.0))
                train_config_from_dict(config, f"{base_path}" + ("" if recipe == PEER else f" + {recipe}.yaml"))
                jobs.append(Job(recipe, env_id, seed, budgets, config, episodes, stop_at))
    return jobs


def kept_rows(paths: list[Path], settings: dict[str, Any], jobs: list[Job]) -> list[dict[str, Any]]:
    """The runs recorded in ``paths`` (each once, the first found), after checking they were made
    with the same ``settings`` and, per env, the same budgets."""
    budgets = {job.env_id: list(job.budgets) for job in jobs}
    rows: dict[tuple, dict[str, Any]] = {}
    for path in paths:
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise BenchError(f"--keep {path}: cannot read it: {exc}") from exc
        for key, value in settings.items():
            if saved.get(key) != value:
                raise BenchError(f"--keep {path}: its runs were made with {key} {saved.get(key)}, not {value}")
        for row in saved["rows"]:
            if row["env"] in budgets and row["planned_budgets"] != budgets[row["env"]]:
                raise BenchError(f"--keep {path}: its {row['env']} budgets {row['planned_budgets']} are not "
                                 f"this run's {budgets[row['env']]}")
            rows.setdefault((row["env"], row["learner"], row["seed"]), row)
    return list(rows.values())


def machine() -> dict[str, Any]:
    """The processor the figures were measured on, with the instruction sets that matter to them."""
    import torch

    try:
        flags = next((set(line.split(":", 1)[1].split()) for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("flags")), set())
    except OSError:
        flags = set()
    try:
        from stable_baselines3 import __version__ as sb3_version
    except ImportError:
        sb3_version = None
    return {"cpu": processor(), "cpu_flags": {flag: flag in flags for flag in CPU_FLAGS}, "cpus": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "stable_baselines3": sb3_version}


# -- table and plot ------------------------------------------------------------------------------
def curves(rows: list[dict[str, Any]], env_id: str) -> dict[str, tuple[list[int], np.ndarray, np.ndarray, int]]:
    """Per learner on ``env_id``: (budgets, mean, std of the success rate over the seeds that reached
    each budget, the fewest seeds behind a point)."""
    result = {}
    for learner in dict.fromkeys(r["learner"] for r in rows if r["env"] == env_id):
        runs = [r for r in rows if r["env"] == env_id and r["learner"] == learner]
        budgets = [b for b in runs[0]["planned_budgets"] if any(b in r["budgets"] for r in runs)]
        values = [[r["success"][r["budgets"].index(b)] for r in runs if b in r["budgets"]] for b in budgets]
        result[learner] = (budgets, np.array([np.mean(v) for v in values]), np.array([np.std(v) for v in values]),
                           min(len(v) for v in values))
    return result


def print_table(rows: list[dict[str, Any]], episodes: int) -> None:
    for env_id in dict.fromkeys(r["env"] for r in rows):
        budgets = next(r["planned_budgets"] for r in rows if r["env"] == env_id)
        print(f"\n{env_id}: success rate over {episodes} episodes, mean+-std over seeds (* fewer seeds: "
              f"some stopped early); first step at >= {TARGET_SUCCESS:.0%} per seed; seconds and robot time "
              "mean per run")
        print(f"{'learner':<8} " + " ".join(f"{b:>10} " for b in budgets)
              + f"  {f'first {TARGET_SUCCESS:.0%}':<22} {'train s':>8} {'total s':>8} {'robot min':>9}")
        for learner, (done, mean, std, _) in curves(rows, env_id).items():
            runs = sorted((r for r in rows if r["env"] == env_id and r["learner"] == learner), key=lambda r: r["seed"])
            cells = []
            for budget in budgets:
                count = sum(budget in r["budgets"] for r in runs)
                if budget not in done:
                    cells.append(f"{'-':>10} ")
                    continue
                k = done.index(budget)
                cells.append(f"{mean[k]:.2f}+-{std[k]:.2f}" + ("*" if count < len(runs) else " "))
            first = ", ".join(str(r["first_at_target"]) for r in runs)
            robot = [r["robot_time_s"] for r in runs if r["robot_time_s"] is not None]
            print(f"{learner:<8} " + " ".join(f"{c:>11}" for c in cells) + f"  {first:<22} "
                  f"{np.mean([r['train_s'] for r in runs]):>8.0f} {np.mean([r['wall_s'] for r in runs]):>8.0f} "
                  + (f"{np.mean(robot) / 60:>9.1f}" if robot else f"{'-':>9}"))


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(dict.fromkeys(r["env"] for r in rows))
    fig, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 4), squeeze=False)
    for ax, env_id in zip(axes[0], envs):
        for index, (learner, (budgets, mean, std, _)) in enumerate(curves(rows, env_id).items()):
            color = f"C{index}"
            ax.plot(budgets, mean, marker="o", color=color, label=learner)
            ax.fill_between(budgets, np.clip(mean - std, 0, 1), np.clip(mean + std, 0, 1), color=color, alpha=0.2)
        ax.axhline(TARGET_SUCCESS, color="gray", linestyle="--", linewidth=0.8)
        ax.set_title(env_id)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation success rate")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- command line --------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    recipes = sorted(p.stem for p in RECIPES.glob("*.yaml")) + [PEER]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), help=f"of {', '.join(ENVS)} ('robot_rl/' optional)")
    parser.add_argument("--recipes", nargs="+", default=recipes, choices=recipes,
                        help=f"recipe files in {RECIPES.relative_to(ROOT)}, and {PEER} (Stable-Baselines3 SAC)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budgets-scale", type=float, default=1.0, help="multiply every budget (0.25: a quick look)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="keep only the budgets up to this many steps (the recipes' warm-up unchanged)")
    parser.add_argument("--eval-episodes", type=int, default=50)
    parser.add_argument("--stop-at-success", type=float, default=None,
                        help="end a run once two budgets in a row reach this success rate")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each its own process")
    parser.add_argument("--json", type=Path, default=RESULTS / "sample_efficiency.json",
                        help="results file; every finished run also goes to its .partial.json, the plot to its .png")
    parser.add_argument("--keep", type=Path, nargs="+", default=[],
                        help="results (or .partial.json) files of earlier runs: their runs are kept, not run again")
    parser.add_argument("--quick", action="store_true", help="one seed, budgets x 0.05, 5 evaluation episodes")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.budgets_scale, args.eval_episodes = args.seeds[:1], 0.05, 5
    args.envs = [e if e in ENVS else f"robot_rl/{e}" for e in args.envs]
    for env_id in args.envs:
        if env_id not in ENVS:
            parser.error(f"--envs: unknown env {env_id!r}; known: {', '.join(ENVS)}")
    if args.budgets_scale <= 0 or args.eval_episodes < 1 or args.jobs < 1:
        parser.error("--budgets-scale must be positive, --eval-episodes and --jobs at least 1")
    return args


def run_all(jobs: list[Job], workers: int, finished: Callable[[dict[str, Any]], None]) -> None:
    """Run ``jobs``, ``workers`` at a time, handing each row to ``finished`` as it comes."""
    if workers == 1:
        for job in jobs:
            finished(run_job(job))
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(run_job, job) for job in jobs]):
            finished(future.result())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = {"budgets_scale": args.budgets_scale, "eval_episodes": args.eval_episodes,
                "stop_at_success": args.stop_at_success, "max_steps": args.max_steps}
    try:
        jobs = plan(args.envs, args.recipes, args.seeds, args.budgets_scale, args.eval_episodes,
                    args.stop_at_success, args.max_steps)
        rows = kept_rows(args.keep, settings, jobs)
    except (BenchError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    done = {(r["env"], r["learner"], r["seed"]) for r in rows}
    todo = [job for job in jobs if (job.env_id, job.learner, job.seed) not in done]
    result = {**settings, "target_success": TARGET_SUCCESS, "seeds": args.seeds, "machine": machine(), "rows": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    partial = args.json.with_suffix(".partial.json")  # every finished run, so that a crash loses none
    print(f"{len(todo)} runs to make ({len(rows)} kept), {args.jobs} at a time, on {result['machine']['cpu']}",
          flush=True)

    def finished(row: dict[str, Any]) -> None:
        rows.append(row)
        partial.write_text(json.dumps(result, indent=2))

    run_all(todo, args.jobs, finished)
    if not rows:
        return 0
    print_table(rows, args.eval_episodes)
    args.json.write_text(json.dumps(result, indent=2))
    plot(rows, args.json.with_suffix(".png"))
    print(f"\nwrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
