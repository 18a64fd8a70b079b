"""Human in the loop, measured: what reading a leader arm costs the follower's control loop,
and how many robot steps demonstrations and interventions save.

``python bench/human_in_the_loop.py --part timing [--seconds 20] [--rounds 2] [--rate-hz 50]``

The follower is SO-101 virtual hardware (the twin behind an emulated bus in its own process,
read and written over a pseudo-terminal) stepping at ``--rate-hz`` through the safety stack.
Two arms, alternated in each round so that drifts in the machine's load fall on both:

- *no leader*: the command is the scripted operator's sweep, computed in the loop's process;
- *leader*: the same sweep moves a virtual leader arm (its own emulated bus), which
  :class:`~robot_side.teleop.leader_arm.LeaderArm` reads at 100 Hz in its own process; the
  command is the newest pose it read.

Both run :class:`~robot_side.teleop.follow.Follower`, so the loops differ only in where the
pose comes from. Target (issue 18): the leader adds nothing measurable to the period error.

``python bench/human_in_the_loop.py --part learning [--seeds 0 1 2] [--steps 8000]``

SO-101 reach, the main job's recipe (``configs/train/so101_reach_sac.yaml``) trained in the
synchronous mode on the twin, three arms per seed in the same run:

- *from scratch*;
- *10 demonstrations*: recorded first with ``robot-rl record-demos`` (a virtual leader and the
  scripted reach operator, in real time, through the emulated buses), then ``loop.demos``;
- *demonstrations + interventions*: the same, with the scripted operator also stepping in
  during training when the policy stalls (``intervention.leader``; in the synchronous mode
  its pose is used without the bus, ``robot_rl/human/scripted_interventions.py``), at most
  ``intervention.scripted_budget`` (0.2) of the steps.

Each is evaluated every ``--eval-every`` steps on ``--eval-episodes`` deterministic episodes;
the table gives the success at each evaluation and the first step at which it reaches 90 %.
Target (issue 18): demonstrations and interventions together halve the robot steps to 90 %
against the best arm without them. Robot steps include the demonstrations' (they cost robot
time too) and the steps the operator drove.

Prints tables and writes bench/results/human_in_the_loop.json (processor and load beside the
figures); ``--part both`` runs both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bus_stress import processor  # noqa: E402  (bench/ is the script's folder)

from drivers.robot_config import load_robot_config  # noqa: E402
from robot_side.robots import make_robot, robot_config_path  # noqa: E402
from robot_side.safety.safe_robot import SafeRobot  # noqa: E402
from robot_side.teleop.follow import Follower, FollowReport, FollowSettings  # noqa: E402
from robot_side.teleop.leader_arm import LeaderArm, LeaderReading  # noqa: E402
from robot_side.teleop.sweep_operator import SweepOperator  # noqa: E402
from robot_side.teleop.virtual_leader import VirtualLeader  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


class SweepInProcess:
    """The 'no leader' arm: the operator's pose computed where the loop runs, never stale."""

    failed_reads = 0

    def __init__(self, operator: SweepOperator) -> None:
        self.operator = operator
        self.started = time.monotonic()
        self.reads = 0

    def latest(self) -> LeaderReading:
        self.reads += 1
        return LeaderReading(self.operator.pose(time.monotonic() - self.started), 0.0, self.reads)


def run_arm(arm: str, seconds: float, rate_hz: float) -> FollowReport:
    follower = load_robot_config(robot_config_path("so101"), backend="virtual")
    leader_config = load_robot_config(robot_config_path("so101_leader"))
    operator = SweepOperator(leader_config)
    settings = FollowSettings(rate_hz=rate_hz)
    if arm == "no leader":
        with SafeRobot(make_robot(follower), 1 / rate_hz, follower.safety) as robot:
            return Follower(robot, SweepInProcess(operator), settings).run(seconds=seconds)  # type: ignore[arg-type]
    # The leader opens first and closes last: the follower's watchdog never waits on it.
    with VirtualLeader(leader_config) as virtual, LeaderArm(virtual.serial_config, follower.spec) as leader, \
            SafeRobot(make_robot(follower), 1 / rate_hz, follower.safety) as robot:
        return Follower(robot, leader, settings).run(seconds=seconds,
                                                     before_step=lambda t: virtual.move_to(operator.pose(t)))


