"""The ``Plant``: what moves the emulated servos' shafts.

The emulator owns the bytes and the control-table memory; a plant owns the physics. It is
asked, whenever a packet is handled (and on an idle tick), to advance to the wall-clock time
``now_s`` under the command the servos' registers currently hold, and answers with the shaft
states. The default is :class:`drivers.emulator.servo_model.ServoModelPlant` (one independent
rate- and acceleration-limited position loop per servo); the MuJoCo twin in ``sim`` implements
the same protocol so that the emulated bus drives the simulated robot.

Conventions, shared by every plant:

- Arrays are float64 (bool for ``torque_on``) of shape ``(n_servos,)``, in the order of the
  bus's servo list (``VirtualBus(servos=[...])``), which never changes, even when a client
  rewrites a servo's id.
- Positions are the servo's own encoder angle in rad, before any homing offset: tick 0 is
  0 rad, tick 2048 is pi rad (4096 ticks per turn). Mapping them to joint angles is the
  plant's business (the twin adds its calibration).
- ``now_s`` is ``time.monotonic()``; it never decreases between calls. The first call only
  sets the plant's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


@dataclass
class PlantCommand:
    """What the servos' registers ask of the plant; the emulator updates it in place.

    ``goal_position_rad``: target encoder angle (rad). ``torque_on``: False lets the shaft
    coast. ``max_velocity_rad_s`` / ``max_acceleration_rad_s2``: the motion profile the
    registers request (``inf``: no profile, the servo's own maximum applies).
    ``effort_limit``: the fraction 0..1 of stall torque the servo may use (current / torque
    limit registers).
    """

    goal_position_rad: np.ndarray
    torque_on: np.ndarray
    max_velocity_rad_s: np.ndarray
    max_acceleration_rad_s2: np.ndarray
    effort_limit: np.ndarray

    @classmethod
    def idle(cls, position_rad: np.ndarray) -> "PlantCommand":
        """Torque off, holding ``position_rad`` as goal, no profile, full effort."""
        position_rad = np.asarray(position_rad, dtype=np.float64).copy()
        n = position_rad.shape[0]
        return cls(goal_position_rad=position_rad, torque_on=np.zeros(n, dtype=bool),
                   max_velocity_rad_s=np.full(n, np.inf), max_acceleration_rad_s2=np.full(n, np.inf),
                   effort_limit=np.ones(n))


class PlantState(NamedTuple):
    """Shaft states, each ``(n_servos,)`` float64: encoder angle (rad), angular velocity
    (rad/s) and the torque the motor produces (N.m, signed like the velocity it drives)."""

    position_rad: np.ndarray
    velocity_rad_s: np.ndarray
    torque_nm: np.ndarray


@runtime_checkable
class Plant(Protocol):
    """Advances the shafts of all servos of one bus; see the module docstring."""

    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        """Move to ``now_s`` under ``command`` and return the state at ``now_s``.

        Must be cheap when called at kHz rates with small time steps: the emulator calls it
        on every packet. The returned arrays may be reused by the plant on the next call.
        """
        ...
