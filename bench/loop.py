"""Control-loop timing with the learner training beside it, on the machine's first two CPUs.

Four measurements, each on the SO-101 twin paced to the wall clock:

- ``async``: the product itself, ``robot-rl train --set loop.mode=async`` (the real control-loop
  and learner processes: loop pinned to CPU 0 at SCHED_FIFO 80 with 1 ns timer slack, learner
  pinned to CPU 1) at each rate for ``--seconds``, with the default settings (among them
  ``realtime.command_lead_s: auto``: each command leaves at a measured, fixed phase after the
  tick); the loop's figures come from the timing files the run writes, the learner's
  updates/s from its metrics.
- ``async-asap``: the same with ``realtime.command_lead_s: null`` (each command sent as soon as
  the policy is done: lower latency, the jitter of the work before it).
- ``naive``: the usual loop, ``time.sleep(1/hz - elapsed)`` after each step, no pinning, no
  priority, doing the same work per step (policy, env step, transition push), with the same
  learner updating in a second process pinned to CPU 1. Its state-to-command latency is a
  whole period: the state read at the end of a step waits out the sleep before the next
  command answers it.
- ``learner alone``: the same learner (SAC, 2x256, batch 256, one torch thread, pinned to
  CPU 1) sampling and updating with nothing else of ours running; measured before the first
  and after every loop measurement, so that each is compared with the mean of the two alone
  measurements around it (other work on a shared machine drifts).

Period error is ``|time between consecutive command writes - target|``; an overrun is a period
more than 2 ms late (the async mode's default tolerance). The twin runs 100 Hz as 5 physics
steps of 2 ms per period and 500 Hz as 1; the episodes last 10 s so that resets are rare.

    python bench/loop.py [--seconds 120] [--rates 100 500] [--variants async async-asap naive] [--no-naive]

The 10-minute check of the product alone: ``python bench/loop.py --seconds 600 --rates 100 --variants async``.

Prints a table and writes bench/results/loop.json. Other work on the machine shows in the
figures: the load average at start and end is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "robot_rl/SO101Reach-v0"
HIDDEN, BATCH = [256, 256], 256
WARMUP_UPDATES = 20  # torch's first updates are slow (lazy initialisation): not counted
TOLERANCE_S = 0.002
# The learner's update-to-data ratio in the async runs: above what it manages at these rates, so
# that its updates/s is its capacity beside the loop (bench/update_ratio.py varies it).
UPDATES_PER_STEP = 4.0


def train_config(rate_hz: int, seconds: float, run_name: str, command_lead_s: float | str | None = "auto",
                 updates_per_step: float = UPDATES_PER_STEP):
    from robot_rl.train.config import train_config_from_dict

    steps = int(rate_hz * seconds)
    return train_config_from_dict({
        "name": run_name,
        "env": {"id": ENV_ID, "options": {"backend": "sim", "control_rate_hz": rate_hz,
                                          "max_episode_steps": rate_hz * 10}},
        "algo": {"name": "sac", "sac": {"hidden_sizes": HIDDEN, "batch_size": BATCH, "gamma": 0.95}},
        "loop": {"mode": "async", "total_steps": steps, "start_steps": 2 * BATCH, "update_after": 2 * BATCH,
                 "updates_per_step": updates_per_step,
                 "checkpoint_every_steps": max(steps // 4, 1), "log_every_steps": 2 * rate_hz, "threads": 1},
        "replay": {"capacity": max(steps + 1000, 20_000), "flush_interval_steps": 1000, "fsync": True},
        "realtime": {"loop_cpu": 0, "learner_cpu": 1, "realtime_priority": 80, "timer_slack_ns": 1,
                     "overrun_tolerance_s": TOLERANCE_S, "command_lead_s": command_lead_s,
                     "eval_every_episodes": 0},
    }, "bench/loop.py")


# -- the learner alone / beside the naive loop ---------------------------------------------------
def learner_worker(rate_hz: int, ready, stop, out: str) -> None:
    """The async learner's update step (sample, update, publish every 50) from a replay of real
    twin transitions, pinned to CPU 1; writes its updates/s after warm-up to ``out``."""
    import torch

    from robot_rl.realtime.os_tuning import tune_current_process
    from robot_rl.realtime.policy_snapshot import snapshot
    from robot_rl.realtime.weight_board import WeightBoard
    from robot_rl.replay import ReplayBuffer, ReplayConfig
    from robot_rl.train.learners import make_learner
    from robot_rl.train.replay_batch import sample_batch

    config = train_config(rate_hz, 1, "bench")
    tuning = tune_current_process(1, None, None)
    torch.set_num_threads(1)
    obs, actions, rewards, next_obs = twin_transitions(rate_hz, 5000)
    learner = make_learner(config, obs.shape[1], -np.ones(actions.shape[1]), np.ones(actions.shape[1]))
    replay = ReplayBuffer(ReplayConfig(capacity=10_000, gamma=0.95), obs.shape[1], actions.shape[1], rng=0)
    replay.add_batch(obs, actions, rewards, next_obs, np.zeros(len(rewards), bool), np.zeros(len(rewards), bool))
    _, flat = snapshot(learner)
    board = WeightBoard.create(flat.shape[0])

    def update() -> None:
        learner.update(sample_batch(replay, BATCH, learner.device))
        if learner.num_updates % 50 == 0:
            board.publish(snapshot(learner)[1])

    for _ in range(WARMUP_UPDATES):
        update()
    ready.set()
    start, n = time.monotonic(), 0
    while not stop.is_set():
        update()
        n += 1
    elapsed = time.monotonic() - start
    board.close()
    Path(out).write_text(json.dumps({"updates": n, "seconds": elapsed, "updates_per_s": n / elapsed,
                                     "tuning": str(tuning)}))


def twin_transitions(rate_hz: int, n: int) -> tuple[np.ndarray, ...]:
    """``n`` transitions of random actions on the twin (not paced), for the learner's replay."""
    import gymnasium as gym

    import robot_rl  # noqa: F401

    env = gym.make(ENV_ID, control_rate_hz=rate_hz, max_episode_steps=rate_hz * 10)
    rng = np.random.default_rng(0)
    obs_list, act_list, rew_list, next_list = [], [], [], []
    obs, _ = env.reset(seed=0)
    for _ in range(n):
        action = rng.uniform(-1, 1, env.action_space.shape).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        obs_list.append(obs), act_list.append(action), rew_list.append(reward), next_list.append(next_obs)
        obs = next_obs if not (terminated or truncated) else env.reset()[0]
    env.close()
    return (np.array(obs_list, np.float32), np.array(act_list, np.float32), np.array(rew_list, np.float32),
            np.array(next_list, np.float32))


