"""Replay buffer benchmark: sampling, adding, flushing to disk and restoring.

Case: 17-dim observations, 6-dim actions, float32 (the issue's example), one int64 extra
column (``weight_version``). Sampling from a full ring of 1,000,000 transitions, batch 256
(and 1024), for n_step 1, 3 and 5. Flush latency is the time of the ``add`` that triggers a
flush (segment written, fsynced, renamed, manifest replaced). Prints a table and writes
bench/results/replay.json.

    python bench/replay.py [--capacity 1000000] [--calls 5000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from robot_rl.replay import ColumnSpec, ReplayBuffer, ReplayConfig

OBS, ACT = 17, 6
RESULTS = Path(__file__).resolve().parent / "results"
EXTRAS = (ColumnSpec("weight_version"),)


def time_calls(call: Callable[[], object], n: int, warmup: int = 200) -> np.ndarray:
    for _ in range(warmup):
        call()
    out = np.empty(n)
    for k in range(n):
        t0 = time.perf_counter()
        call()
        out[k] = time.perf_counter() - t0
    return out


def row(name: str, times_s: np.ndarray, **extra: object) -> dict[str, object]:
    return {"case": name, "calls": len(times_s), "p50_us": float(np.percentile(times_s, 50)) * 1e6,
            "mean_us": float(times_s.mean()) * 1e6, "p99_us": float(np.percentile(times_s, 99)) * 1e6, **extra}


def fill(buffer: ReplayBuffer, count: int, rng: np.random.Generator) -> None:
    chunk = 100_000
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        obs = rng.standard_normal((size, OBS), dtype=np.float32)
        buffer.add_batch(obs, rng.uniform(-1, 1, (size, ACT)), rng.standard_normal(size), obs + 0.01,
                         rng.random(size) < 0.002, rng.random(size) < 0.005,
                         {"weight_version": np.arange(start, start + size) // 1000})


def sampling_rows(capacity: int, calls: int) -> list[dict[str, object]]:
    rows = []
    rng = np.random.default_rng(0)
    for n_step in (1, 3, 5):
        config = ReplayConfig(capacity=capacity, n_step=n_step, extra_columns=EXTRAS)
        buffer = ReplayBuffer(config, OBS, ACT, rng=1)
        fill(buffer, capacity, rng)
        for batch in (256, 1024):
            times = time_calls(lambda: buffer.sample(batch), calls)
            rows.append(row(f"sample n_step={n_step} batch={batch}", times, n_step=n_step, batch=batch,
                            stored=len(buffer)))
        del buffer
    return rows


def adding_rows(calls: int) -> list[dict[str, object]]:
    config = ReplayConfig(capacity=100_000, segment_steps=10_000, extra_columns=EXTRAS)
    buffer = ReplayBuffer(config, OBS, ACT)
    obs, action = np.zeros(OBS, np.float32), np.zeros(ACT, np.float32)
    extras = {"weight_version": 3}
    rows = [row("add (1 transition, in memory)",
                time_calls(lambda: buffer.add(obs, action, 0.5, obs, False, False, extras), calls))]
    rng = np.random.default_rng(2)
    b = 1000
    columns = (rng.standard_normal((b, OBS)), rng.standard_normal((b, ACT)), rng.standard_normal(b),
               rng.standard_normal((b, OBS)), np.zeros(b, bool), np.zeros(b, bool), {"weight_version": np.zeros(b)})
    times = time_calls(lambda: buffer.add_batch(*columns), max(calls // 50, 50), warmup=20)
    rows.append(row("add_batch (1000 transitions, in memory)", times))
    return rows


def flush_rows(flushes: int) -> list[dict[str, object]]:
    rows = []
    obs, action = np.zeros(OBS, np.float32), np.zeros(ACT, np.float32)
    extras = {"weight_version": 3}
    for interval, segment, fsync in ((1_000, 1_000, True), (1_000, 10_000, True), (100, 1_000, True),
                                     (1_000, 1_000, False), (1_000, 10_000, False)):
        config = ReplayConfig(capacity=100_000, flush_interval_steps=interval, segment_steps=segment, fsync=fsync,
                              extra_columns=EXTRAS)
        with tempfile.TemporaryDirectory() as run_dir:
            buffer = ReplayBuffer(config, OBS, ACT, run_dir=run_dir)
            times = []
            for _ in range(flushes):
                for _ in range(interval - 1):
                    buffer.add(obs, action, 0.5, obs, False, False, extras)
                t0 = time.perf_counter()
                buffer.add(obs, action, 0.5, obs, False, False, extras)
                times.append(time.perf_counter() - t0)
            buffer.close()
        label = f"add that flushes (interval {interval}, segment {segment}{'' if fsync else ', no fsync'})"
        rows.append(row(label, np.array(times), flush_interval_steps=interval, segment_steps=segment, fsync=fsync,
                        bytes_written_per_transition_x=segment / (2 * interval) + 0.5))
    return rows


def restore_rows(count: int) -> list[dict[str, object]]:
    config = ReplayConfig(capacity=count, flush_interval_steps=10_000, segment_steps=10_000, extra_columns=EXTRAS)
    with tempfile.TemporaryDirectory() as run_dir:
        with ReplayBuffer(config, OBS, ACT, run_dir=run_dir) as buffer:
            t0 = time.perf_counter()
            fill(buffer, count, np.random.default_rng(3))
            write_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        restored, report = ReplayBuffer.load(run_dir, config, OBS, ACT, persist=False)
        load_s = time.perf_counter() - t0
        assert report.restored == count
    return [row(f"write {count:,} transitions in segments (add_batch + flushes)", np.array([write_s])),
            row(f"load {count:,} transitions", np.array([load_s]))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--capacity", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--flushes", type=int, default=30)
    parser.add_argument("--restore", type=int, default=200_000)
    args = parser.parse_args()
    config = ReplayConfig(capacity=args.capacity, extra_columns=EXTRAS)
    rows = sampling_rows(args.capacity, args.calls) + adding_rows(args.calls) + flush_rows(args.flushes)
    rows += restore_rows(args.restore)

    print(f"\n{config.describe(OBS, ACT)}; numpy {np.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'case':<58} {'calls':>6} {'p50 us':>10} {'mean us':>10} {'p99 us':>10}")
    for r in rows:
        print(f"{r['case']:<58} {r['calls']:>6} {r['p50_us']:>10.1f} {r['mean_us']:>10.1f} {r['p99_us']:>10.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "replay.json"
    out.write_text(json.dumps({"obs_dim": OBS, "action_dim": ACT, "capacity": args.capacity,
                               "memory": config.describe(OBS, ACT), "numpy": np.__version__, "rows": rows}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
