"""Build the ``Robot`` a robot config asks for: the twin, virtual hardware or a real port.

Only the chosen backend's modules are imported, so the serial backend never loads MuJoCo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drivers.config import build
from drivers.robot import Robot
from drivers.robot_config import RobotConfig, load_robot_config
from robot_side.errors import EnvOptionError

CONFIG_DIR = Path(__file__).resolve().parent / "robot_configs"
"""The robot configs that ship with the package (installed with it, calibration files beside them)."""


def robot_config_path(name_or_path: str) -> Path:
    """``"so101"`` -> the packaged ``robot_side/robot_configs/so101.yaml``; a path (a name ending
    in ``.yaml`` or ``.yml``) is returned as it is. Raises ``EnvOptionError`` for an unknown
    name, listing the known ones."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return path
    found = CONFIG_DIR / f"{name_or_path}.yaml"
    if not found.exists():
        known = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml") if not p.stem.endswith("_calibration"))
        raise EnvOptionError(f"no robot named {name_or_path!r}; known robots: {', '.join(known)} (or give the path "
                             f"of a robot config YAML)")
    return found


def make_robot(config: RobotConfig, *, sim: dict[str, Any] | None = None, seed: int | None = None,
               read_only: bool = False) -> Robot:
    """A closed robot of ``config.backend``; ``sim`` holds SimConfig fields for the twin.
    ``read_only``: a dry run on hardware (reads, computes, writes nothing)."""
    if config.backend == "sim":
        if read_only:
            raise ValueError("a dry run (read_only) is for hardware backends: virtual or serial")
        from sim.sim_config import SimConfig
        from sim.sim_robot import SimRobot

        return SimRobot(config, build(SimConfig, sim or {}, "sim options"), seed=seed)
    if config.backend == "virtual":
        from robot_side.virtual_hardware import VirtualHardware

        return VirtualHardware(config, sim=sim, read_only=read_only)
    from drivers.bus_robot import BusRobot

    return BusRobot(config, read_only=read_only)


def load_robot(name_or_path: str, *, backend: str | None = None, port: str | None = None,
               sim: dict[str, Any] | None = None, seed: int | None = None, read_only: bool = False) -> Robot:
    """Load a robot config (by name or path) with optional backend/port overrides and build it."""
    config = load_robot_config(robot_config_path(name_or_path), backend=backend, port=port)
    return make_robot(config, sim=sim, seed=seed, read_only=read_only)
