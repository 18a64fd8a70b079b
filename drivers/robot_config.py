"""The robot config: which servos, on which bus, with which limits. One YAML file per robot
under ``robot_side/robot_configs/``; the calibration file it names sits beside it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from drivers.config import ConfigError, build, load_yaml
from drivers.dynamixel import protocol as dynamixel_protocol
from drivers.feetech import protocol as feetech_protocol
from drivers.robot import RobotSpec

MAX_MOTOR_ID = {"dynamixel": dynamixel_protocol.MAX_ID, "feetech": feetech_protocol.MAX_ID}
"""The largest id a motor may have, by protocol."""


@dataclass(frozen=True)
class JointConfig:
    """One joint driven by one servo.

    name: joint name, as the twin's MuJoCo joint is named.
    id: the servo's bus id.
    model: servo model, e.g. ``STS3215`` or ``XM430-W350``.
    position_min_rad / position_max_rad: command range in the joint frame (after calibration).
    velocity_max_rad_s: fastest allowed joint speed; commands move at most this far per period.
    effort_max: current limit in A where the model senses current, else a fraction of
        maximum torque (0..1); programmed into the servo when it has such a register.
    """

    name: str
    id: int
    model: str
    position_min_rad: float
    position_max_rad: float
    velocity_max_rad_s: float = 6.0
    effort_max: float | None = None

    def __post_init__(self) -> None:
        if not self.position_min_rad < self.position_max_rad:
            raise ValueError(f"joint {self.name}: position_min_rad {self.position_min_rad} must be "
                             f"below position_max_rad {self.position_max_rad}")
        if abs(self.position_min_rad) > 2 * math.pi or abs(self.position_max_rad) > 2 * math.pi:
            raise ValueError(f"joint {self.name}: position limits must lie within +/-2 pi rad")
        if self.velocity_max_rad_s <= 0:
            raise ValueError(f"joint {self.name}: velocity_max_rad_s must be positive")


@dataclass(frozen=True)
class SensorConfig:
    """A passive joint read through a servo that is never commanded (torque stays off), such
    as the D'Claw's valve encoder. name: the twin's joint name. id, model: as for joints.
    direction: +1 or -1 to match the twin's joint sign."""

    name: str
    id: int
    model: str
    direction: Literal[1, -1] = 1


@dataclass(frozen=True)
class WorkspaceConfig:
    """A box the named site (e.g. the gripper) must stay inside, in the robot base frame (m).
    Commands whose pose would put the site outside are shortened (safety layer)."""

    site: str
    min_m: tuple[float, float, float]
    max_m: tuple[float, float, float]

    def __post_init__(self) -> None:
        if not all(lo < hi for lo, hi in zip(self.min_m, self.max_m)):
            raise ValueError(f"workspace: min_m {self.min_m} must be below max_m {self.max_m} on every axis")


@dataclass(frozen=True)
class SafetyConfig:
    """How the safety stack (``robot_side.safety.SafeRobot``) guards this robot on every path.

    watchdog_hold_periods: with no command for this many control periods (while commands are
        due: the real-time loop, the deploy runner) the watchdog holds the present position;
    watchdog_torque_off_s: still none this much later, it turns torque off for good.
    read_retry_fraction: a state read that failed (after the bus's own ``retries``) is tried
        again while less than this fraction of the control period has passed since it began;
        then the last good state stands in (marked stale, the command held) for that period.
    max_missed_reads: periods in a row without a fresh state before the run ends with torque
        off (``BusFaultPersistsError``).
    """

    watchdog_hold_periods: int = 5
    watchdog_torque_off_s: float = 0.5
    read_retry_fraction: float = 0.5
    max_missed_reads: int = 3

    def __post_init__(self) -> None:
        if self.watchdog_hold_periods < 1:
            raise ValueError(f"safety.watchdog_hold_periods must be at least 1, got {self.watchdog_hold_periods}")
        if not self.watchdog_torque_off_s > 0:
            raise ValueError(f"safety.watchdog_torque_off_s must be positive, got {self.watchdog_torque_off_s}")
        if not 0.0 <= self.read_retry_fraction < 1.0:
            raise ValueError(f"safety.read_retry_fraction must be in [0, 1), got {self.read_retry_fraction}")
        if self.max_missed_reads < 1:
            raise ValueError(f"safety.max_missed_reads must be at least 1, got {self.max_missed_reads}")


