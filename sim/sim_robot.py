"""``SimRobot``: the ``Robot`` interface on the MuJoCo twin.

Time is simulated: ``now_s()`` is the number of physics steps taken times the model's
timestep, and ``sleep_until(t)`` steps the physics to ``t``. The twin adds what makes a
real bus robot imperfect, each set in :class:`~sim.sim_config.SimConfig`: observation and
action latency (at physics-step resolution), Gaussian sensor noise, encoder quantisation,
and per-episode domain randomisation applied by :meth:`SimRobot.set_state`.

Effort is reported in the unit the hardware reports for both supported servos, the motor
current in A: the actuator's torque divided by the servo's torque constant (stall torque /
stall current, :func:`drivers.emulator.servo_model.params_for`), the same conversion the
emulated bus uses (which also adds a small idle current; the twin does not).
"""

from __future__ import annotations

import math
import time
from collections import deque
from types import TracebackType

import mujoco
import numpy as np

from drivers.clock import sleep_until as sleep_until_wall
from drivers.emulator.servo_model import params_for
from drivers.robot import JointState
from drivers.robot_config import RobotConfig
from drivers.safety import CommandLimiter
from sim.errors import RobotNotOpenError, SimConfigurationError
from sim.rendering import SceneRenderer
from sim.sim_config import TICKS_PER_TURN, SimConfig
from sim.state_history import StateHistory
from sim.twin_model import TwinModel
from sim.twin_params import twin_params_of

RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN
_STEP_SLACK = 1e-6  # fraction of a physics step treated as float rounding, not time


def control_period_steps(control_rate_hz: float, timestep_s: float) -> int:
    """Physics steps per control period; raises :class:`SimConfigurationError` unless
    ``1 / control_rate_hz`` is a whole number (>= 1) of ``timestep_s``."""
    period_s = 1.0 / control_rate_hz
    ratio = period_s / timestep_s
    steps = round(ratio)
    if steps < 1 or abs(ratio - steps) > _STEP_SLACK * max(1.0, ratio):
        raise SimConfigurationError(
            f"control period {period_s * 1e3:g} ms (1 / {control_rate_hz:g} Hz) is not a whole number of "
            f"physics steps of {timestep_s * 1e3:g} ms ({ratio:.4g} steps); choose a control rate that "
            f"divides {1.0 / timestep_s:g} Hz")
    return steps


def latency_steps(latency_s: float, timestep_s: float) -> int:
    """A latency in whole physics steps (rounded to the nearest)."""
    return int(round(latency_s / timestep_s))


# As 0-d arrays: numpy multiplies an array by another array about a third faster than by a
# Python float (whose promotion rules it checks on every call), and this runs twice a step.
_TICKS_PER_RAD = np.array(1.0 / RAD_PER_TICK)
_RAD_PER_TICK = np.array(RAD_PER_TICK)
# The sensor readings of a robot without passive joints: one empty array for every read.
_NO_SENSORS = np.zeros(0)


def quantize_rad(position_rad: np.ndarray) -> np.ndarray:
    """Round to whole encoder ticks (multiples of 2 pi / 4096 rad), ties to even as the bus.
    Float64 in and out (a float32 array would come out float64)."""
    return np.rint(position_rad * _TICKS_PER_RAD) * _RAD_PER_TICK


