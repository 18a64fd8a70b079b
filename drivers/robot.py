"""The one interface that real hardware, virtual hardware and the MuJoCo twin share."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class RobotSpec:
    """What a robot is: commanded joints with their limits in SI units, its control rate and
    bounds, and ``sensor_names``: passive joints that are measured but never commanded (the
    D'Claw's valve), ``max_step_rad``: largest change of a joint command per control step."""

    name: str
    joint_names: tuple[str, ...]
    position_min_rad: np.ndarray
    position_max_rad: np.ndarray
    velocity_max_rad_s: np.ndarray
    control_rate_hz: float
    control_rate_min_hz: float = 1.0
    control_rate_max_hz: float = 500.0
    sensor_names: tuple[str, ...] = ()
    max_step_rad: float = np.inf

    @property
    def n_joints(self) -> int:
        return len(self.joint_names)


@dataclass(frozen=True)
class JointState:
    """One reading of every joint.

    timestamp_s: ``time.monotonic()`` (hardware) or simulated time (twin) of the reading.
    position_rad, velocity_rad_s, effort: shape (n_joints,); effort in A where the servo
        senses current, else a fraction of maximum torque.
    faults: per joint, the names of hardware fault flags raised (empty when healthy).
    sensor_position_rad, sensor_velocity_rad_s: shape (n_sensors,), the passive joints.
    stale: True when this is not a fresh reading but the last good one standing in for a read
        that failed (the safety stack's policy for transient bus errors; never from a robot).
    """

    timestamp_s: float
    position_rad: np.ndarray
    velocity_rad_s: np.ndarray
    effort: np.ndarray
    faults: tuple[tuple[str, ...], ...] = field(default=())
    sensor_position_rad: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sensor_velocity_rad_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stale: bool = False

    @property
    def has_fault(self) -> bool:
        return any(self.faults)

    def fault_summary(self, joint_names: tuple[str, ...]) -> str:
        return ", ".join(f"{n}: {'|'.join(f)}" for n, f in zip(joint_names, self.faults) if f)


@runtime_checkable
class Robot(Protocol):
    """A robot the env can drive. Opening turns torque on and holds the present pose;
    closing (also on any error) turns torque off.

    ``write`` clips to the joint range (the servo's own limits are programmed too); the
    per-step limits, the workspace, the watchdog and the exits are the safety stack's
    (``robot_side.safety.SafeRobot``), which every caller drives a robot through.
    """

    spec: RobotSpec
    #: A dry run: reads and computes, but never writes to the motors (torque included).
    read_only: bool
    #: The twin: time is simulated (``sleep_until`` steps the physics) and ``set_state``
    #: puts it in any state. Hardware moves to a state instead (a scripted reset).
    simulated: bool

    def open(self) -> "Robot": ...

    def close(self) -> None: ...

    def __enter__(self) -> "Robot": ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def read(self) -> JointState:
        """The present state; raises on a failed read (never returns stale values)."""
        ...

    def write(self, position_rad: np.ndarray) -> np.ndarray:
        """Command joint positions; returns what was actually sent after clipping."""
        ...

    def now_s(self) -> float:
        """The robot's clock: ``time.monotonic()`` on hardware, simulated time on the twin."""
        ...

    def sleep_until(self, t_s: float) -> float:
        """Let time pass until ``t_s`` on the robot's clock (hardware: wait precisely; twin:
        step the physics). Returns how late it returned (s)."""
        ...

    def hold(self) -> np.ndarray:
        """Command every joint to stay where it is now; returns that command (rad)."""
        ...

    def torque_off(self) -> None:
        """Torque off on every motor that answers; never raises (every exit path calls it)."""
        ...

    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> None:
        """The twin only (``simulated``): start an episode in this state. Hardware raises
        ``NotImplementedError``."""
        ...
