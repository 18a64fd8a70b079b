"""Single-observation latency of a policy callable, as the control loop sees it."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def single_call_latency_us(policy: Callable[[np.ndarray], object], obs_dim: int, calls: int = 2000,
                           warmup: int = 200, seed: int = 0) -> dict[str, float]:
    """``{"p50_us", "p99_us", "mean_us"}`` of ``policy(obs)`` for one observation ``(obs_dim,)``.

    Each call gets a different observation from a pool, drawn before timing.
    """
    pool = np.random.default_rng(seed).standard_normal((64, obs_dim)).astype(np.float32)
    for k in range(warmup):
        policy(pool[k % 64])
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for k in range(calls):
        obs = pool[k % 64]
        start = clock()
        policy(obs)
        times[k] = clock() - start
    times /= 1e3
    return {"p50_us": float(np.percentile(times, 50)), "p99_us": float(np.percentile(times, 99)),
            "mean_us": float(times.mean())}
