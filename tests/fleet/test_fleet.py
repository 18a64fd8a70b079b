"""The fleet end to end (``robot-rl train --backend ray``) on a local Ray instance: two twin
robots and a learner, each in their own processes, as a user would run them.

What a user relies on: both robots' data reach the replay (counted per robot), weights reach
both robots (versions advance), and a robot whose actor dies is reported while the others and
the learner go on, or is started again when ``fleet.max_restarts`` allows.
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray")

# Two robots interleave their episodes in the replay: hindsight relabelling (on in the main
# config) is refused for them (see the last test).
FLEET = {"realtime.loop_cpu": "null", "realtime.learner_cpu": "null", "loop.log_every_steps": 20,
         "loop.hindsight_fraction": 0}



def robot_progress(stderr: str, index: int) -> tuple[int, int]:
    """Robot ``index``'s steps and weight version in the newest progress line ((0, 0) before)."""
    found = re.findall(rf"robots: .*\br{index} (\d+) v(\d+)", stderr)
    return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)


def robot_steps(stderr: str, index: int) -> int:
    return robot_progress(stderr, index)[0]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def kill_robot(run, index: int) -> dict:
    """Signal robot ``index``'s Ray actor once it has collected some steps and acted with weights
    newer than the first (then a second, so that some of those rows reach the learner); returns
    its record."""
    run.wait_for(lambda: robot_steps(run.stderr, index) >= 60 and robot_progress(run.stderr, index)[1] >= 2
                 and (run.run_dir / "fleet.json").exists(), 120)
    time.sleep(1.0)
    robot = json.loads((run.run_dir / "fleet.json").read_text())["robots"][str(index)]
    os.kill(robot["pid"], signal.SIGKILL)
    return robot


def test_two_robots_feed_one_learner_and_a_dead_robot_leaves_the_run_going(tmp_path: Path, start_run, replay_column) -> None:
    run = start_run(tmp_path / "run", "--backend", "ray", "--actors", "2", loop__total_steps=800,
                    fleet__max_restarts=0, **FLEET)
    # The loop is no child of the actor (Ray SIGKILLs a worker's children when it ends it): it must
    # see its actor gone and stop safely by itself.
    killed = kill_robot(run, 1)
    at_kill = run.steps()
    code, summary = run.finish(timeout_s=180)
    assert code == 0 and summary["exit_code"] == 0, (summary, run.stderr)
    assert summary["reason"] == "finished without robot(s) [1] (their actors died)", summary
    assert "robot 1's actor died" in run.stderr and "the run goes on without it" in run.stderr
    assert summary["steps"] >= 800 > at_kill  # robot 0 and the learner went on to the end
    # The killed actor's control loop noticed and stopped (torque off) on its own.
    deadline = time.monotonic() + 30
    while not gone(killed["loop_pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(killed["loop_pid"])
    assert f"its supervisor (pid {killed['pid']}) died: stopping safely (torque off)" in run.stderr, run.stderr

    actor = replay_column(run.run_dir, "actor")
    counts = np.bincount(actor, minlength=2)
    assert counts[0] > 0 and counts[1] > 0 and counts.sum() == summary["steps"], counts
    by_robot = {r["index"]: r for r in summary["robots"]}
    assert by_robot[0]["transitions"] == counts[0] and by_robot[1]["transitions"] == counts[1]
    assert by_robot[0]["ended"] == "done" and by_robot[1]["ended"] == "lost"
    versions = replay_column(run.run_dir, "weight_version")
    for index in (0, 1):  # each robot acted with weights that advanced during the run
        mine = versions[actor == index]
        assert mine.max() > mine.min() >= 1, (index, np.unique(mine))
    assert (run.run_dir / "checkpoints/latest.pt").exists()
    assert (run.run_dir / "fleet/actor-0/timing").is_dir()


def test_a_dead_robot_is_started_again_and_a_stopped_fleet_resumes(tmp_path: Path, start_run, replay_column) -> None:
    run_dir = tmp_path / "run"
    run = start_run(run_dir, "--backend", "ray", "--actors", "2", loop__total_steps=100_000,
                    fleet__max_restarts=1, **FLEET)
    kill_robot(run, 1)
    run.wait_for(lambda: "starting it again (restart 1 of 1)" in run.stderr, 60)
    restarted = run.steps()
    run.wait_for(lambda: run.steps() > restarted + 100 and robot_steps(run.stderr, 1) > 0, 120)
    run.process.send_signal(signal.SIGINT)  # a user's Ctrl-C: every robot stops, the learner checkpoints
    code, summary = run.finish(timeout_s=180)
    assert code == 130 and summary["reason"] == "interrupted (SIGINT): stopped cleanly", (summary, run.stderr)
    by_robot = {r["index"]: r for r in summary["robots"]}
    assert by_robot[1]["restarts"] == 1 and by_robot[1]["ended"] == "done", by_robot
    stopped_at = summary["steps"]

    again = start_run(run_dir, "--backend", "ray", "--actors", "2", "--resume", loop__total_steps=stopped_at + 150,
                      fleet__max_restarts=1, **FLEET)
    code, resumed = again.finish(timeout_s=180)
    assert code == 0 and resumed["reason"] == "finished", (resumed, again.stderr)
    assert resumed["steps"] >= stopped_at + 150 and resumed["restored_transitions"] == stopped_at, resumed
    assert len(replay_column(run_dir, "actor")) == resumed["steps"]


def test_a_robot_that_cannot_be_placed_is_a_clear_error(tmp_path: Path, start_run) -> None:
    run = start_run(tmp_path / "run", "--backend", "ray", "--actors", "1", **FLEET,
                    fleet__robots="[{resources: {so101_arm_7: 1}}]", fleet__start_timeout_s=3)
    code, _ = run.finish(timeout_s=120)
    assert code == 2, run.stderr
    assert "robot 0 could not be placed in 3 s: it needs" in run.stderr and "so101_arm_7" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_hindsight_with_two_robots_is_refused_before_anything_starts(tmp_path: Path, start_run) -> None:
    run = start_run(tmp_path / "run", "--backend", "ray", "--actors", "2", loop__hindsight_fraction=0.5)
    code, _ = run.finish(timeout_s=60)
    assert code == 2, run.stderr
    assert "loop.hindsight_fraction" in run.stderr and "2 robots store their episodes interleaved" in run.stderr
    assert "Traceback" not in run.stderr
