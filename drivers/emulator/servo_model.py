"""A servo's mechanics and electronics as plain numbers, and the default plant built on them.

:class:`ServoParams` is a frozen dataclass so that the emulator, the MuJoCo twin and the
configs share one description of a servo model. :class:`ServoModelPlant` is the default
:class:`~drivers.emulator.plant.Plant`: per servo, a proportional position loop whose velocity
and acceleration are limited, with no load (no gravity, no contact). It is deliberately
simple: enough for a driver to see present position converge to goal position with plausible
velocity, current and timing; the twin supplies real dynamics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np

from drivers.emulator.plant import PlantCommand, PlantState
from drivers.errors import ConfigurationError
from drivers.servo_params import STS3215_PARAMS, XM430_W350_PARAMS
from drivers.servo_params import ServoParams as PositionLoop

MAX_SUBSTEP_S = 0.002  # integration step while packets come often
MAX_SUBSTEPS = 500  # a longer gap (a stalled process) is integrated with coarser steps...
STABLE_GAIN_STEP = 0.5  # ...but never coarser than this / gain, where the loop stays monotone
SETTLED_CHECK_EVERY = 64  # on a long gap, stop integrating once everything has settled
COAST_TIME_CONSTANT_S = 0.05  # torque off: the gearbox friction stops the shaft quickly
SETTLED_POSITION_RAD = 1e-5
SETTLED_VELOCITY_RAD_S = 1e-4
_MAY_BE_ZERO = frozenset({"ambient_temperature_c", "idle_current_a", "damping_nm_s_rad",
                          "temperature_rise_at_stall_c"})


@dataclass(frozen=True)
class ServoParams:
    """One servo model's physical numbers, in SI units. All are finite; all but the
    ambient temperature, idle current and damping are positive.

    position_gain_1_s: bandwidth of the position loop: the velocity asked for is
        ``gain * position error`` (1/s), so the error decays with time constant 1/gain.
    max_velocity_rad_s: no-load speed at the nominal supply.
    max_acceleration_rad_s2: the fastest the loop changes speed (unloaded).
    stall_torque_nm / stall_current_a: effort limit and the current it draws there.
    idle_current_a: current drawn by the electronics when not moving.
    inertia_kg_m2 / damping_nm_s_rad: reflected rotor inertia and viscous friction, only used to
        report a plausible torque (and current) while the shaft accelerates and moves.
    encoder_ticks_per_turn: quantisation of the reported position.
    supply_voltage_v: what present voltage reads.
    ambient_temperature_c, temperature_rise_at_stall_c, thermal_time_constant_s: the winding
        temperature rises toward ``ambient + rise * (current / stall current)^2``.
    """

    position_gain_1_s: float
    max_velocity_rad_s: float
    max_acceleration_rad_s2: float
    stall_torque_nm: float
    stall_current_a: float
    idle_current_a: float = 0.05
    inertia_kg_m2: float = 2e-3
    damping_nm_s_rad: float = 0.05
    encoder_ticks_per_turn: int = 4096
    supply_voltage_v: float = 12.0
    ambient_temperature_c: float = 28.0
    temperature_rise_at_stall_c: float = 60.0
    thermal_time_constant_s: float = 120.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ConfigurationError(f"ServoParams.{f.name} must be a finite number, got {value!r}")
            if f.name not in _MAY_BE_ZERO and value <= 0:
                raise ConfigurationError(f"ServoParams.{f.name} must be positive, got {value!r}")
            if f.name in _MAY_BE_ZERO and f.name != "ambient_temperature_c" and value < 0:
                raise ConfigurationError(f"ServoParams.{f.name} must not be negative, got {value!r}")

    @property
    def rad_per_tick(self) -> float:
        return 2 * math.pi / self.encoder_ticks_per_turn

    @property
    def torque_constant_nm_per_a(self) -> float:
        return self.stall_torque_nm / self.stall_current_a


def _rpm(rpm: float) -> float:
    return rpm * 2 * math.pi / 60


def from_position_loop(loop: PositionLoop, stall_current_a: float, idle_current_a: float) -> ServoParams:
    """The emulator's servo model from the position loop the twin uses
    (:mod:`drivers.servo_params`), so that emulated and simulated servos agree: unloaded, the
    twin's loop settles with time constant ``damping / kp`` and accelerates at most at
    ``max_torque / armature``."""
    return ServoParams(position_gain_1_s=loop.kp_nm_per_rad / loop.damping_nm_s_per_rad,
                       max_velocity_rad_s=loop.max_velocity_rad_s,
                       max_acceleration_rad_s2=loop.max_torque_nm / loop.armature_kg_m2,
                       stall_torque_nm=loop.max_torque_nm, stall_current_a=stall_current_a,
                       idle_current_a=idle_current_a, inertia_kg_m2=loop.armature_kg_m2,
                       damping_nm_s_rad=loop.damping_nm_s_per_rad,
                       encoder_ticks_per_turn=loop.ticks_per_turn, supply_voltage_v=loop.supply_voltage_v)


# The STS3215 and XM430-W350 share the twin's position loop (drivers/servo_params.py); their
# stall currents are datasheet figures. The XL330 and XL430 have no twin yet: datasheet
# no-load speed, stall torque and current, with gains, accelerations and inertias estimated
# to give the response of a servo with its factory gains and a light link.
SERVO_PARAMS: dict[str, ServoParams] = {
    "XM430-W350": from_position_loop(XM430_W350_PARAMS, stall_current_a=2.3, idle_current_a=0.04),
    "XL430-W250": ServoParams(position_gain_1_s=35.0, max_velocity_rad_s=_rpm(57), max_acceleration_rad_s2=80.0,
                              stall_torque_nm=1.5, stall_current_a=1.4, idle_current_a=0.05,
                              inertia_kg_m2=1e-3, supply_voltage_v=12.0),
    "XL330-M288": ServoParams(position_gain_1_s=40.0, max_velocity_rad_s=_rpm(103), max_acceleration_rad_s2=150.0,
                              stall_torque_nm=0.52, stall_current_a=1.47, idle_current_a=0.03,
                              inertia_kg_m2=3e-4, damping_nm_s_rad=0.01, supply_voltage_v=5.0),
    "STS3215": from_position_loop(STS3215_PARAMS, stall_current_a=2.7, idle_current_a=0.05),
}


def params_for(model: str) -> ServoParams:
    """The default :class:`ServoParams` of ``model``; raises :class:`ConfigurationError`."""
    try:
        return SERVO_PARAMS[model]
    except KeyError:
        raise ConfigurationError(
            f"no servo parameters for model {model!r}; known: {', '.join(sorted(SERVO_PARAMS))}") from None


class ServoModelPlant:
    """Independent servos, each a velocity- and acceleration-limited proportional loop.

    ``params``: one :class:`ServoParams` per servo. ``initial_position_rad``: ``(n,)`` encoder
    angles at power-on. Positions are reported quantised to the encoder; the internal state is
    continuous. Integration is semi-implicit Euler with steps of at most 2 ms; nothing is
    computed while every shaft is settled.
    """

    def __init__(self, params: Sequence[ServoParams], initial_position_rad: Sequence[float] | np.ndarray) -> None:
        position = np.asarray(initial_position_rad, dtype=np.float64).reshape(-1)
        if position.shape[0] != len(params):
            raise ConfigurationError(f"{len(params)} servo params but {position.shape[0]} initial positions")
        self.params = tuple(params)
        self._gain = np.array([p.position_gain_1_s for p in params])
        self._gain_max = float(self._gain.max()) if len(params) else 0.0
        self._v_max = np.array([p.max_velocity_rad_s for p in params])
        self._a_max = np.array([p.max_acceleration_rad_s2 for p in params])
        self._stall = np.array([p.stall_torque_nm for p in params])
        self._inertia = np.array([p.inertia_kg_m2 for p in params])
        self._damping = np.array([p.damping_nm_s_rad for p in params])
        self._quantum = np.array([p.rad_per_tick for p in params])
        self._position = position.copy()
        self._velocity = np.zeros_like(position)
        self._torque = np.zeros_like(position)
        self._last_s: float | None = None

    @property
    def n_servos(self) -> int:
        return self._position.shape[0]

    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        """Integrate from the previous call to ``now_s``; see :class:`~drivers.emulator.plant.Plant`."""
        last, self._last_s = self._last_s, now_s
        dt = 0.0 if last is None else now_s - last
        if dt > 0.0 and not self._settled(command):
            n_steps = min(MAX_SUBSTEPS, math.ceil(dt / MAX_SUBSTEP_S))
            n_steps = max(n_steps, math.ceil(dt * self._gain_max / STABLE_GAIN_STEP))
            step = dt / n_steps
            for k in range(1, n_steps + 1):
                self._step(step, command)
                if k % SETTLED_CHECK_EVERY == 0 and self._settled(command):
                    self._velocity[:] = 0.0
                    self._torque[:] = 0.0
                    break
        elif dt > 0.0:
            self._velocity[:] = 0.0
            self._torque[:] = 0.0
        return PlantState(np.round(self._position / self._quantum) * self._quantum,
                          self._velocity.copy(), self._torque.copy())

    def _settled(self, command: PlantCommand) -> bool:
        if np.any(np.abs(self._velocity) > SETTLED_VELOCITY_RAD_S):
            return False
        error = np.abs(command.goal_position_rad - self._position)
        return not np.any(command.torque_on & (error > SETTLED_POSITION_RAD))

    def _step(self, dt: float, command: PlantCommand) -> None:
        v_limit = np.minimum(self._v_max, command.max_velocity_rad_s)
        effort = np.clip(command.effort_limit, 0.0, 1.0)
        a_limit = np.minimum(np.minimum(self._a_max, command.max_acceleration_rad_s2),
                             np.maximum(effort * self._stall / self._inertia, 1e-9))
        v_wanted = np.clip(self._gain * (command.goal_position_rad - self._position), -v_limit, v_limit)
        accel = np.clip((v_wanted - self._velocity) / dt, -a_limit, a_limit)
        coast = -self._velocity * (1.0 - math.exp(-dt / COAST_TIME_CONSTANT_S)) / dt
        accel = np.where(command.torque_on, accel, coast)
        self._velocity += accel * dt
        self._position += self._velocity * dt
        torque = self._inertia * accel + self._damping * self._velocity
        limit = effort * self._stall
        self._torque = np.where(command.torque_on, np.clip(torque, -limit, limit), 0.0)