class SimRobot:
    """The MuJoCo twin of ``config.name`` (``sim/models/<name>/scene.xml``) as a ``Robot``.

    config: the robot's joints, limits and control rate (the same file the hardware uses).
    sim: latency, noise, quantisation, pacing and domain randomisation.
    seed: seeds the sensor noise, and the randomisation when ``set_state`` gets no rng.

    Raises :class:`SimConfigurationError` if the control period is not a whole number of
    physics steps or a configured joint is missing from the model.

    Extra to the ``Robot`` protocol: :meth:`render`. ``model`` and ``data`` are the live
    MuJoCo structures.
    """

    simulated = True
    read_only = False

    def __init__(self, config: RobotConfig, sim: SimConfig = SimConfig(), seed: int | None = None) -> None:
        self.config = config
        self.sim = sim
        self.twin = TwinModel(config, params=twin_params_of(config))
        self.model, self.data = self.twin.model, self.twin.data
        # Views of the live arrays that read() and write() use, taken once: each attribute
        # access on MjData builds a new numpy view (as StateHistory, they rely on ``data`` staying).
        self._live = (self.data.qpos, self.data.qvel, self.data.actuator_force)
        self._ctrl = self.data.ctrl
        self.timestep_s = self.twin.timestep_s
        self.period_steps = control_period_steps(config.control_rate_hz, self.timestep_s)
        self.spec = config.spec
        self.range = CommandLimiter.range_only(self.spec)
        self._rng = np.random.default_rng(seed)
        self._noisy = sim.position_noise_std_rad > 0.0 or sim.velocity_noise_std_rad_s > 0.0
        self._n = len(config.joints)
        self._torque_constant = np.array([params_for(j.model).torque_constant_nm_per_a for j in config.joints])
        self._faults: tuple[tuple[str, ...], ...] = tuple(() for _ in config.joints)
        self._step = 0
        self._open = False
        self._renderer: SceneRenderer | None = None
        self._pending: deque[tuple[int, np.ndarray]] = deque()
        self._history: StateHistory | None = None
        self._action_delay = 0
        self._set_latencies(sim.observation_latency_s, sim.action_latency_s + self.twin.params.delay_s)
        self._wall_origin_s = time.monotonic()
        start = np.clip(self.data.qpos[self.twin.joint_qpos], self.spec.position_min_rad, self.spec.position_max_rad)
        self._reset_physics(start, np.zeros(len(config.sensors)))
        self.twin.set_torque(False)  # limp until opened, like servos at power-on

    # -- lifecycle -----------------------------------------------------------------------------------
    def open(self) -> "SimRobot":
        """Torque on, holding the present pose (goal := present, as the servos do)."""
        present = self.data.qpos[self.twin.joint_qpos]
        self.range.reset(present)
        self._pending.clear()
        self.data.ctrl[self.twin.actuator] = self._goal(self.range.last)
        self.twin.set_torque(True)
        self._open = True
        self._wall_origin_s = time.monotonic() - self.now_s()
        return self

    def close(self) -> None:
        """Torque off (the joints go limp) and release the renderer. Idempotent."""
        self.twin.set_torque(False)
        self._open = False
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def hold(self) -> np.ndarray:
        """Hold the present pose (the watchdog's first stage); returns that command."""
        present = self.data.qpos[self.twin.joint_qpos]
        self.range.reset(present)
        self._pending.clear()
        self.data.ctrl[self.twin.actuator] = self._goal(self.range.last)
        return self.range.last

    def torque_off(self) -> None:
        """The joints go limp (the watchdog's second stage, every exit path)."""
        self.twin.set_torque(False)

    def __enter__(self) -> "SimRobot":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- Robot interface -------------------------------------------------------------------------------
    def now_s(self) -> float:
        """Simulated time (s): physics steps taken times the timestep."""
        return self._step * self.timestep_s

    def read(self) -> JointState:
        """The state ``observation_latency_s`` ago, with noise and quantisation; timestamped
        now (the moment the reading arrives, as on hardware)."""
        self._require_open()
        twin, sim = self.twin, self.sim
        if self._history is None:
            qpos, qvel, actuator_force = self._live
        else:
            qpos, qvel, actuator_force = self._history.at(self._step - self._history.depth)
        position = qpos[twin.state_qpos]  # fancy indexing copies
        velocity = qvel[twin.state_dof]
        force = actuator_force[twin.actuator]
        if self._noisy:
            noise = self._rng.standard_normal(2 * position.shape[0])
            position += noise[:position.shape[0]] * sim.position_noise_std_rad
            velocity += noise[position.shape[0]:] * sim.velocity_noise_std_rad_s
        if sim.quantize:
            position = quantize_rad(position)
        n = self._n
        if n == position.shape[0]:  # no passive joints: nothing to split off (saves four slices a step)
            return JointState(self.now_s(), position, velocity, force / self._torque_constant, self._faults,
                              _NO_SENSORS, _NO_SENSORS)
        return JointState(self.now_s(), position[:n], velocity[:n], force / self._torque_constant, self._faults,
                          position[n:], velocity[n:])

    def write(self, position_rad: np.ndarray) -> np.ndarray:
        """Clip to the joint range and send; the command acts on the physics
        ``action_latency_s`` from now. Returns the clipped command."""
        self._require_open()
        command = self.range(position_rad)
        goal = self._goal(command)
        if self._action_delay == 0:
            self._ctrl[self.twin.actuator] = goal
        else:
            self._pending.append((self._step + self._action_delay, goal))
        return command

    def sleep_until(self, t_s: float) -> float:
        """Step the physics to the first step at or after ``t_s``. Returns the lateness (s):
        simulated time past ``t_s``, or with ``realtime`` the wall-clock lateness."""
        self._require_open()
        target = math.ceil(t_s / self.timestep_s - _STEP_SLACK)
        if target > self._step:
            self._advance_to(target)
        if self.sim.realtime:
            return sleep_until_wall(self._wall_origin_s + t_s)
        return max(0.0, self.now_s() - t_s)

    # -- twin extras -----------------------------------------------------------------------------------
    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> None:
        """Start an episode: draw this episode's domain randomisation (from ``rng``, else the
        robot's own generator), put the joints (rad, ``(n_joints,)``) and sensors (rad,
        ``(n_sensors,)``, default zeros) there at rest holding that pose, and clear the
        latency buffers. Simulated time keeps running (it never goes back)."""
        joints = np.asarray(joint_position_rad, dtype=np.float64)
        if joints.shape != (self._n,):
            raise ValueError(f"joint_position_rad has shape {joints.shape}, expected ({self._n},)")
        n_sensors = len(self.config.sensors)
        sensors = np.zeros(n_sensors) if sensor_position_rad is None else np.asarray(sensor_position_rad, np.float64)
        if sensors.shape != (n_sensors,):
            raise ValueError(f"sensor_position_rad has shape {sensors.shape}, expected ({n_sensors},)")
        rng = self._rng if rng is None else rng
        dr = self.sim.randomization
        self.twin.randomize(dr, rng)
        observation_latency_s = self.sim.observation_latency_s
        action_latency_s = self.sim.action_latency_s + self.twin.params.delay_s
        if dr.observation_latency_s is not None:
            observation_latency_s = float(rng.uniform(*dr.observation_latency_s))
        if dr.action_latency_s is not None:
            action_latency_s = float(rng.uniform(*dr.action_latency_s))
        self._set_latencies(observation_latency_s, action_latency_s)
        self._reset_physics(joints, sensors)
        self._wall_origin_s = time.monotonic() - self.now_s()

    @property
    def observation_latency_s(self) -> float:
        """This episode's observation latency, in whole physics steps."""
        return (self._history.depth if self._history is not None else 0) * self.timestep_s

    @property
    def action_latency_s(self) -> float:
        """This episode's action latency, in whole physics steps."""
        return self._action_delay * self.timestep_s

    def render(self, markers: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """An RGB image (``render_height_px``, ``render_width_px``, 3) uint8 of the present
        pose with ``markers`` drawn (see :meth:`SceneRenderer.render`). Raises
        :class:`~sim.errors.RenderUnavailableError` without an offscreen GL context."""
        if self._renderer is None:
            self._renderer = SceneRenderer(self.model, self.sim.render_height_px, self.sim.render_width_px,
                                           self.sim.render_camera)
        return self._renderer.render(self.data, markers or {})

    # -- internals -------------------------------------------------------------------------------------
    def _require_open(self) -> None:
        if not self._open:
            raise RobotNotOpenError(f"twin of {self.config.name} is not open; use it as a context manager "
                                    f"or call open() first")

    def _goal(self, command_rad: np.ndarray) -> np.ndarray:
        """What the servo's goal register ends up holding: whole ticks when quantising."""
        return quantize_rad(command_rad) if self.sim.quantize else np.array(command_rad, dtype=np.float64)

    def _set_latencies(self, observation_latency_s: float, action_latency_s: float) -> None:
        depth = latency_steps(observation_latency_s, self.timestep_s)
        if depth == 0:
            self._history = None
        elif self._history is None or self._history.depth != depth:
            self._history = StateHistory(depth, self.data)
        self._action_delay = latency_steps(action_latency_s, self.timestep_s)

    def _reset_physics(self, joints: np.ndarray, sensors: np.ndarray) -> None:
        self._pending.clear()
        self.range.reset(joints)
        self.twin.set_state(joints, sensors, self._goal(joints), self.now_s())
        if self._history is not None:
            self._history.fill()

    def _advance_to(self, target: int) -> None:
        """Step the physics from ``self._step`` to step ``target``: in one ``mj_step`` call
        when nothing happens in between, else in runs split where a delayed command takes
        effect and, with observation latency, one step at a time over the last ``depth``
        steps so that their states are recorded."""
        m, d, act = self.model, self.data, self.twin.actuator
        pending, history = self._pending, self._history
        if not pending and history is None:  # nothing on the way (no latency): skip the loop
            mujoco.mj_step(m, d, target - self._step)
            self._step = target
            return
        record_from = target - history.depth if history is not None else target + 1
        step = self._step
        while True:
            while pending and pending[0][0] <= step:
                d.ctrl[act] = pending.popleft()[1]
            if step >= target:
                break
            stop = target
            if pending and pending[0][0] < stop:
                stop = pending[0][0]
            if step < record_from:
                stop = min(stop, record_from)
                mujoco.mj_step(m, d, stop - step)
                step = stop
                if step == record_from:
                    history.record(step)  # type: ignore[union-attr]
            else:
                record = history.record  # type: ignore[union-attr]
                for k in range(step + 1, stop + 1):
                    mujoco.mj_step(m, d)
                    record(k)
                step = stop
        self._step = step
