"""Replay a system-identification log's commands on the twin and sample it where the log read.

The log is cut into windows (each joint's excitation, split into the part the fit uses and
the part it holds out). A window starts from the state read at its first row, at rest in
every joint the log does not measure, and runs open loop under the log's commands:

- the command written at ``command_time_s[k]`` holds until the next one, as on the bus, and
  acts ``delay_s`` later (the whole command-to-reading delay, put on the command side: a log
  of commands and readings on one clock cannot tell the two apart);
- each physics step's goal is that delayed command averaged over the step, so the
  simulated trajectory moves smoothly with the delay and a least-squares fit can find it
  between physics steps;
- goals are whole encoder ticks, as the servo holds them.

The simulated joint angles and actuator torques are interpolated at each row's
``read_time_s``. :meth:`LogRollout.simulate` runs any number of twins (one per parameter set)
over every window in one :func:`mujoco.rollout.rollout` call, on every core. The twin must
carry actuator-force sensors (``TwinModel(..., force_sensors=True)``).
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np
from mujoco import rollout

from robot_side.sysid.log_file import SysidLog
from sim.sim_robot import quantize_rad
from sim.twin_model import FORCE_SENSOR_PREFIX, TwinModel, set_physics
from sim.twin_params import TwinParams

STATE_SPEC = mujoco.mjtState.mjSTATE_FULLPHYSICS
CHUNK_BYTES = 256 * 2**20
"""The most memory one rollout's returned states may take."""


@dataclass(frozen=True)
class Window:
    """Rows ``rows`` of the log (indices), excitation of joint ``joint``; ``held_out`` ones
    are kept from the fit and score it."""

    joint: int
    rows: np.ndarray
    held_out: bool


def split_windows(log: SysidLog, held_out_fraction: float, min_rows: int = 10) -> list[Window]:
    """Each excited joint's rows, the last ``held_out_fraction`` of them held out. Stale rows
    (a failed read stood in for) are dropped; a part shorter than ``min_rows`` is skipped."""
    if not 0.0 <= held_out_fraction < 1.0:
        raise ValueError(f"held_out_fraction must be in [0, 1), got {held_out_fraction}")
    windows = []
    for joint in np.unique(log.segment[log.segment >= 0]):
        rows = np.flatnonzero((log.segment == joint) & ~log.stale)
        cut = int(round(len(rows) * (1.0 - held_out_fraction)))
        for part, held_out in ((rows[:cut], False), (rows[cut:], True)):
            if len(part) >= min_rows:
                windows.append(Window(int(joint), part, held_out))
    return windows


