"""Where the MJCF models live: ``sim/models/<robot>/<robot>.xml`` and ``scene.xml``.

A robot is any folder of ``sim/models`` that holds ``<folder name>.xml``, so adding a model
needs no change here. Imports nothing beyond the standard library (no MuJoCo).
"""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"


class UnknownRobotError(LookupError):
    """No model folder under ``sim/models`` has this name; the message lists the known ones."""


def known_robots() -> tuple[str, ...]:
    """Names of the robots with a model under ``sim/models``, sorted."""
    if not MODELS_DIR.is_dir():
        return ()
    return tuple(sorted(p.name for p in MODELS_DIR.iterdir() if (p / f"{p.name}.xml").is_file()))


def model_path(robot: str, scene: bool = True) -> Path:
    """Path of a robot's MJCF file.

    Args:
        robot: the model folder's name, for example ``"so101"`` or ``"dclaw"``.
        scene: True for ``scene.xml`` (robot, floor, light and task fixtures such as the
            D'Claw valve or the SO-101 target marker); False for the robot alone.

    Raises:
        UnknownRobotError: ``robot`` names no model folder.
        FileNotFoundError: the folder exists but lacks the requested file.
    """
    robots = known_robots()
    if robot not in robots:
        raise UnknownRobotError(
            f"no MuJoCo model for robot {robot!r}; known robots: {', '.join(robots) or 'none'} "
            f"(folders of {MODELS_DIR})")
    path = MODELS_DIR / robot / ("scene.xml" if scene else f"{robot}.xml")
    if not path.is_file():
        raise FileNotFoundError(f"model file missing: {path}")
    return path
