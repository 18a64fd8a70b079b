"""``TwinPlant``: the emulated servo bus's :class:`~drivers.emulator.plant.Plant`, with the
MuJoCo twin as the physics. This is what makes virtual hardware move like the twin::

    plant = TwinPlant(config, load_calibration(config.calibration))
    with VirtualBus(config.protocol, plant.servo_specs(), baud=config.baud, plant=plant) as bus:
        with BusRobot(config, port=bus.port) as robot:   # the real driver, over a pty
            ...

Frames. The bus speaks encoder angles (tick 2048 = pi rad, before the homing offset); the
twin speaks joint angles. For a joint servo with calibration direction ``dir`` and homing
offset ``h`` ticks, on a bus whose present position is ``actual + sign * h`` (``sign`` = +1
for Dynamixel, -1 for Feetech, the control table's ``homing_offset_sign``)::

    encoder_rad = pi + dir * joint_rad - sign * h * 2 pi / 4096

so that the driver's ``joint_rad = dir * (present_ticks - 2048) * 2 pi / 4096`` reads the
twin's joint angle back. Without a calibration ``dir = 1, h = 0``. Sensors (the D'Claw valve)
use their config ``direction`` and no offset. Velocities and torques are multiplied by the
direction; a sensor's torque is 0.

Servo order is the config's joints, then its sensors (as ``BusRobot`` lists them).
"""

from __future__ import annotations

import logging
import math
from collections import deque

import mujoco
import numpy as np

from drivers.calibration import Calibration
from drivers.emulator.bus import VENDORS
from drivers.emulator.plant import PlantCommand, PlantState
from drivers.emulator.spec import ServoSpec
from drivers.robot_config import RobotConfig
from sim.errors import SimConfigurationError
from sim.sim_config import TICKS_PER_TURN
from sim.twin_model import TwinModel
from sim.twin_params import twin_params_of

log = logging.getLogger(__name__)

RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN
DEFAULT_MAX_GAP_S = 0.25
_STEP_SLACK = 1e-6


