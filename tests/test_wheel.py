"""The package as a user installs it on a robot's computer: ``pip install .`` (a wheel, not an
editable checkout) into a fresh virtual environment, used from another folder. Every
registered env makes and steps, the robot configs and models came with it, and
``robot-rl virtual-bus --robot so101`` with ``robot-rl deploy`` on it run.

The fresh environment gets the project's dependencies from this one's site-packages through a
``.pth`` file (the network is not needed; the wheel itself installs with ``--no-deps``)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IDS = ["robot_rl/SO101Reach-v0", "robot_rl/SO101ReachFixed-v0", "robot_rl/DClawTurn-v0", "robot_rl/DClawTurnRandom-v0"]
MAKE_EVERY_ID = f"""
import json, gymnasium, numpy as np, robot_side, sim, drivers
steps = {{}}
for env_id in {IDS!r}:
    env = gymnasium.make(env_id)
    env.reset(seed=0)
    obs, *_ = env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    steps[env_id] = int(obs.shape[0])
    env.close()
print(json.dumps({{"steps": steps, "files": [robot_side.__file__, sim.__file__, drivers.__file__]}}))
"""


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    """A virtual environment holding the wheel of this checkout and nothing else of it."""
    base = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                            str(base / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = (base / "dist").glob("robot_rl-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run(venv: Path, folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "MUJOCO_GL": "egl"})


def test_every_registered_id_makes_and_steps_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    result = run(fresh_venv, tmp_path, str(fresh_venv / "bin" / "python"), "-c", MAKE_EVERY_ID)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["steps"]) == set(IDS)
    assert all(path.startswith(str(fresh_venv)) for path in report["files"]), report["files"]  # not the checkout


def test_virtual_bus_and_deploy_by_robot_name_from_the_wheel(fresh_venv: Path, tmp_path: Path) -> None:
    export = run(fresh_venv, tmp_path, sys.executable, "-c", """
import gymnasium, robot_side, torch
from deploy.export.onnx_export import export_onnx
from robot_rl.algos.networks import DeterministicActor
env = gymnasium.make("robot_rl/SO101Reach-v0")
actor = DeterministicActor(env.observation_space.shape[0], env.action_space.low, env.action_space.high, (16, 16))
export_onnx(actor, None, {"task_id": "robot_rl/SO101Reach-v0", "robot_id": "so101", "control_rate_hz": 20.0},
            "policy.onnx")
""")
    assert export.returncode == 0, export.stderr
    bus = subprocess.Popen([str(fresh_venv / "bin" / "robot-rl"), "virtual-bus", "--robot", "so101", "--plant", "twin"],
                           cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={"PATH": f"{fresh_venv / 'bin'}:/usr/bin:/bin", "MUJOCO_GL": "egl"})
    try:
        port = bus.stdout.readline().strip()
        assert port.startswith("/dev/"), bus.stderr.read() if bus.poll() is not None else port
        result = run(fresh_venv, tmp_path, str(fresh_venv / "bin" / "robot-rl"), "deploy", "policy.onnx", "--robot",
                     "so101", "--port", port, "--episodes", "1", "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["episodes"] == 1 and summary["steps"] == 50 and summary["backend"] == "serial"
    finally:
        bus.terminate()
        bus.wait(10)
