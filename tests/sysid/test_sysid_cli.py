"""``robot-rl sysid record`` and ``fit`` as a user runs them: the files they write, their JSON,
and the fitted file used by a robot config; a bad log is a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if not hasattr(pytest.importorskip("mujoco.sysid"), "optimize"):
    pytest.skip("the fit needs mujoco[sysid] (pip install 'robot-rl[sysid]')", allow_module_level=True)

from drivers.robot_config import load_robot_config  # noqa: E402
from robot_side.robots import robot_config_path  # noqa: E402
from sim.sim_robot import SimRobot  # noqa: E402
from sim.twin_params import load_twin_params  # noqa: E402


def robot_rl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], capture_output=True, text=True,
                          timeout=300, check=False)


def test_record_then_fit_then_use(tmp_path: Path) -> None:
    log = tmp_path / "arm.npz"
    rec = robot_rl("sysid", "record", "--robot", "so101", "--backend", "sim", "--joints", "wrist_flex",
                   "--chirp-s", "2", "--step-hold-s", "0.4", "--out", str(log), "--json")
    assert rec.returncode == 0, rec.stderr
    summary = json.loads(rec.stdout)
    assert summary["complete"] and summary["rows"] > 100 and Path(summary["log"]) == log
    fit = robot_rl("sysid", "fit", str(log), "--robot", "so101", "--fields", "kp_nm_per_rad", "--max-iters", "3",
                   "--json")
    assert fit.returncode == 0, fit.stderr
    result = json.loads(fit.stdout)
    assert set(result["parameters"]) == {"wrist_flex.kp_nm_per_rad", "delay_s", "link_mass_scale"}
    params_file, plot = Path(result["twin_params"]), Path(result["plot"])
    assert params_file == tmp_path / "arm_twin.yaml" and plot == tmp_path / "arm_fit.png"
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert params_file.read_text().startswith("# Twin parameters of so101 fitted by `robot-rl sysid fit`")
    fitted = load_twin_params(params_file)
    kp = fitted.joints["wrist_flex"].kp_nm_per_rad
    assert kp == pytest.approx(result["parameters"]["wrist_flex.kp_nm_per_rad"]["fitted"])
    # A robot config naming the file: the twin runs with the fitted gain.
    source = robot_config_path("so101")
    config_file = tmp_path / "my_so101.yaml"
    config_file.write_text(source.read_text().replace(
        "calibration: so101_calibration.yaml", f"calibration: {source.parent / 'so101_calibration.yaml'}\n"
                                                f"  twin_params: arm_twin.yaml"))
    with SimRobot(load_robot_config(config_file)) as robot:
        i = robot.config.joint_names.index("wrist_flex")
        assert robot.model.actuator_gainprm[robot.twin.actuator[i], 0] == pytest.approx(kp)


def test_a_bad_log_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.npz"
    np.savez(bad, x=np.zeros(2))
    fit = robot_rl("sysid", "fit", str(bad), "--robot", "so101")
    assert fit.returncode == 2
    assert f"robot-rl sysid: error: {bad}: not a system-identification log" in fit.stderr
    rec = robot_rl("sysid", "record", "--robot", "so101", "--backend", "sim", "--joints", "elbow")
    assert rec.returncode == 2 and "--joints: no joint named 'elbow'" in rec.stderr