class TwinPlant:
    """The twin of ``config.name`` as the plant of an emulated bus of ``config``'s servos.

    calibration: the one the driver will use (directions and homing offsets); None is the
        identity (``joint_rad = encoder_rad - pi``).
    max_gap_s: a longer gap between two ``advance`` calls (a stalled process, a debugger)
        is not simulated: the clock skips ahead and only this much is stepped.

    What the twin does not model: the velocity and acceleration profile registers
    (``max_velocity_rad_s``, ``max_acceleration_rad_s2`` of the command) are ignored, as
    ``SimRobot`` has none; a servo with torque off is fully limp (the joint's damping and
    friction remain).

    Raises :class:`SimConfigurationError` when the model lacks a configured joint, the
    calibration lacks one or a servo model has no control table.
    """

    def __init__(self, config: RobotConfig, calibration: Calibration | None = None, *,
                 max_gap_s: float = DEFAULT_MAX_GAP_S) -> None:
        self.config = config
        self.twin = TwinModel(config, params=twin_params_of(config, plant=True))
        self.model, self.data = self.twin.model, self.twin.data
        params = self.twin.params
        self._delay_steps = int(round(params.delay_s / self.twin.timestep_s))
        self._queue: deque[list] = deque()
        self._last_goal: np.ndarray | None = None
        self._backlash = (np.array([params.backlash_rad.get(n, 0.0) for n in config.joint_names])
                          if params.backlash_rad else None)
        self.timestep_s = self.twin.timestep_s
        n_joints, n_sensors = len(config.joints), len(config.sensors)
        self.n_joints, self.n_servos = n_joints, n_joints + n_sensors
        if calibration is not None:
            missing = [n for n in config.joint_names if n not in calibration.motors]
            if missing:
                raise SimConfigurationError(f"calibration has no entry for joint(s) {missing}")
            direction, offset_ticks = calibration.arrays(config.joint_names)
        else:
            direction, offset_ticks = np.ones(n_joints), np.zeros(n_joints, dtype=np.int64)
        tables = VENDORS[config.protocol].models
        unknown = [j.model for j in config.joints if j.model not in tables]
        if unknown:
            raise SimConfigurationError(f"no {config.protocol} control table for servo model(s) {unknown}")
        sign = np.array([tables[j.model].homing_offset_sign for j in config.joints])
        self._direction = direction.astype(np.float64)
        self._offset_rad = sign * offset_ticks * RAD_PER_TICK
        sensor_direction = np.array([s.direction for s in config.sensors], dtype=np.float64)
        self._servo_direction = np.concatenate([self._direction, sensor_direction])
        self._servo_offset_rad = np.concatenate([self._offset_rad, np.zeros(n_sensors)])
        self._max_gap_steps = max(1, int(max_gap_s / self.timestep_s))
        self._step = 0
        self._origin_s: float | None = None
        self._torque_on: np.ndarray | None = None
        self._effort_limit: np.ndarray | None = None
        self.skipped_s = 0.0
        self._scratch = np.zeros(self.n_servos)
        self._position = np.zeros(self.n_servos)
        self._velocity = np.zeros(self.n_servos)
        self._torque = np.zeros(self.n_servos)
        self.twin.set_torque(False)
        rest = np.clip(self.data.qpos[self.twin.joint_qpos], config.position_min_rad, config.position_max_rad)
        self.set_state(rest)

    # -- frames ------------------------------------------------------------------------------------
    def joint_to_encoder(self, joint_rad: np.ndarray) -> np.ndarray:
        """Joint angles (n_joints,) -> their servos' encoder angles (rad)."""
        return math.pi + self._direction * joint_rad - self._offset_rad

    def encoder_to_joint(self, encoder_rad: np.ndarray) -> np.ndarray:
        """Encoder angles of the joint servos (n_joints,) -> joint angles (rad)."""
        return self._direction * (encoder_rad - math.pi + self._offset_rad)

    # -- Plant -------------------------------------------------------------------------------------
    def advance(self, now_s: float, command: PlantCommand) -> PlantState:
        """Step the twin to ``now_s`` (``time.monotonic()``) under ``command``; the first call
        only sets the clock. A goal acts ``delay_s`` of the plant's physics after it arrives.
        Returns encoder-frame states (arrays reused by the next call)."""
        self._apply(command)
        if self._origin_s is None:
            self._origin_s = now_s - self._step * self.timestep_s
            self._release(len(self._queue))
            return self._state()
        target = math.floor((now_s - self._origin_s) / self.timestep_s + _STEP_SLACK)
        gap = target - self._step
        if gap > self._max_gap_steps:
            skipped = gap - self._max_gap_steps
            self._origin_s += skipped * self.timestep_s
            self.skipped_s += skipped * self.timestep_s
            log.warning("twin plant: %.3f s between steps; simulating only %.3f s of it",
                        gap * self.timestep_s, self._max_gap_steps * self.timestep_s)
            target -= skipped
            for item in self._queue:
                item[0] = max(self._step, item[0] - skipped)
        while self._queue and self._queue[0][0] <= target:
            due = self._queue[0][0]
            if due > self._step:
                mujoco.mj_step(self.model, self.data, due - self._step)
                self._step = due
            self._release(1)
        if target > self._step:
            mujoco.mj_step(self.model, self.data, target - self._step)
            self._step = target
        return self._state()

    # -- extras --------------------------------------------------------------------------------------
    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None) -> None:
        """Put the twin at rest at these joint and sensor angles (rad), each joint's goal
        at its position. The plant's clock keeps running."""
        joints = np.asarray(joint_position_rad, dtype=np.float64)
        if joints.shape != (self.n_joints,):
            raise ValueError(f"joint_position_rad has shape {joints.shape}, expected ({self.n_joints},)")
        n_sensors = self.n_servos - self.n_joints
        sensors = np.zeros(n_sensors) if sensor_position_rad is None else np.asarray(sensor_position_rad, np.float64)
        if sensors.shape != (n_sensors,):
            raise ValueError(f"sensor_position_rad has shape {sensors.shape}, expected ({n_sensors},)")
        self.twin.set_state(joints, sensors, joints, self._step * self.timestep_s)
        self._queue.clear()
        self._last_goal = None
        self._gear_goal = joints.copy()

    @property
    def position_rad(self) -> np.ndarray:
        """Encoder angles of every servo now (n_servos,), e.g. for power-on positions."""
        return self._state().position_rad.copy()

    @property
    def joint_position_rad(self) -> np.ndarray:
        """The twin's joint angles now (n_joints,), unquantised."""
        return self.data.qpos[self.twin.joint_qpos]

    def servo_specs(self) -> list[ServoSpec]:
        """One :class:`ServoSpec` per servo, in plant order, powered on where the twin is."""
        position = self.position_rad
        servos = list(self.config.joints) + list(self.config.sensors)
        return [ServoSpec(id=s.id, model=s.model, initial_position_rad=float(p)) for s, p in zip(servos, position)]

    # -- internals -----------------------------------------------------------------------------------
    def _apply(self, command: PlantCommand) -> None:
        n = self.n_joints
        torque_on = command.torque_on[:n]
        if self._torque_on is None or not np.array_equal(torque_on, self._torque_on):
            self._torque_on = torque_on.copy()
            self.twin.set_torque(self._torque_on)
        effort = command.effort_limit[:n]
        if self._effort_limit is None or not np.array_equal(effort, self._effort_limit):
            self._effort_limit = effort.copy()
            self.twin.set_force_limit_scale(self._effort_limit)
        goal = self.encoder_to_joint(command.goal_position_rad[:n])
        if self._last_goal is None or not np.array_equal(goal, self._last_goal):
            self._last_goal = goal.copy()
            self._queue.append([self._step + self._delay_steps, self._last_goal])

    def _release(self, count: int) -> None:
        """Make the first ``count`` queued goals act, in order (through the backlash)."""
        for _ in range(count):
            goal = self._queue.popleft()[1]
            if self._backlash is not None:
                half = self._backlash / 2
                np.clip(self._gear_goal, goal - half, goal + half, out=self._gear_goal)
                goal = self._gear_goal
            self.data.ctrl[self.twin.actuator] = goal

    def _state(self) -> PlantState:
        d, twin, n = self.data, self.twin, self.n_joints
        np.take(d.qpos, twin.state_qpos, out=self._scratch)
        np.multiply(self._scratch, self._servo_direction, out=self._position)
        self._position += math.pi
        self._position -= self._servo_offset_rad
        np.take(d.qvel, twin.state_dof, out=self._scratch)
        np.multiply(self._scratch, self._servo_direction, out=self._velocity)
        self._torque[:n] = self._direction * d.actuator_force[twin.actuator]
        return PlantState(self._position, self._velocity, self._torque)
