"""How the MuJoCo twin departs from perfect physics: latency, sensor noise, encoder
quantisation, pacing and per-episode domain randomisation.

Loaded strictly by :func:`drivers.config.build` (an unknown key is an error naming it), from
a ``sim:`` section of a YAML file::

    sim:
      observation_latency_s: 0.004
      action_latency_s: 0.002
      position_noise_std_rad: 0.001
      randomization:
        mass_scale: [0.8, 1.2]
        kp_scale: [0.9, 1.1]
        action_latency_s: [0.0, 0.01]

Imports no MuJoCo, so configs can be checked anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.config import ConfigError, build, load_yaml

TICKS_PER_TURN = 4096
"""Encoder counts per turn of every supported servo (STS3215, XM430-W350)."""

Range = tuple[float, float]
NO_SCALE: Range = (1.0, 1.0)


def _check_range(name: str, value: Range, low_bound: float, open_low: bool) -> None:
    low, high = value
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{name}: [{low}, {high}] must be finite with low <= high")
    if (low <= low_bound) if open_low else (low < low_bound):
        relation = ">" if open_low else ">="
        raise ValueError(f"{name}: values must be {relation} {low_bound}, got {low}")


@dataclass(frozen=True)
class DomainRandomization:
    """Ranges drawn from uniformly at each episode start (``SimRobot.set_state``).

    Each scale multiplies the model's nominal value and is drawn independently per element
    (per body, per geom, per joint, per actuator), so the robot is also made asymmetric.
    A range of ``[1, 1]`` (the default) leaves the quantity alone.

    mass_scale: body masses and rotational inertias (inertia scaled with the mass, so the
        centre of mass and the radii of gyration stay where they are).
    friction_scale: contact friction of every geom (sliding, torsional, rolling) and the
        joints' dry friction (``frictionloss``: the gearboxes).
    damping_scale: the joints' viscous damping (the servos' back-EMF slope).
    kp_scale: the position actuators' gain (the servo firmware's P gain); the force limit
        (stall torque) is unchanged.
    observation_latency_s / action_latency_s: if given, this episode's latency is drawn from
        the range and replaces the fixed :class:`SimConfig` value; ``None`` keeps it.
    """

    mass_scale: Range = NO_SCALE
    friction_scale: Range = NO_SCALE
    damping_scale: Range = NO_SCALE
    kp_scale: Range = NO_SCALE
    observation_latency_s: Range | None = None
    action_latency_s: Range | None = None

    def __post_init__(self) -> None:
        for name in ("mass_scale", "friction_scale", "damping_scale", "kp_scale"):
            _check_range(name, getattr(self, name), 0.0, open_low=True)
        for name in ("observation_latency_s", "action_latency_s"):
            value = getattr(self, name)
            if value is not None:
                _check_range(name, value, 0.0, open_low=False)

    @property
    def active(self) -> bool:
        """True when any quantity is randomised."""
        scales = (self.mass_scale, self.friction_scale, self.damping_scale, self.kp_scale)
        return (any(s != NO_SCALE for s in scales) or self.observation_latency_s is not None
                or self.action_latency_s is not None)

    @property
    def scales_model(self) -> bool:
        """True when a model parameter (not only a latency) is randomised."""
        return any(getattr(self, n) != NO_SCALE for n in ("mass_scale", "friction_scale", "damping_scale",
                                                           "kp_scale"))


@dataclass(frozen=True)
class SimConfig:
    """The twin's imperfections. Defaults: an ideal, instantaneous robot whose readings are
    quantised like the real encoders, stepped as fast as the CPU allows.

    observation_latency_s: ``read()`` returns the state of this long ago (rounded to whole
        physics steps): the bus transfer and the servo's sampling delay.
    action_latency_s: a command written now acts on the physics this much later (rounded
        to whole physics steps).
    position_noise_std_rad: std of Gaussian noise on every position read (joints and
        sensors), added before quantisation.
    velocity_noise_std_rad_s: std of Gaussian noise on every velocity read.
    quantize: positions read and goal positions sent are rounded to whole encoder ticks
        (``2 pi / 4096`` rad), as the bus does.
    realtime: ``sleep_until`` also waits for the wall clock (``drivers.clock`` precise
        sleeping), so a loop runs at the pace it would on hardware; the lateness returned is
        then measured on the wall clock.
    render_height_px / render_width_px: size of ``render()``'s image.
    render_camera: a named camera of the scene (both scenes have ``side``), or ``None`` for
        the default free camera.
    randomization: per-episode domain randomisation, all off by default.
    """

    observation_latency_s: float = 0.0
    action_latency_s: float = 0.0
    position_noise_std_rad: float = 0.0
    velocity_noise_std_rad_s: float = 0.0
    quantize: bool = True
    realtime: bool = False
    render_height_px: int = 480
    render_width_px: int = 640
    render_camera: str | None = None
    randomization: DomainRandomization = DomainRandomization()

    def __post_init__(self) -> None:
        for name in ("observation_latency_s", "action_latency_s", "position_noise_std_rad",
                     "velocity_noise_std_rad_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if self.render_height_px <= 0 or self.render_width_px <= 0:
            raise ValueError(f"render size must be positive, got {self.render_height_px}x{self.render_width_px}")


def sim_config_from_dict(data: dict[str, Any], source: str = "<sim config>") -> SimConfig:
    """Build a :class:`SimConfig` from a mapping; raises :class:`drivers.config.ConfigError`
    naming ``source`` and the key on any unknown key or bad value."""
    return build(SimConfig, data, source)


def load_sim_config(path: str | Path) -> SimConfig:
    """Load the ``sim:`` section of ``path`` (or the whole file if it has no such key; an
    empty file gives the defaults). Raises :class:`drivers.config.ConfigError`."""
    data = load_yaml(path)
    if "sim" in data:
        data = data["sim"]
        if data is None:
            return SimConfig()
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: sim: expected a mapping, got {type(data).__name__}")
    return sim_config_from_dict(data, str(path))

