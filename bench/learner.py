"""Learner updates per second: robot_rl SAC/TD3 variants against Stable-Baselines3, in one run.

Setting (the reference one in /work/shared/ANCHORS.md): batch 256, two hidden layers of 256,
observation 17, action 6, twin critics, SAC with automatic temperature, TD3 with policy
delay 2. The "rounds" variants get their updates two at a time (``update_many``), as the
trainer gives them with ``loop.update_every_steps: 2``: two updates run as one compiled graph
(for TD3, each actor update and the critic update after it). Every variant samples each batch
from a 100k-transition buffer of the same random data: ours from our ``ReplayBuffer`` as the
trainer does (``robot_rl.train.replay_batch.sample_batch``), SB3 from its own replay buffer
inside ``model.train(gradient_steps=N, batch_size=256)``.

Each variant runs in a process of its own (a second compiled learner in the same process
would find its graphs in dynamo's cache behind the first one's and pay for the lookup). The
machine may be shared and noisy, so the variants take turns: each round runs every variant
once for ``--updates`` updates, one process at a time, and the table reports the median and
the best round of each. Ratios to SB3 use the medians of the same run. For one thread the CPU time
of the calling thread is recorded as well (it excludes time spent descheduled).

Usage: python bench/learner.py [--threads 1 2] [--rounds 5] [--updates 204] [--no-sb3]
Writes bench/results/learner.json (or --json PATH). SB3 is an optional, benchmark-only
dependency: ``pip install stable-baselines3`` (check that it leaves torch==2.13.0 in place).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from robot_rl.algos import SAC, TD3, SACConfig, TD3Config  # noqa: E402
from robot_rl.replay import ReplayBuffer, ReplayConfig  # noqa: E402
from robot_rl.train.replay_batch import sample_batch  # noqa: E402

OBS_DIM, ACTION_DIM, BATCH, HIDDEN, BUFFER = 17, 6, 256, (256, 256), 100_000
ALIGN = 6  # update counts are multiples of this (see ours)


@dataclass
class Variant:
    """One thing to time: ``run(n)`` performs ``n`` updates."""

    name: str
    algo: str
    run: Callable[[int], None]
    setup_s: float
    rounds: list[float] = field(default_factory=list)
    cpu_rounds: list[float] = field(default_factory=list)


class RandomBuffer:
    """Random transitions in numpy arrays, copied into each learner's replay buffer."""

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.obs = rng.standard_normal((BUFFER, OBS_DIM), dtype=np.float32)
        self.next_obs = rng.standard_normal((BUFFER, OBS_DIM), dtype=np.float32)
        self.action = rng.uniform(-1.0, 1.0, (BUFFER, ACTION_DIM)).astype(np.float32)
        self.reward = rng.standard_normal(BUFFER, dtype=np.float32)
        self.done = (rng.random(BUFFER) < 0.01).astype(np.float32)

    def replay(self) -> ReplayBuffer:
        """Our replay buffer holding these transitions (one-step, gamma 0.99)."""
        replay = ReplayBuffer(ReplayConfig(capacity=BUFFER, gamma=0.99), OBS_DIM, ACTION_DIM, rng=1)
        replay.add_batch(self.obs, self.action, self.reward, self.next_obs, self.done > 0, np.zeros(BUFFER, bool))
        return replay


def ours(name: str, algo: str, buffer: RandomBuffer, per_call: int = 1, **config: object) -> Variant:
    """``per_call`` > 1: updates go to ``update_many`` that many at a time, as the trainer
    gives them with ``loop.update_every_steps: per_call`` (run in rounds, one graph each)."""
    low, high = -np.ones(ACTION_DIM), np.ones(ACTION_DIM)
    if algo == "SAC":
        learner: SAC | TD3 = SAC(OBS_DIM, low, high, SACConfig(hidden_sizes=HIDDEN, batch_size=BATCH, **config))
    else:
        learner = TD3(OBS_DIM, low, high, TD3Config(hidden_sizes=HIDDEN, batch_size=BATCH, **config))
    replay = buffer.replay()

    def run(n: int) -> None:
        if per_call == 1:
            for _ in range(n):
                learner.update(sample_batch(replay, BATCH))
            return
        for start in range(0, n, per_call):
            learner.update_many([sample_batch(replay, BATCH) for _ in range(min(per_call, n - start))])

    # The first calls compile (when asked) and warm up allocator and caches. Every count of
    # updates is a multiple of ALIGN, so each group of per_call starts where a round can: a
    # TD3 round starts at an actor update (a multiple of policy_delay). Misaligned, groups of
    # 2 would run as single updates every time.
    start = time.perf_counter()
    run(ALIGN)
    setup_s = time.perf_counter() - start
    return Variant(name, algo, run, setup_s)


