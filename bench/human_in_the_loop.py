"""Human in the loop, measured: what reading a leader arm costs the follower's control loop.

``python bench/human_in_the_loop.py [--seconds 20] [--rounds 2] [--rate-hz 50]``

The follower is SO-101 virtual hardware (the twin behind an emulated bus in its own process,
read and written over a pseudo-terminal) stepping at ``--rate-hz`` through the safety stack.
Two arms, alternated in each round so that drifts in the machine's load fall on both:

- *no leader*: the command is the scripted operator's sweep, computed in the loop's process;
- *leader*: the same sweep moves a virtual leader arm (its own emulated bus), which
  :class:`~robot_side.teleop.leader_arm.LeaderArm` reads at 100 Hz in its own process; the
  command is the newest pose it read.

Both run :class:`~robot_side.teleop.follow.Follower`, so the loops differ only in where the
pose comes from. Target (issue 18): the leader adds nothing measurable to the period error.

Prints a table and writes bench/results/human_in_the_loop.json (processor and load beside the
figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds per arm and round (default 20)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate-hz", type=float, default=50.0)
    parser.add_argument("--json", type=Path, default=RESULTS / "human_in_the_loop.json")
    args = parser.parse_args()
    lateness: dict[str, list[float]] = {"no leader": [], "leader": []}
    ages: list[float] = []
    for r in range(args.rounds):
        for arm in (("no leader", "leader") if r % 2 == 0 else ("leader", "no leader")):
            report = run_arm(arm, args.seconds, args.rate_hz)
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
    print(f"\nfollower period error at {args.rate_hz:g} Hz (SO-101 virtual hardware), {args.rounds} x "
          f"{args.seconds:g} s per arm")
    print(f"{'arm':>10} {'periods':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'> 1 ms':>7}")
    for arm, row in rows.items():
        print(f"{arm:>10} {row['periods']:>8} {row['p50_ms']:>8.3f} {row['p99_ms']:>8.3f} {row['max_ms']:>8.2f} "
              f"{row['over_1ms']:>7}")
    ratio = rows["leader"]["p99_ms"] / max(rows["no leader"]["p99_ms"], 1e-9)
    print(f"p99 with / without the leader: {ratio:.2f}x; leader pose age p50 {np.percentile(ages, 50) * 1e3:.1f} ms, "
          f"p99 {np.percentile(ages, 99) * 1e3:.1f} ms")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"processor": processor(), "load_average": os.getloadavg(),
                                     "rate_hz": args.rate_hz, "seconds": args.seconds, "rounds": args.rounds,
                                     "period_error": rows, "p99_ratio": ratio,
                                     "leader_age_ms": {"p50": float(np.percentile(ages, 50) * 1e3),
                                                       "p99": float(np.percentile(ages, 99) * 1e3)}}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
