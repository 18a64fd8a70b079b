"""Env overhead benchmark: env steps/s of each task on the twin against the raw mj_step rate
of the same model in the same run. Prints a table and writes bench/results/env.json.

The raw rate replays the very same physics bare: the env's start state and the controls it
applied each period, stepped with ``mujoco.mj_step(nstep=physics steps per period)``. The
env adds the task (observation, reward, forward kinematics) and the safety layers. Target:
under 25 % on top.

Both are timed on the thread's CPU time by default: on a machine shared with other jobs the
wall clock also counts the time the scheduler gives them, which swamps a difference of a
few microseconds a step (``--clock wall`` for the wall clock).

    python bench/env.py [--steps 3000] [--repeats 5] [--clock cpu|wall]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Callable

import gymnasium as gym
import mujoco
import numpy as np

import robot_rl  # noqa: F401  (registers the ids)

RESULTS = Path(__file__).resolve().parent / "results"
CASES = [("robot_rl/SO101Reach-v0", "so101"), ("robot_rl/DClawTurn-v0", "dclaw")]
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}


def run_env(env: gym.Env, n: int, clock: Callable[[], float]) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Env steps/s over ``n`` steps of one long episode (no resets), the physics state at the
    start, and the controls each period applied (to replay the same physics bare)."""
    inner = env.unwrapped
    inner.reset(seed=0)
    data = inner.robot.data
    qpos, qvel = data.qpos.copy(), data.qvel.copy()
    actions = np.random.default_rng(0).uniform(-1, 1, (n,) + env.action_space.shape).astype(np.float32)
    # One view of the controls for the run: each access to ``data.ctrl`` makes a new one,
    # which would be timed as the env's.
    ctrl = data.ctrl
    controls = np.empty((n, ctrl.shape[0]))
    start = clock()
    for k in range(n):
        inner.step(actions[k])
        controls[k] = ctrl
    return n / (clock() - start), qpos, qvel, controls


def raw_rate(robot, qpos: np.ndarray, qvel: np.ndarray, controls: np.ndarray, clock: Callable[[], float]) -> float:
    """Control periods/s of the same physics (same start, same controls), with nothing else."""
    model, data = robot.model, robot.data
    data.qpos[:], data.qvel[:] = qpos, qvel
    mujoco.mj_forward(model, data)
    nstep = robot.period_steps
    ctrl = data.ctrl  # as in run_env, one view
    start = clock()
    for control in controls:
        ctrl[:] = control
        mujoco.mj_step(model, data, nstep=nstep)
    return len(controls) / (clock() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="cpu",
                        help="cpu: the thread's CPU time (default); wall: the wall clock")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    rows = []
    for env_id, robot_name in CASES:
        env = gym.make(env_id)
        env.reset(seed=0)
        robot = env.unwrapped.robot
        raws, envs = [], []
        for _ in range(args.repeats):  # interleaved, best of N: the machine is noisy
            rate, qpos, qvel, controls = run_env(env, args.steps, clock)
            envs.append(rate)
            raws.append(raw_rate(robot, qpos, qvel, controls, clock))
        raw, rate = max(raws), max(envs)
        rows.append({"env": env_id, "physics_steps_per_control_step": robot.period_steps,
                     "raw_control_steps_per_s": raw, "raw_mj_steps_per_s": raw * robot.period_steps,
                     "env_steps_per_s": rate, "overhead_fraction": raw / rate - 1.0,
                     "overhead_us_per_step": (1 / rate - 1 / raw) * 1e6})
        env.close()
    print(f"\n{'env':<26} {'mj_step/s':>10} {'raw ctl/s':>10} {'env st/s':>9} {'overhead':>9} {'us/step':>8}")
    for r in rows:
        print(f"{r['env']:<26} {r['raw_mj_steps_per_s']:>10.0f} {r['raw_control_steps_per_s']:>10.0f} "
              f"{r['env_steps_per_s']:>9.0f} {r['overhead_fraction']:>8.0%} {r['overhead_us_per_step']:>8.1f}")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "env.json"
    out.write_text(json.dumps({"steps": args.steps, "repeats": args.repeats, "clock": args.clock, "rows": rows},
                              indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