def learner_alone(rate_hz: int, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "learner.json")
        process = ctx.Process(target=learner_worker, args=(rate_hz, ready, stop, out))
        process.start()
        ready.wait(300)
        time.sleep(seconds)
        stop.set()
        process.join(120)
        return json.loads(Path(out).read_text())


# -- the naive loop -------------------------------------------------------------------------------
def naive_loop_worker(rate_hz: int, seconds: float, out: str) -> None:
    """``time.sleep(1/hz - elapsed)`` after each step; the twin is stepped, not paced (the sleep
    paces it). Same per-step work as the async loop: policy, env step, transition push."""
    import gymnasium as gym

    import robot_rl  # noqa: F401
    from robot_rl.realtime.loop_timing import COLUMNS
    from robot_rl.realtime.policy_snapshot import NumpyPolicy, snapshot
    from robot_rl.realtime.transition_ring import TransitionRing
    from robot_rl.train.learners import make_learner

    env = gym.make(ENV_ID, control_rate_hz=rate_hz, max_episode_steps=rate_hz * 10)
    inner = env.unwrapped
    low, high = env.action_space.low, env.action_space.high
    layout, flat = snapshot(make_learner(train_config(rate_hz, 1, "bench"), env.observation_space.shape[0],
                                         low.astype(np.float64), high.astype(np.float64)))
    policy = NumpyPolicy(layout, seed=1)
    policy.load(flat)
    ring = TransitionRing.create(100_000, env.observation_space.shape[0], low.shape[0])
    period_s = 1.0 / rate_hz
    rows = np.full((int(rate_hz * seconds) + 10, len(COLUMNS)), np.nan)
    obs, _ = env.reset(seed=0)
    prev = None
    k, episode, end = 0, 0, time.monotonic() + seconds
    while k < rows.shape[0] and time.monotonic() < end:
        t0 = time.monotonic()
        action = policy(obs).astype(np.float32)
        compute = time.monotonic() - t0
        next_obs, reward, terminated, truncated, _ = env.step(action)
        t = inner.timing
        ring.push(obs, action, reward, next_obs, terminated, truncated, 0, episode)
        if prev is not None:
            period = t.write_start_s - prev[0]
            rows[k] = (period, abs(period - period_s), t.write_end_s - prev[1], compute, t.read_end_s - t.read_start_s,
                       t.write_end_s - t.write_start_s, 0.0, float(period > period_s + TOLERANCE_S), 0.0)
        else:
            rows[k, 2:] = (np.nan, compute, t.read_end_s - t.read_start_s, t.write_end_s - t.write_start_s, 0, 0, 0)
        k += 1
        prev = (t.write_start_s, t.read_end_s)
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
            episode += 1
            prev = None
        elapsed = time.monotonic() - t0
        time.sleep(max(0.0, period_s - elapsed))
    ring.close()
    env.close()
    np.save(out, rows[:k])