def sb3(algo: str, buffer: RandomBuffer) -> Variant:
    import gymnasium as gym
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3 import TD3 as SB3TD3
    from stable_baselines3.common.logger import configure

    class BoxEnv(gym.Env):
        observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)

    cls = SB3SAC if algo == "SAC" else SB3TD3
    model = cls("MlpPolicy", BoxEnv(), buffer_size=BUFFER, batch_size=BATCH, learning_starts=0, device="cpu",
                policy_kwargs={"net_arch": list(HIDDEN)}, seed=0)
    model.set_logger(configure(None, []))
    replay = model.replay_buffer
    replay.observations[:, 0] = buffer.obs
    replay.next_observations[:, 0] = buffer.next_obs
    replay.actions[:, 0] = buffer.action
    replay.rewards[:, 0] = buffer.reward
    replay.dones[:, 0] = buffer.done
    replay.full = True
    start = time.perf_counter()
    model.train(gradient_steps=5, batch_size=BATCH)
    setup_s = time.perf_counter() - start
    return Variant(f"SB3 {algo}", algo, lambda n: model.train(gradient_steps=n, batch_size=BATCH), setup_s)


# The CrossQ recipe's learner settings (configs/learners/crossq.yaml): its update is the
# joint pass of twice the batch through the critics, the actor every third update.
CROSSQ = {"target_networks": False, "critic_batch_renorm": True, "adam_beta1": 0.5, "actor_update_interval": 3}

VARIANTS: dict[str, Callable[[RandomBuffer], Variant]] = {
    "sac-eager-fp32": lambda b: ours("SAC eager fp32", "SAC", b, compile=False),
    "sac-compiled-fp32": lambda b: ours("SAC compiled fp32", "SAC", b, compile=True),
    "sac-compiled-bf16": lambda b: ours("SAC compiled bf16", "SAC", b, compile=True, precision="bf16"),
    "sac-compiled-bf16-rounds": lambda b: ours("SAC bf16 rounds", "SAC", b, per_call=2, compile=True,
                                               precision="bf16"),
    "crossq-eager-fp32": lambda b: ours("CrossQ eager fp32", "SAC", b, compile=False, **CROSSQ),
    "crossq-compiled-fp32": lambda b: ours("CrossQ compiled fp32", "SAC", b, compile=True, **CROSSQ),
    "droq-compiled-fp32": lambda b: ours("DroQ compiled fp32", "SAC", b, compile=True, critic_dropout=0.01,
                                         critic_layer_norm=True),
    "td3-eager-fp32": lambda b: ours("TD3 eager fp32", "TD3", b, compile=False),
    "td3-compiled-fp32": lambda b: ours("TD3 compiled fp32", "TD3", b, compile=True),
    "td3-compiled-bf16": lambda b: ours("TD3 compiled bf16", "TD3", b, compile=True, precision="bf16"),
    "td3-compiled-bf16-rounds": lambda b: ours("TD3 bf16 rounds", "TD3", b, per_call=2, compile=True,
                                               precision="bf16"),
    "sb3-sac": lambda b: sb3("SAC", b),
    "sb3-td3": lambda b: sb3("TD3", b),
}


def _worker(key: str, threads: int, conn: Connection) -> None:
    """One variant in a process of its own: set up, report, then time ``n`` updates per request."""
    torch.set_num_threads(threads)
    variant = VARIANTS[key](RandomBuffer())
    conn.send((variant.name, variant.algo, variant.setup_s))
    while (n := conn.recv()) is not None:
        wall, cpu = time.perf_counter(), time.thread_time()
        variant.run(n)
        conn.send((n / (time.perf_counter() - wall), n / (time.thread_time() - cpu)))