class LogRollout:
    """The twin of ``twin`` replaying ``log`` over ``windows``."""

    def __init__(self, twin: TwinModel, log: SysidLog, windows: Sequence[Window], threads: int | None = None) -> None:
        if not windows:
            raise ValueError("no window of the log to replay (is any joint excited?)")
        self.twin, self.log, self.windows = twin, log, list(windows)
        base = twin.model
        self.base = base
        self.joint_names = tuple(log.joint_names)
        self.timestep_s = twin.timestep_s
        self._nominal_mass = base.body_mass.copy()
        # Command integral G(t) = integral of u up to t, knots at the write times (goal in ticks).
        commands = quantize_rad(log.command_rad)
        times = log.command_time_s
        steps = np.diff(times)
        if np.any(steps <= 0):
            raise ValueError("command_time_s is not increasing")
        self._knot_t = np.concatenate([[times[0] - 10.0], times, [times[-1] + 1e6]])
        held = np.concatenate([commands[:1], commands])  # before the first write: the first command
        widths = np.diff(self._knot_t)[:, None]
        self._knot_g = np.concatenate([np.zeros((1, commands.shape[1])), np.cumsum(held * widths, axis=0)])
        self.n_steps = [int(math.ceil((log.read_time_s[w.rows[-1]] - log.read_time_s[w.rows[0]])
                                      / self.timestep_s)) + 1 for w in self.windows]
        self.max_steps = max(self.n_steps)
        names = [mujoco.mj_id2name(base, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in twin.actuator]
        ids = [mujoco.mj_name2id(base, mujoco.mjtObj.mjOBJ_SENSOR, FORCE_SENSOR_PREFIX + n) for n in names]
        if min(ids) < 0:
            raise ValueError("the twin has no actuator-force sensors: build it with TwinModel(..., force_sensors=True)")
        self._force_index = base.sensor_adr[ids]
        self._datas = [mujoco.MjData(base) for _ in range(threads or os.cpu_count() or 1)]
        self._initial = np.stack([self._initial_state(w) for w in self.windows])

    def _initial_state(self, window: Window) -> np.ndarray:
        """The window's first reading as a full physics state of the twin."""
        m, twin, log = self.base, self.twin, self.log
        d = mujoco.MjData(m)
        first = window.rows[0]
        d.qpos[twin.joint_qpos] = log.position_rad[first]
        d.qvel[twin.joint_dof] = log.velocity_rad_s[first]
        if len(twin.sensor_qpos):
            d.qpos[twin.sensor_qpos] = log.sensor_position_rad[first]
        d.ctrl[twin.actuator] = quantize_rad(log.command_rad[first])
        state = np.zeros(mujoco.mj_stateSize(m, STATE_SPEC))
        mujoco.mj_getState(m, d, state, STATE_SPEC)
        state[0] = 0.0  # each window's own clock starts at 0
        return state

    def controls(self, delay_s: float) -> np.ndarray:
        """(windows, max_steps, nu): each physics step's goal, the delayed command averaged over the step."""
        out = np.zeros((len(self.windows), self.max_steps, self.base.nu))
        dt = self.timestep_s
        edges = np.arange(self.max_steps + 1) * dt
        for i, window in enumerate(self.windows):
            t = self.log.read_time_s[window.rows[0]] + edges - delay_s
            g = np.stack([np.interp(t, self._knot_t, self._knot_g[:, j]) for j in range(self._knot_g.shape[1])],
                         axis=1)
            out[i][:, self.twin.actuator] = np.diff(g, axis=0) / dt
        return out

    def model_for(self, params: TwinParams) -> mujoco.MjModel:
        """A copy of the twin's model with ``params`` written in."""
        model = copy.copy(self.base)
        set_physics(model, params, self.joint_names, self.twin.joint_dof, self.twin.actuator)
        if params.link_mass_scale != 1.0:
            mujoco.mj_setConst(model, mujoco.MjData(model))
        return model

    def simulate(self, param_sets: Sequence[TwinParams]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """For each parameter set, for each window: the simulated joint angles (rad) and the
        actuators' torques (N.m) at the window's read times, each (rows, n_joints)."""
        # Rollouts return whole states: run the sets in chunks of at most CHUNK_BYTES of them.
        per_set = len(self.windows) * self.max_steps * self._initial.shape[1] * 8
        chunk = max(1, CHUNK_BYTES // per_set)
        out: list[list[np.ndarray]] = []
        for start in range(0, len(param_sets), chunk):
            out += self._simulate(param_sets[start:start + chunk])
        return out

    def _simulate(self, param_sets: Sequence[TwinParams]) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        models, controls = [], []
        for params in param_sets:
            model = self.model_for(params)
            models += [model] * len(self.windows)
            controls.append(self.controls(params.delay_s))
        state, sensors = rollout.rollout(models, self._datas, np.tile(self._initial, (len(param_sets), 1)),
                                         np.concatenate(controls), nstep=self.max_steps)
        qpos_index = 1 + self.twin.joint_qpos  # the state starts with the time
        grid = np.arange(self.max_steps + 1) * self.timestep_s
        out: list[list[tuple[np.ndarray, np.ndarray]]] = []
        for p in range(len(param_sets)):
            per_window = []
            for w, window in enumerate(self.windows):
                b = p * len(self.windows) + w
                times = self.log.read_time_s[window.rows] - self.log.read_time_s[window.rows[0]]
                path = np.concatenate([self._initial[w][None, qpos_index], state[b][:, qpos_index]])
                force = sensors[b][:, self._force_index]
                force = np.concatenate([force[:1], force])  # the first step's force stands for the start
                per_window.append((_sample(times, grid, path), _sample(times, grid, force)))
            out.append(per_window)
        return out


def _sample(times: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each column of ``values`` (on ``grid``) linearly interpolated at ``times``."""
    return np.stack([np.interp(times, grid, values[:, j]) for j in range(values.shape[1])], axis=1)
