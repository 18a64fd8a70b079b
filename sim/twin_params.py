"""Physical parameters of one robot's twin, read from a YAML file that overrides the model's.

Two uses, one format:

- **a fitted twin**: ``robot-rl sysid fit`` writes one; a robot config names it in
  ``twin_params:`` and both the twin (``backend: sim``) and virtual hardware's plant use it;
- **a stand-in for a real robot**: a robot config's ``virtual_plant:`` names one that only
  the emulated bus's plant uses (tests and benchmarks perturb the "real" robot with it, and
  the fit never sees it).

::

    twin_params:
      delay_s: 0.012               # command to reading, all of it applied to the commands
      link_mass_scale: 1.0         # every body's mass and inertia times this
      joints:                      # any subset; a field left out keeps the model's value
        shoulder_pan: {kp_nm_per_rad: 6.1, damping_nm_s_per_rad: 0.41, armature_kg_m2: 0.03,
                       frictionloss_nm: 0.06, effort_limit_nm: 1.8}
      backlash_rad: {gripper: 0.02}  # virtual plant only: play between goal and gear train

Units are SI at the joint (the output shaft), as in ``drivers/servo_params.py``: position
gain N.m/rad, damping N.m.s/rad, armature kg.m^2, dry friction N.m, effort limit (the
actuator's force range, the servo's stall torque) N.m. Imports no MuJoCo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drivers.atomic_file import atomic_write
from drivers.config import ConfigError, build, load_yaml, to_dict
from drivers.robot_config import RobotConfig

JOINT_FIELDS = ("kp_nm_per_rad", "damping_nm_s_per_rad", "armature_kg_m2", "frictionloss_nm", "effort_limit_nm")
"""The per-joint servo parameters, in the order the fit and its reports list them."""


@dataclass(frozen=True)
class JointPhysics:
    """One servo-driven joint. ``None`` keeps the model's value."""

    kp_nm_per_rad: float | None = None
    damping_nm_s_per_rad: float | None = None
    armature_kg_m2: float | None = None
    frictionloss_nm: float | None = None
    effort_limit_nm: float | None = None

    def __post_init__(self) -> None:
        for name in JOINT_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            positive = name != "frictionloss_nm"
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                relation = "> 0" if positive else ">= 0"
                raise ValueError(f"{name} must be finite and {relation}, got {value!r}")


@dataclass(frozen=True)
class TwinParams:
    """Overrides of a twin's physics (see the module docstring for the file)."""

    joints: dict[str, JointPhysics] = field(default_factory=dict)
    delay_s: float = 0.0
    link_mass_scale: float = 1.0
    backlash_rad: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.delay_s) and self.delay_s >= 0):
            raise ValueError(f"delay_s must be finite and >= 0, got {self.delay_s!r}")
        if not (math.isfinite(self.link_mass_scale) and self.link_mass_scale > 0):
            raise ValueError(f"link_mass_scale must be finite and > 0, got {self.link_mass_scale!r}")
        for name, value in self.backlash_rad.items():
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"backlash_rad.{name} must be finite and >= 0, got {value!r}")

    def check_joints(self, joint_names: tuple[str, ...], source: str) -> None:
        """Raise :class:`ConfigError` naming ``source`` for a joint the robot does not have."""
        for section in ("joints", "backlash_rad"):
            unknown = [n for n in getattr(self, section) if n not in joint_names]
            if unknown:
                raise ConfigError(f"{source}: {section}: no joint named {unknown[0]!r}; the robot's joints are "
                                  f"{', '.join(joint_names)}")


def load_twin_params(path: str | Path) -> TwinParams:
    """Read the ``twin_params:`` section of ``path`` (or the whole file). Raises
    :class:`ConfigError` naming the file and key for an unknown key or a bad value."""
    data = load_yaml(path)
    if "twin_params" in data:
        data = data["twin_params"]
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: twin_params: expected a mapping, got {type(data).__name__}")
    return build(TwinParams, data, str(path))


def save_twin_params(params: TwinParams, path: str | Path, header: str = "") -> Path:
    """Write ``params`` to ``path`` atomically (a crash leaves the old file or the new one),
    with ``header`` as comment lines on top; fields left at ``None`` are left out."""
    data: dict[str, Any] = to_dict(params)
    data["joints"] = {name: {k: v for k, v in values.items() if v is not None}
                      for name, values in data["joints"].items()}
    if not data["backlash_rad"]:
        del data["backlash_rad"]
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    text = comments + yaml.safe_dump({"twin_params": data}, sort_keys=False)
    path = Path(path)
    with atomic_write(path) as f:
        f.write(text)
    return path


def twin_params_of(config: RobotConfig, plant: bool = False) -> TwinParams | None:
    """The physics a robot config names: its ``twin_params`` file, or for virtual hardware's
    plant (``plant=True``) its ``virtual_plant`` file when it has one; None for neither."""
    path = config.virtual_plant if plant and config.virtual_plant else config.twin_params
    return load_twin_params(path) if path else None