def measure(threads: int, keys: list[str], rounds: int, updates: int) -> list[Variant]:
    """Each variant in its own process (compiled graphs, dynamo's caches and allocators never
    shared: a second learner in one process would look its graphs up behind the first's),
    set up one after the other, then timed in turns: one process works at a time."""
    context = mp.get_context("spawn")
    workers, variants = [], []
    try:
        for key in keys:
            parent, child = context.Pipe()
            process = context.Process(target=_worker, args=(key, threads, child), daemon=True)
            process.start()
            workers.append((process, parent))
            name, algo, setup_s = parent.recv()
            variants.append(Variant(name, algo, lambda n: None, setup_s))
            print(f"  {name}: ready ({setup_s:.1f} s)", file=sys.stderr, flush=True)
        for _, conn in workers:  # one untimed round: steady state before timing
            conn.send(max(updates // 4 // ALIGN, 1) * ALIGN)
            conn.recv()
        for r in range(rounds):
            for variant, (_, conn) in zip(variants, workers):
                conn.send(updates)
                rate, cpu_rate = conn.recv()
                variant.rounds.append(rate)
                variant.cpu_rounds.append(cpu_rate)
            print(f"  round {r + 1} of {rounds} done", file=sys.stderr, flush=True)
    finally:
        for process, conn in workers:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
    return variants


def summarise(threads: int, variants: list[Variant]) -> list[dict[str, object]]:
    medians = {v.name: statistics.median(v.rounds) for v in variants}
    rows = []
    for v in variants:
        baseline = medians.get(f"SB3 {v.algo}")
        rows.append({
            "variant": v.name,
            "threads": threads,
            "median_updates_per_s": round(medians[v.name], 1),
            "best_updates_per_s": round(max(v.rounds), 1),
            "thread_cpu_updates_per_s": round(statistics.median(v.cpu_rounds), 1) if threads == 1 else None,
            "ratio_to_sb3": round(medians[v.name] / baseline, 2) if baseline else None,
            "setup_s": round(v.setup_s, 1),
            "rounds": [round(r, 1) for r in v.rounds],
        })
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--updates", type=int, default=204, help=f"updates per variant per round (a multiple of {ALIGN})")
    parser.add_argument("--variants", nargs="+", default=[
        "sac-eager-fp32", "sac-compiled-fp32", "sac-compiled-bf16", "sac-compiled-bf16-rounds",
        "td3-eager-fp32", "td3-compiled-fp32", "td3-compiled-bf16", "td3-compiled-bf16-rounds"])
    parser.add_argument("--no-sb3", action="store_true", help="skip Stable-Baselines3")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "learner.json")
    args = parser.parse_args()
    if args.updates < ALIGN or args.updates % ALIGN:
        raise SystemExit(f"--updates must be a positive multiple of {ALIGN}, got {args.updates}")

    unknown = [v for v in args.variants if v not in VARIANTS or v.startswith("sb3-")]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {sorted(k for k in VARIANTS if 'sb3' not in k)}")
    keys = args.variants + ([] if args.no_sb3 else ["sb3-sac", "sb3-td3"])
    rows: list[dict[str, object]] = []
    for threads in args.threads:
        rows += summarise(threads, measure(threads, keys, args.rounds, args.updates))

    header = f"{'variant':<20} {'threads':>7} {'median upd/s':>12} {'best':>7} {'cpu-time':>8} {'x SB3':>6} {'setup s':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        cpu = f"{r['thread_cpu_updates_per_s']:.0f}" if r["thread_cpu_updates_per_s"] else "-"
        ratio = f"{r['ratio_to_sb3']:.2f}" if r["ratio_to_sb3"] else "-"
        print(f"{r['variant']:<20} {r['threads']:>7} {r['median_updates_per_s']:>12.0f} "
              f"{r['best_updates_per_s']:>7.0f} {cpu:>8} {ratio:>6} {r['setup_s']:>7.1f}")

    try:
        import stable_baselines3
        sb3_version = stable_baselines3.__version__
    except ImportError:
        sb3_version = None
    result = {
        "setting": {"obs_dim": OBS_DIM, "action_dim": ACTION_DIM, "batch": BATCH, "hidden": list(HIDDEN),
                    "rounds": args.rounds, "updates_per_round": args.updates},
        "machine": {"cpu": _cpu_model(), "cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "stable_baselines3": sb3_version},
        "results": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