@dataclass(frozen=True)
class RobotConfig:
    """A robot made of serial-bus servos.

    name: robot id (``so101``, ``dclaw``); also names the twin's model folder.
    protocol: ``dynamixel`` (Protocol 2.0) or ``feetech`` (STS/SMS).
    joints: the servos, in the order of observation and action vectors.
    backend: ``sim`` (the MuJoCo twin), ``virtual`` (the emulated bus with the twin as
        plant) or ``serial`` (a real port).
    port: device path or pyserial URL, for ``serial``.
    baud: bus baud rate.
    calibration: calibration YAML, relative to this file; none means raw encoder frame.
    twin_params: the twin's physics (``sim/twin_params.py``: servo gains, damping, armature,
        friction, effort limits, delay), relative to this file, e.g. what ``robot-rl sysid fit``
        wrote; none keeps the model's. Used by the twin and by virtual hardware's plant.
    virtual_plant: physics for virtual hardware's plant only (the same format), relative to
        this file: a stand-in for a real robot that differs from its twin; none means
        ``twin_params``.
    control_rate_hz: default control rate.
    max_step_rad: largest change of a joint command per control step.
    return_delay_s: the servos' status return delay (set in their EEPROM).
    fast_sync_read: Dynamixel only: read with FAST_SYNC_READ (firmware 46+).
    poll_replies: poll for a reply the whole time it is awaited, as the vendor SDKs do (a
        whole core busy; about 20 us less per cycle, docs/motors.md) instead of sleeping
        until 0.5 ms before it is due (the default, for the policy and learner's sake).
    retries: bus retries after a transient error.
    home_position_rad: where the scripted reset moves the joints (default: range middle).
    sensors: passive joints read with the others but never commanded.
    workspace: optional box for a site of the arm (checked on every command).
    safety: the watchdog and the policy for failed state reads (:class:`SafetyConfig`).
    """

    name: str
    protocol: Literal["dynamixel", "feetech"]
    joints: tuple[JointConfig, ...]
    backend: Literal["sim", "virtual", "serial"] = "sim"
    port: str | None = None
    baud: int = 1_000_000
    calibration: str | None = None
    twin_params: str | None = None
    virtual_plant: str | None = None
    control_rate_hz: float = 20.0
    max_step_rad: float = 0.25
    return_delay_s: float = 0.0
    fast_sync_read: bool = False
    poll_replies: bool = False
    retries: int = 2
    home_position_rad: tuple[float, ...] | None = None
    sensors: tuple[SensorConfig, ...] = ()
    workspace: WorkspaceConfig | None = None
    safety: SafetyConfig = SafetyConfig()

    def __post_init__(self) -> None:
        names = [j.name for j in self.joints] + [s.name for s in self.sensors]
        ids = [j.id for j in self.joints] + [s.id for s in self.sensors]
        if not self.joints:
            raise ValueError("joints: at least one joint is needed")
        max_id = MAX_MOTOR_ID[self.protocol]
        for motor in (*self.joints, *self.sensors):
            if not 0 <= motor.id <= max_id:
                raise ValueError(f"joint {motor.name}: id {motor.id} is outside the {self.protocol} range "
                                 f"0..{max_id}")
        if len(set(names)) != len(names):
            raise ValueError(f"joints: duplicate joint names {names}")
        if len(set(ids)) != len(ids):
            raise ValueError(f"joints: duplicate servo ids {ids}")
        if self.home_position_rad is not None and len(self.home_position_rad) != len(self.joints):
            raise ValueError(f"home_position_rad has {len(self.home_position_rad)} values for "
                             f"{len(self.joints)} joints")
        if self.control_rate_hz <= 0 or self.max_step_rad <= 0:
            raise ValueError("control_rate_hz and max_step_rad must be positive")

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def sensor_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    @property
    def position_min_rad(self) -> np.ndarray:
        return np.array([j.position_min_rad for j in self.joints])

    @property
    def position_max_rad(self) -> np.ndarray:
        return np.array([j.position_max_rad for j in self.joints])

    @property
    def velocity_max_rad_s(self) -> np.ndarray:
        return np.array([j.velocity_max_rad_s for j in self.joints])

    @property
    def spec(self) -> RobotSpec:
        """The ``RobotSpec`` every backend of this robot reports."""
        return RobotSpec(self.name, self.joint_names, self.position_min_rad, self.position_max_rad,
                         self.velocity_max_rad_s, self.control_rate_hz, sensor_names=self.sensor_names,
                         max_step_rad=self.max_step_rad)

    @property
    def home_rad(self) -> np.ndarray:
        if self.home_position_rad is not None:
            return np.array(self.home_position_rad)
        return (self.position_min_rad + self.position_max_rad) / 2


def load_robot_config(path: str | Path, **overrides: object) -> RobotConfig:
    """Load ``path``; the ``robot:`` section may be the whole file or its top-level key.
    ``overrides`` replace fields (e.g. ``port=...``). The paths of the files it names
    (calibration, twin parameters) become absolute."""
    path = Path(path)
    data = load_yaml(path)
    if set(data) == {"robot"}:
        data = data["robot"]
    data = {**data, **{k: v for k, v in overrides.items() if v is not None}}
    config = build(RobotConfig, data, str(path))
    for key in ("calibration", "twin_params", "virtual_plant"):
        name = getattr(config, key)
        if name is not None:
            config = dataclasses.replace(config, **{key: str((path.parent / name).resolve())})
    if config.backend == "serial" and not config.port:
        raise ConfigError(f"{path}: backend 'serial' needs 'port' (e.g. /dev/ttyUSB0), or pass --port")
    return config
