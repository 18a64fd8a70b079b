"""``robot-rl teleop`` as a user runs it without hardware: the twin behind an emulated follower
bus, a virtual leader swept by a scripted operator; its report, Ctrl-C and a wrong leader."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

TELEOP = [sys.executable, "-m", "robot_rl.cli.main", "teleop", "--leader", "so101_leader", "--robot", "so101",
          "--backend", "virtual"]


def test_teleop_follows_a_virtual_leader_and_reports_its_timing() -> None:
    done = subprocess.run([*TELEOP, "--rate-hz", "50", "--seconds", "4", "--json"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ended_by"] == "time" and report["steps"] == 200 and report["rate_hz"] == 50
    assert report["engaged_after_s"] is not None and report["engaged_after_s"] < 2.0
    assert report["tracking_error_rad"]["p50"] < 0.01  # the sweep is slow: the limits rarely cut in
    assert report["leader_reads"] > 200 and report["failed_leader_reads"] == 0
    assert report["period_error_ms"]["p50"] is not None


def test_ctrl_c_stops_teleop_with_a_report() -> None:
    process = subprocess.Popen(TELEOP, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "follows" not in line and process.poll() is None:
            line = process.stderr.readline()  # the line saying it runs
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "ended by signal SIGINT" in err and "period error" in err


def test_a_leader_of_another_robot_is_refused_by_joint() -> None:
    done = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "teleop", "--leader", "so101_leader",
                           "--robot", "dclaw", "--backend", "virtual", "--seconds", "1"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2
    assert "no joint" in done.stderr and "follower dclaw" in done.stderr
