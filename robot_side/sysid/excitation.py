"""The excitation run of system identification: one joint at a time, a chirp then steps.

Every other joint holds its home pose. Each joint's part:

1. a smooth move (half a cosine) from home to the middle of its excitation band;
2. a hold (the arm settles: sag and friction show);
3. a linear chirp of amplitude ``A`` from ``chirp_start_hz`` to ``chirp_end_hz`` (inertia and
   damping show in the phase and gain across frequencies);
4. steps to ``+A, -A, +A/2, -A/2, 0`` from the middle, each held ``step_hold_s`` (the gain,
   the friction's dead band and, for the big ones, the effort limit show);
5. a smooth move back home.

``A`` is ``amplitude_rad`` or less: the band ``middle +- A`` stays inside the joint's range
with ``margin_rad`` to spare, and the chirp's top frequency is lowered until its peak speed
is at most ``speed_fraction`` of the joint's velocity limit and its largest change per
period at most the robot's ``max_step_rad``. So the plan never asks for a command outside
a limit; the safety stack (which clips anyway) is a second line, not the first. Steps are
commanded as steps: the safety stack turns them into the fastest ramp the limits allow, and
the log records what was sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from drivers.robot import RobotSpec

REST = -1
"""``segment`` value of the rows where no joint is being excited (the start and the end)."""


@dataclass(frozen=True)
class ExcitationConfig:
    """How hard and how long each joint is excited; the defaults take about 16 s a joint."""

    amplitude_rad: float = 0.5
    margin_rad: float = 0.05
    speed_fraction: float = 0.6
    move_s: float = 1.0
    settle_s: float = 1.0
    chirp_s: float = 8.0
    chirp_start_hz: float = 0.2
    chirp_end_hz: float = 2.0
    step_hold_s: float = 1.0
    rest_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("amplitude_rad", "speed_fraction", "move_s", "chirp_s", "chirp_start_hz", "chirp_end_hz",
                     "step_hold_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"excitation {name} must be finite and > 0, got {value!r}")
        for name in ("margin_rad", "settle_s", "rest_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"excitation {name} must be finite and >= 0, got {value!r}")
        if self.chirp_end_hz < self.chirp_start_hz:
            raise ValueError(f"excitation chirp_end_hz ({self.chirp_end_hz}) is below chirp_start_hz "
                             f"({self.chirp_start_hz})")
        if self.speed_fraction > 1:
            raise ValueError(f"excitation speed_fraction must be at most 1, got {self.speed_fraction}")


STEP_FRACTIONS = (1.0, -1.0, 0.5, -0.5, 0.0)
"""The steps of each joint's part, as fractions of its amplitude from the band's middle."""


@dataclass(frozen=True)
class ExcitationPlan:
    """Commands, one row per control period, and which joint each row excites (``REST``)."""

    commands_rad: np.ndarray  # (n, n_joints)
    segment: np.ndarray       # (n,) int: joint index, or REST
    amplitude_rad: np.ndarray  # (n_joints,) what each joint got
    chirp_end_hz: np.ndarray   # (n_joints,)
    rate_hz: float

    @property
    def duration_s(self) -> float:
        return len(self.segment) / self.rate_hz


def plan_excitation(spec: RobotSpec, home_rad: np.ndarray, rate_hz: float, joints: list[int] | None = None,
                    config: ExcitationConfig = ExcitationConfig()) -> ExcitationPlan:
    """The excitation of ``joints`` (indices, default all) at ``rate_hz`` from ``home_rad``.
    Raises ``ValueError`` when a joint's range leaves no room to move inside its margins."""
    period = 1.0 / rate_hz
    low, high = spec.position_min_rad, spec.position_max_rad
    home = np.clip(np.asarray(home_rad, dtype=np.float64), low, high)
    n_joints = len(low)
    joints = list(range(n_joints)) if joints is None else list(joints)
    max_step = min(spec.max_step_rad, float(np.min(spec.velocity_max_rad_s)) * period) \
        if spec.max_step_rad else float(np.min(spec.velocity_max_rad_s)) * period
    amplitude = np.zeros(n_joints)
    top_hz = np.zeros(n_joints)
    rows: list[np.ndarray] = [np.tile(home, (_count(config.rest_s, rate_hz), 1))]
    segment: list[np.ndarray] = [np.full(len(rows[0]), REST)]
    for j in joints:
        half_room = (high[j] - low[j]) / 2 - config.margin_rad
        if half_room <= 0:
            raise ValueError(f"joint {spec.joint_names[j]}: its range [{low[j]:.4g}, {high[j]:.4g}] rad leaves no "
                             f"room for excitation inside a {config.margin_rad:g} rad margin")
        a = min(config.amplitude_rad, half_room)
        middle = float(np.clip(home[j], low[j] + config.margin_rad + a, high[j] - config.margin_rad - a))
        speed = config.speed_fraction * float(spec.velocity_max_rad_s[j])
        # Peak speed of A sin(2 pi f t) is 2 pi f A; its largest change in one period about that times the period.
        f_end = min(config.chirp_end_hz, speed / (2 * math.pi * a), max_step / (2 * math.pi * a * period))
        f_start = min(config.chirp_start_hz, f_end)
        amplitude[j], top_hz[j] = a, f_end
        part = [_move(home, j, home[j], middle, config.move_s, rate_hz),
                _hold(home, j, middle, config.settle_s, rate_hz),
                _chirp(home, j, middle, a, f_start, f_end, config.chirp_s, rate_hz)]
        part += [_hold(home, j, middle + f * a, config.step_hold_s, rate_hz) for f in STEP_FRACTIONS]
        part.append(_move(home, j, middle, home[j], config.move_s, rate_hz))
        block = np.concatenate(part)
        rows.append(block)
        segment.append(np.full(len(block), j))
    rows.append(np.tile(home, (_count(config.rest_s, rate_hz), 1)))
    segment.append(np.full(len(rows[-1]), REST))
    commands = np.clip(np.concatenate(rows), low, high)
    return ExcitationPlan(commands, np.concatenate(segment).astype(np.int64), amplitude, top_hz, float(rate_hz))


def _count(seconds: float, rate_hz: float) -> int:
    return int(round(seconds * rate_hz))


def _rows(home: np.ndarray, j: int, values: np.ndarray) -> np.ndarray:
    out = np.tile(home, (len(values), 1))
    out[:, j] = values
    return out


def _hold(home: np.ndarray, j: int, value: float, seconds: float, rate_hz: float) -> np.ndarray:
    return _rows(home, j, np.full(_count(seconds, rate_hz), value))


def _move(home: np.ndarray, j: int, start: float, end: float, seconds: float, rate_hz: float) -> np.ndarray:
    n = max(1, _count(seconds, rate_hz))
    s = (1 - np.cos(np.pi * np.arange(1, n + 1) / n)) / 2
    return _rows(home, j, start + (end - start) * s)


def _chirp(home: np.ndarray, j: int, middle: float, amplitude: float, f_start: float, f_end: float,
           seconds: float, rate_hz: float) -> np.ndarray:
    t = np.arange(_count(seconds, rate_hz)) / rate_hz
    phase = 2 * np.pi * (f_start * t + (f_end - f_start) * t**2 / (2 * seconds))
    return _rows(home, j, middle + amplitude * np.sin(phase))
