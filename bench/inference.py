"""Single-observation policy latency: the deterministic SAC policy 17-256-256-6 with its
observation normaliser, as the control loop calls it, on every backend we deploy or compare.

Python-side rows time each call with ``perf_counter_ns`` (10,000 calls after 1,000 warm-up
calls, each on a fresh observation from a pool). The C export is timed twice: through ctypes
from Python (what a Python runner would pay) and inside C (``bench/c_policy_timing.c``:
100,000 calls each timed with ``clock_gettime``, plus one timed loop), so the Python call
overhead is separated from the arithmetic. Prints a table and writes
bench/results/inference.json.

    python bench/inference.py [--calls 10000] [--c-calls 100000]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from deploy.export import CPolicy, compile_c, export_c, export_onnx
from deploy.export.c_export import STRICT_FLAGS, find_compiler, host_flags
from deploy.export.mlp_params import extract_mlp_params
from deploy.export.torch_policy import DeterministicPolicy
from deploy.runtime import OnnxPolicy
from robot_rl.algos.networks import SquashedGaussianActor
from robot_rl.algos.normalizer import ObservationNormalizer

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
OBS_DIM, ACT_DIM, HIDDEN = 17, 6, (256, 256)


def make_policy(seed: int = 0) -> tuple[SquashedGaussianActor, ObservationNormalizer]:
    torch.manual_seed(seed)
    actor = SquashedGaussianActor(OBS_DIM, -np.ones(ACT_DIM), np.ones(ACT_DIM), HIDDEN)
    normalizer = ObservationNormalizer(OBS_DIM)
    normalizer.update(np.random.default_rng(seed).normal(0.5, 2.0, (4096, OBS_DIM)))
    return actor, normalizer


def time_calls(call: Callable[[np.ndarray], object], pool: np.ndarray, calls: int, warmup: int) -> np.ndarray:
    """Microseconds per call, one observation per call."""
    for k in range(warmup):
        call(pool[k % len(pool)])
    times = np.empty(calls)
    clock = time.perf_counter_ns
    for k in range(calls):
        obs = pool[k % len(pool)]
        start = clock()
        call(obs)
        times[k] = clock() - start
    return times / 1e3


def torch_eager(policy: DeterministicPolicy) -> Callable[[np.ndarray], np.ndarray]:
    def call(obs: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return policy(torch.from_numpy(obs).unsqueeze(0))[0].numpy()
    return call


def ort_session_run(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    session = OnnxPolicy(path).session
    outputs = ["action"]

    def call(obs: np.ndarray) -> np.ndarray:
        return session.run(outputs, {"obs": obs.reshape(1, -1)})[0][0]
    return call


def ort_iobinding_with_run_options(path: Path) -> Callable[[np.ndarray], np.ndarray]:
    """As ``OnnxPolicy`` but passing a ``RunOptions`` to ``run_with_iobinding``."""
    policy = OnnxPolicy(path)
    session, binding, options = policy.session, policy._binding, ort.RunOptions()
    obs_buffer, action_buffer = policy._obs, policy._action

    def call(obs: np.ndarray) -> np.ndarray:
        obs_buffer[0] = obs
        session.run_with_iobinding(binding, options)
        return action_buffer[0].copy()
    return call


def c_inside(source: Path, out_dir: Path, flags: tuple[str, ...], calls: int) -> dict[str, float]:
    program = compile_c([source, HERE / "c_policy_timing.c"], out_dir / f"timing{abs(hash(flags))}",
                        (*flags, f"-I{source.parent}"), shared=False)
    done = subprocess.run([str(program), str(calls)], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout)


def runner_overhead(tmp: Path, episodes: int) -> dict[str, float]:
    """The on-device runner's whole per-step overhead excluding bus time: an SO-101 reach
    policy of the reference size driven by ``deploy.runtime.runner.run_policy`` on the twin
    (whose read/write stand in for the bus and are excluded, as is the wait for the tick)."""
    import gymnasium as gym

    import robot_rl  # noqa: F401
    from deploy.runtime.runner import run_policy
    from robot_rl.algos.networks import SquashedGaussianActor as Actor

    env = gym.make("robot_rl/SO101Reach-v0")
    actor = Actor(env.observation_space.shape[0], env.action_space.low, env.action_space.high, HIDDEN)
    path = tmp / "so101.onnx"
    export_onnx(actor, None, {"task_id": "robot_rl/SO101Reach-v0", "robot_id": "so101", "control_rate_hz": 20.0}, path)
    report = run_policy(OnnxPolicy(path), env.unwrapped, episodes, env.spec.max_episode_steps)
    env.close()
    summary = report.summary()
    return {"steps": summary["steps"], "overhead_p50_us": summary["overhead_us_p50"],
            "overhead_p99_us": summary["overhead_us_p99"], "policy_p50_us": summary["policy_us_p50"],
            "policy_p99_us": summary["policy_us_p99"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=1_000)
    parser.add_argument("--c-calls", type=int, default=100_000)
    args = parser.parse_args()
    torch.set_num_threads(1)

    actor, normalizer = make_policy()
    reference = DeterministicPolicy(actor, normalizer)
    params = extract_mlp_params(actor, normalizer)
    pool = np.random.default_rng(1).normal(0.5, 2.0, (256, OBS_DIM)).astype(np.float32)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        onnx_path = tmp / "policy.onnx"
        export_onnx(actor, normalizer, {}, onnx_path)
        backends: dict[str, Callable[[np.ndarray], np.ndarray]] = {
            "pytorch eager (inference_mode, 1 thread)": torch_eager(reference),
            "onnxruntime session.run": ort_session_run(onnx_path),
            "onnxruntime OnnxPolicy (iobinding)": OnnxPolicy(onnx_path),
            "onnxruntime iobinding + RunOptions": ort_iobinding_with_run_options(onnx_path),
            "numpy matmuls": params.act,
        }
        c_rows: list[dict] = []
        compiler = find_compiler()
        if compiler is not None:
            result = export_c(actor, normalizer, {}, tmp / "c")
            library = compile_c([result.source_path], tmp / "libpolicy.so", STRICT_FLAGS)
            backends["C export via ctypes (-O2)"] = CPolicy(library, "policy", OBS_DIM, ACT_DIM)
            variants = {"-O2 (strict C99 flags)": STRICT_FLAGS, "-O2 + host FMA": host_flags(),
                        "-O3": ("-std=c99", "-O3"), "-Os": ("-std=c99", "-Os")}
            for label, flags in variants.items():
                inside = c_inside(result.source_path, tmp, flags, args.c_calls)
                c_rows.append({"backend": f"C export inside C, {label}", "flags": " ".join(flags), **inside})
            c_meta = {"flash_bytes": result.flash_bytes, "ram_bytes": result.ram_bytes, "compiler": compiler}
        else:
            c_meta = {"skipped": "no C compiler"}
        runner = runner_overhead(tmp, episodes=40)

        expected = reference.act(pool)
        for name, call in backends.items():
            error = float(np.abs(np.stack([call(obs) for obs in pool]) - expected).max())
            times = time_calls(call, pool, args.calls, args.warmup)
            rows.append({"backend": name, "p50_us": float(np.percentile(times, 50)),
                         "p99_us": float(np.percentile(times, 99)), "mean_us": float(times.mean()),
                         "max_abs_error_vs_torch": error})

    print(f"policy {OBS_DIM}-{'-'.join(map(str, HIDDEN))}-{ACT_DIM} (SAC, normaliser in the graph), one observation "
          f"per call; {args.calls} calls after {args.warmup} warm-up")
    print(f"{'backend':<48} {'p50 us':>8} {'p99 us':>8} {'mean us':>8} {'max |err|':>10}")
    for row in rows:
        print(f"{row['backend']:<48} {row['p50_us']:>8.2f} {row['p99_us']:>8.2f} {row['mean_us']:>8.2f} "
              f"{row['max_abs_error_vs_torch']:>10.1e}")
    for row in c_rows:
        print(f"{row['backend']:<48} {row['p50_us']:>8.2f} {row['p99_us']:>8.2f} {row['mean_us']:>8.2f} "
              f"{'':>10}  (loop mean {row['loop_mean_us']:.2f} us over {row['calls']} calls)")
    print(f"runner per-step overhead excluding bus and waiting (SO-101 reach, {runner['steps']} steps): "
          f"p50 {runner['overhead_p50_us']:.1f} us, p99 {runner['overhead_p99_us']:.1f} us "
          f"(of which the policy p50 {runner['policy_p50_us']:.1f} us)")
    if "flash_bytes" in c_meta:
        print(f"C export: flash {c_meta['flash_bytes']:,} bytes (const weights), RAM {c_meta['ram_bytes']:,} bytes "
              "(static scratch)")

    RESULTS.mkdir(exist_ok=True)
    payload = {
        "policy": {"obs_dim": OBS_DIM, "hidden": list(HIDDEN), "act_dim": ACT_DIM, "algorithm": "sac",
                   "normalizer": True},
        "calls": args.calls, "warmup": args.warmup, "c_calls": args.c_calls,
        "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                    "processor": platform.processor(), "torch": torch.__version__, "onnxruntime": ort.__version__,
                    "numpy": np.__version__},
        "rows": rows, "c_inside_rows": c_rows, "c_export": c_meta, "runner": runner,
    }
    (RESULTS / "inference.json").write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {RESULTS / 'inference.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