def naive_run(rate_hz: int, seconds: float) -> tuple[np.ndarray, dict[str, Any]]:
    ctx = mp.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    with tempfile.TemporaryDirectory() as tmp:
        learner_out, loop_out = str(Path(tmp) / "learner.json"), str(Path(tmp) / "loop.npy")
        learner = ctx.Process(target=learner_worker, args=(rate_hz, ready, stop, learner_out))
        learner.start()
        ready.wait(300)
        loop = ctx.Process(target=naive_loop_worker, args=(rate_hz, seconds, loop_out))
        loop.start()
        loop.join(seconds + 300)
        stop.set()
        learner.join(120)
        return np.load(loop_out), json.loads(Path(learner_out).read_text())


# -- the async mode -------------------------------------------------------------------------------
def async_run(rate_hz: int, seconds: float, command_lead_s: float | str | None,
              updates_per_step: float = UPDATES_PER_STEP) -> tuple[np.ndarray, dict[str, Any], dict[str, Any]]:
    from robot_rl.realtime.loop_timing import load_timing
    from robot_rl.realtime.run import run_async
    from robot_rl.train.metrics import read_metrics
    from robot_rl.train.run_dir import RunDir

    with tempfile.TemporaryDirectory() as tmp:
        run = RunDir(Path(tmp) / "run")
        config = train_config(rate_hz, seconds, f"bench-{rate_hz}hz", command_lead_s, updates_per_step)
        summary = run_async(config, run, source="bench/loop.py")
        rows = load_timing(run.root / "timing")
        rates = [r["learner/updates_per_s"] for r in read_metrics(run.metrics) if "learner/updates_per_s" in r]
    # The first intervals hold the wait for update_after and torch's slow first updates.
    started = [i for i, rate in enumerate(rates) if rate > 0]
    steady = rates[started[0] + 1:] if started else []
    learner = {"updates": summary["updates"], "updates_per_s": statistics.mean(steady) if steady else 0.0,
               "intervals": len(steady)}
    return rows, learner, summary


