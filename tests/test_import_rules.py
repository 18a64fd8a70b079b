"""The import rules of docs/architecture.md, enforced.

- ``drivers`` imports nothing from ``sim``, ``robot_side``, ``robot_rl`` or ``deploy``; ``sim``
  never imports ``robot_side``, ``robot_rl`` or ``deploy``; the robot side (``robot_side``)
  never imports training (``robot_rl``), ``deploy`` or torch; ``deploy`` outside its export
  package never imports training; nothing imports ``tests`` (checked on the source, statically).
- Every ``drivers`` and ``robot_side`` module imports with ``torch`` and ``mujoco`` made
  unimportable (the twin's modules are imported only when it is chosen); every ``deploy`` module (the robot-side runtime, and the export package
  whose functions import torch only when called) with ``torch``, ``mujoco`` and ``onnx`` made
  unimportable (checked by really importing them in a fresh interpreter that blocks them).
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "drivers": {"sim", "robot_side", "robot_rl", "deploy", "tests", "torch", "mujoco", "gymnasium"},
    "sim": {"robot_side", "robot_rl", "deploy", "tests"},
    "robot_side": {"robot_rl", "deploy", "tests", "torch"},
    "robot_rl": {"tests"},
    "deploy": {"tests"},
    "deploy/runtime": {"tests", "torch", "mujoco", "onnx", "sim", "robot_rl"},
    "deploy/metadata.py": {"tests", "torch", "mujoco", "onnx", "sim", "robot_rl"},
    "deploy/errors.py": {"tests", "torch", "mujoco", "onnx", "sim", "robot_rl"},
}
# Modules allowed to import torch at their top: imported only inside export functions.
TORCH_AT_TOP = {"deploy.export.torch_policy"}

# argv[1]: comma-separated top-level names to block; argv[2:]: modules to import.
BLOCKER = """
import importlib.abc, sys
BLOCKED = tuple(sys.argv[1].split(','))
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in BLOCKED:
            raise ImportError(f'{name} is blocked by the import-rules test')
        return None
sys.meta_path.insert(0, Block())
import importlib
for name in sys.argv[2:]:
    importlib.import_module(name)
leaked = [m for m in sys.modules if m.split('.')[0] in BLOCKED]
assert not leaked, leaked
print('ok', len(sys.argv) - 2)
"""


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_static_import_direction(package: str) -> None:
    violations = []
    paths = [ROOT / package] if package.endswith(".py") else sorted((ROOT / package).rglob("*.py"))
    for path in paths:
        bad = imported_top_levels(path) & FORBIDDEN[package]
        if bad:
            violations.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def all_modules(package: str) -> list[str]:
    pkg_path = ROOT / package
    return [package] + [m.name for m in pkgutil.walk_packages([str(pkg_path)], prefix=f"{package}.")]


def run_blocked(blocked: tuple[str, ...], modules: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER, ",".join(blocked), *modules], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("package", "blocked", "at_least"), [
    ("drivers", ("torch", "mujoco"), 10),
    ("robot_side", ("torch", "mujoco"), 10),
    ("deploy", ("torch", "mujoco", "onnx"), 8),
])
def test_imports_without_heavy_dependencies(package: str, blocked: tuple[str, ...], at_least: int) -> None:
    modules = [m for m in all_modules(package) if m not in TORCH_AT_TOP]
    assert len(modules) > at_least
    result = run_blocked(blocked, modules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_a_fleet_robot_computer_needs_no_torch() -> None:
    """A fleet's robot actor (and the control loop it starts) runs on the robot's computer:
    Ray, numpy, gymnasium and the twin's mujoco where it runs the twin, never the learner's torch."""
    pytest.importorskip("ray")
    modules = ["robot_rl.fleet.robot_actor", "robot_rl.fleet.detached_loop", "robot_rl.realtime.control_loop"]
    result = run_blocked(("torch",), modules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"ok {len(modules)}"


def test_blocker_really_blocks() -> None:
    result = run_blocked(("torch",), ["torch"])
    assert result.returncode != 0 and "blocked by the import-rules test" in result.stderr


RUNNER = """
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'mujoco', 'onnx'):
            raise ImportError(f'{name} is blocked by the import-rules test')
        return None
sys.meta_path.insert(0, Block())
sys.argv = ['robot-rl'] + sys.argv[1:]
try:
    runpy.run_module('robot_rl.cli.main', run_name='__main__')
finally:
    leaked = [m for m in sys.modules if m.split('.')[0] in ('torch', 'mujoco', 'onnx')]
    print('leaked', leaked, file=sys.stderr)
"""


def test_deploy_command_runs_without_torch_and_mujoco(tmp_path: Path) -> None:
    """The on-device runner, end to end (policy, env, task, safety, drivers on virtual
    hardware), in a process where torch and mujoco cannot be imported. The emulated bus runs
    in its own process (it stands for the robot, so it may use the twin)."""
    pytest.importorskip("torch")
    import gymnasium as gym

    import robot_rl  # noqa: F401
    from deploy.export.onnx_export import export_onnx
    from robot_rl.algos.networks import DeterministicActor

    env = gym.make("robot_rl/SO101Reach-v0")
    actor = DeterministicActor(env.observation_space.shape[0], env.action_space.low, env.action_space.high, (16, 16))
    env.close()
    policy = tmp_path / "policy.onnx"
    export_onnx(actor, None, {"task_id": "robot_rl/SO101Reach-v0", "robot_id": "so101", "control_rate_hz": 20.0},
                policy)
    result = subprocess.run([sys.executable, "-c", RUNNER, "deploy", str(policy), "--robot", "so101", "--backend",
                             "virtual", "--episodes", "1", "--json"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "leaked []" in result.stderr
    assert '"steps": 50' in result.stdout