ARMS = ("from scratch", "10 demonstrations", "demonstrations + interventions")
TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "train" / "so101_reach_sac.yaml"


def robot_rl(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise SystemExit(f"robot-rl {' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done


def learning_arm(arm: str, seed: int, steps: int, eval_every: int, eval_episodes: int, folder: Path,
                 demos: Path, human_share: float) -> dict[str, Any]:
    run = folder / f"seed{seed}-{arm.split()[0]}{'-int' if 'interventions' in arm else ''}"
    sets = {"loop.seed": seed, "loop.total_steps": steps, "loop.eval_every_steps": eval_every,
            "loop.eval_episodes": eval_episodes, "loop.checkpoint_every_steps": steps}
    if arm != "from scratch":
        sets["loop.demos"] = str(demos)
        sets["loop.human_share"] = human_share
    if "interventions" in arm:
        sets["intervention.leader"] = "so101_leader"
    started = time.monotonic()
    robot_rl("train", str(TRAIN_CONFIG), "--run-dir", str(run), "--no-progress",
             *[x for k, v in sets.items() for x in ("--set", f"{k}={v}")])
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = {int(r["step"]): float(r["eval/success_rate"]) for r in rows if "eval/success_rate" in r}
    human = [r for r in rows if "replay/interventions" in r]
    demo_steps = int(json.loads((demos / "demonstrations.json").read_text())["transitions"]) if "loop.demos" in sets \
        else 0
    first = next((s for s, v in sorted(evals.items()) if v >= 0.9), None)
    return {"arm": arm, "seed": seed, "success": evals, "first_90_step": first,
            "robot_steps_to_90": None if first is None else first + demo_steps, "demo_steps": demo_steps,
            "intervention_steps": int(human[-1]["replay/interventions"]) if human else 0,
            "wall_s": time.monotonic() - started}


def learning(seeds: list[int], steps: int, eval_every: int, eval_episodes: int, keep: Path | None,
             human_share: float) -> list[dict]:
    folder = keep or Path(tempfile.mkdtemp(prefix="robot_rl-hitl-"))
    folder.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in seeds:
        demos = folder / f"seed{seed}-demos"
        if not (demos / "demonstrations.json").exists():
            done = robot_rl("record-demos", "--leader", "so101_leader", "--robot", "so101", "--task",
                            "SO101Reach-v0", "--episodes", "10", "--seed", str(1000 + seed), "--out", str(demos),
                            "--json")
            print(f"seed {seed}: demonstrations {json.loads(done.stdout)}", file=sys.stderr, flush=True)
        for arm in ARMS:
            row = learning_arm(arm, seed, steps, eval_every, eval_episodes, folder, demos, human_share)
            results.append(row)
            print(f"seed {seed} {arm}: 90 % at {row['first_90_step']} steps (+{row['demo_steps']} demonstration "
                  f"steps), {row['intervention_steps']} taken over, {row['wall_s']:.0f} s; success "
                  f"{row['success']}", file=sys.stderr, flush=True)
    return results


def print_learning(results: list[dict]) -> dict[str, Any]:
    budgets = sorted({s for r in results for s in r["success"]})
    print("\nSO-101 reach, success over the evaluation episodes at each step (sync, twin)")
    print(f"{'arm':>32} {'seed':>4} " + " ".join(f"{b:>6}" for b in budgets) + f" {'to 90 %':>8} {'taken over':>10}")
    for r in results:
        cells = " ".join(f"{r['success'].get(b, float('nan')):>6.0%}" for b in budgets)
        to90 = "-" if r["robot_steps_to_90"] is None else str(r["robot_steps_to_90"])
        print(f"{r['arm']:>32} {r['seed']:>4} {cells} {to90:>8} {r['intervention_steps']:>10}")
    summary = {}
    for arm in ARMS:
        rows = [r for r in results if r["arm"] == arm]
        reached = [r["robot_steps_to_90"] for r in rows if r["robot_steps_to_90"] is not None]
        summary[arm] = {"seeds": len(rows), "reached_90": len(reached),
                        "mean_robot_steps_to_90": float(np.mean(reached)) if len(reached) == len(rows) else None}
    print("\nrobot steps to 90 % (demonstration steps included), mean over seeds; '-' where a seed never reached it")
    for arm, row in summary.items():
        mean = row["mean_robot_steps_to_90"]
        print(f"{arm:>32}: {'-' if mean is None else f'{mean:.0f}'} ({row['reached_90']} of {row['seeds']} seeds)")
    best_without = min((summary[a]["mean_robot_steps_to_90"] for a in ARMS[:1]
                        if summary[a]["mean_robot_steps_to_90"] is not None), default=None)
    with_both = summary[ARMS[2]]["mean_robot_steps_to_90"]
    if best_without and with_both:
        ratio = best_without / with_both
        summary["ratio"] = ratio
        print(f"demonstrations + interventions: {ratio:.2f}x fewer robot steps than from scratch (target 2x)")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=("timing", "learning", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=20.0, help="timing: seconds per arm and round (default 20)")
    parser.add_argument("--rounds", type=int, default=2, help="timing: rounds (default 2)")
    parser.add_argument("--rate-hz", type=float, default=50.0, help="timing: the follower's rate (default 50)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="learning: seeds (default 0 1 2)")
    parser.add_argument("--steps", type=int, default=8000, help="learning: robot steps per run (default 8000)")
    parser.add_argument("--eval-every", type=int, default=1000, help="learning: steps between evaluations")
    parser.add_argument("--eval-episodes", type=int, default=20, help="learning: episodes per evaluation")
    parser.add_argument("--keep", type=Path, help="learning: keep demonstrations and runs in this folder")
    parser.add_argument("--human-share", type=float, default=0.5,
                        help="learning: loop.human_share of the arms with demonstrations (default 0.5, RLPD's)")
    parser.add_argument("--json", type=Path, default=RESULTS / "human_in_the_loop.json")
    args = parser.parse_args()
    out: dict[str, Any] = {"processor": processor()}
    if args.part in ("timing", "both"):
        out["timing"] = timing(args.seconds, args.rounds, args.rate_hz)
    if args.part in ("learning", "both"):
        results = learning(args.seeds, args.steps, args.eval_every, args.eval_episodes, args.keep, args.human_share)
        out["learning"] = {"runs": results, "summary": print_learning(results), "steps": args.steps,
                           "eval_episodes": args.eval_episodes, "human_share": args.human_share}
    out["load_average"] = os.getloadavg()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.json}")
    return 0


def timing(seconds: float, rounds: int, rate_hz: float) -> dict[str, Any]:
    lateness: dict[str, list[float]] = {"no leader": [], "leader": []}
    ages: list[float] = []
    for r in range(rounds):
        for arm in (("no leader", "leader") if r % 2 == 0 else ("leader", "no leader")):
            report = run_arm(arm, seconds, rate_hz)
            if report.ended_by != "time":
                raise SystemExit(f"round {r + 1}, {arm}: ended by {report.ended_by}")
            lateness[arm] += report.lateness_s
            if arm == "leader":
                ages += report.leader_age_s
            print(f"round {r + 1} {arm:>9}: {report.steps} periods, period error p99 "
                  f"{report.summary()['period_error_ms']['p99']:.2f} ms", file=sys.stderr)
    rows = {}
    for arm, values in lateness.items():
        v = np.abs(values) * 1e3
        rows[arm] = {"periods": len(v), "p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)),
                     "max_ms": float(v.max()), "over_1ms": int(np.sum(v > 1.0))}
    print(f"\nfollower period error at {rate_hz:g} Hz (SO-101 virtual hardware), {rounds} x {seconds:g} s per arm")
    print(f"{'arm':>10} {'periods':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'> 1 ms':>7}")
    for arm, row in rows.items():
        print(f"{arm:>10} {row['periods']:>8} {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['max_ms']:>8.2f} "
              f"{row['over_1ms']:>7}")
    ratio = rows["leader"]["p99_ms"] / max(rows["no leader"]["p99_ms"], 1e-9)
    print(f"p99 with / without the leader: {ratio:.2f}x; leader pose age p50 {np.percentile(ages, 50) * 1e3:.1f} ms, "
          f"p99 {np.percentile(ages, 99) * 1e3:.1f} ms")
    return {"rate_hz": rate_hz, "seconds": seconds, "rounds": rounds, "period_error": rows, "p99_ratio": ratio,
            "leader_age_ms": {"p50": float(np.percentile(ages, 50) * 1e3), "p99": float(np.percentile(ages, 99) * 1e3)}}


if __name__ == "__main__":
    sys.exit(main())