# -- report ---------------------------------------------------------------------------------------
def loop_figures(rows: np.ndarray, rate_hz: int) -> dict[str, Any]:
    from robot_rl.realtime.timing_report import timing_report

    report = timing_report(rows, 1.0 / rate_hz)
    stats = report["stats_s"]
    return {"steps": report["steps"], "period_error_p50_ms": stats["period_error"]["p50"] * 1e3,
            "period_error_p99_ms": stats["period_error"]["p99"] * 1e3,
            "period_error_p999_ms": stats["period_error"]["p99.9"] * 1e3,
            "period_error_max_ms": stats["period_error"]["max"] * 1e3, "overruns": report["overruns"],
            "overrun_rate": report["overrun_rate"], "latency_p50_ms": stats["latency"]["p50"] * 1e3,
            "latency_p99_ms": stats["latency"]["p99"] * 1e3, "compute_p99_ms": stats["compute"]["p99"] * 1e3,
            "mean_period_ms": report["mean_period_s"] * 1e3}


def print_table(rows: list[dict[str, Any]], alone: list[float]) -> None:
    print(f"{'variant':<11}{'Hz':>5}{'steps':>8}  {'period error (ms)':^32}  {'overruns':>14}  "
          f"{'latency (ms)':^16}  {'learner':>8}{'vs':>6}")
    print(f"{'':<24}  {'p50':>8}{'p99':>8}{'p99.9':>8}{'max':>8}  {'':>14}  {'p50':>8}{'p99':>8}  "
          f"{'upd/s':>8}{'alone':>6}")
    for r in rows:
        overruns = f"{r['overruns']} ({r['overrun_rate']:.2%})"
        print(f"{r['variant']:<11}{r['rate_hz']:>5}{r['steps']:>8}  {r['period_error_p50_ms']:8.3f}"
              f"{r['period_error_p99_ms']:8.3f}{r['period_error_p999_ms']:8.3f}{r['period_error_max_ms']:8.2f}  "
              f"{overruns:>14}  {r['latency_p50_ms']:8.3f}{r['latency_p99_ms']:8.3f}  "
              f"{r['learner_updates_per_s']:8.1f}{r['learner_vs_alone']:6.0%}")
    print(f"learner alone: {', '.join(f'{a:.1f}' for a in alone)} updates/s (before the first measurement and "
          f"after each); 'vs alone' compares with the mean of the two around it")


VARIANTS = {"async": "auto", "async-asap": None, "naive": None}  # name: realtime.command_lead_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="per measurement (default 120)")
    parser.add_argument("--rates", type=int, nargs="+", default=[100, 500], help="control rates, Hz (default 100 500)")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="what to measure at each rate (default all: async async-asap naive)")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive sleep loop")
    parser.add_argument("--json", type=Path, default=RESULTS / "loop.json")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit("bench/loop.py needs two CPUs (loop and learner)")
    load_start = os.getloadavg()
    alone_s = min(args.seconds / 2, 30.0)

    def measure_alone() -> float:
        print(f"learner alone ({alone_s:.0f} s) ...", flush=True)
        return learner_alone(args.rates[0], alone_s)["updates_per_s"]

    alone = [measure_alone()]
    results = []
    for rate in args.rates:
        for variant in args.variants:
            if variant == "naive" and args.no_naive:
                continue
            lead = VARIANTS[variant]
            print(f"{variant} loop at {rate} Hz with the learner ({args.seconds:.0f} s) ...", flush=True)
            if variant == "naive":
                rows, learner = naive_run(rate, args.seconds)
                extra: dict[str, Any] = {}
            else:
                rows, learner, summary = async_run(rate, args.seconds, lead)
                extra = {"command_lead_s": lead, "watchdog_fired": summary["watchdog_fired"],
                         "exit_code": summary["exit_code"]}
            alone.append(measure_alone())
            reference = (alone[-2] + alone[-1]) / 2
            results.append({"variant": variant, "rate_hz": rate, **loop_figures(rows, rate), **extra,
                            "learner_updates_per_s": learner["updates_per_s"],
                            "learner_alone_updates_per_s": reference,
                            "learner_vs_alone": learner["updates_per_s"] / reference})
    print()
    print_table(results, alone)
    out = {"seconds": args.seconds, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                                "load_average_start": load_start, "load_average_end": os.getloadavg()},
           "learner": {"hidden_sizes": HIDDEN, "batch_size": BATCH, "threads": 1},
           "learner_alone_updates_per_s": alone, "rows": results}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
