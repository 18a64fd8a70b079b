"""Fit the twin's servo parameters and delay to a system-identification log.

What is fitted, within bounds around the starting twin (the robot config's, fitted or not):

- per excited joint, any of the servo fields of :data:`sim.twin_params.JOINT_FIELDS`
  (position gain, damping, armature, dry friction, effort limit), each between
  ``1 / bound_ratio`` and ``bound_ratio`` times its start;
- the command-to-reading delay, between 0 and ``max_delay_s``;
- one scale of every link's mass (optional).

The fit minimises the error of the joint angles and of the actuator torques over the log's
windows (``log_rollout``), all joints in every window, with ``mujoco.sysid.optimize`` (MuJoCo's box-bounded
Levenberg-Marquardt; finite differences, each column of which is one more twin in the same
multi-threaded rollout). Parameters live in the optimiser as log-ratios to their start (the
delay in 10 ms units), so one step size suits them all.

Why the torques: joint angles alone cannot tell a servo from one with every torque and every
inertia scaled by the same factor (both move the same), so without them only ratios are
found. The torque read back pins the scale: the motor current less the electronics' idle
current, times the torque constant (the datasheet's stall torque over stall current; both in
``drivers.emulator.servo_model``). Absolute values are then as right as that constant. ``use_effort=False`` fits angles only, with the
link masses held (the arm's weight then sets the scale of the joints it loads).

The fit starts from the delay that best explains the angles at the start's parameters (a
grid search, :func:`delay_search`). After the fit, each parameter's 95 % confidence
half-width comes from the Jacobian, the wider of ``mujoco.sysid.calculate_intervals`` (one
pooled, independent noise) and :func:`robot_rl.sysid.intervals.sandwich_intervals` (each
joint's error trace in each window with its own level and autocorrelation): a parameter whose interval is wider than ``identified_within``
is reported as not identified by this log (a joint's effort limit, say, when no step
saturated it) and keeps its start value. The held-out windows then score the start and the
fitted twin (RMS joint error per joint).
"""

from __future__ import annotations

import io
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

import numpy as np

from drivers.emulator.servo_model import params_for
from drivers.robot_config import RobotConfig
from robot_rl.sysid.intervals import sandwich_intervals
from robot_rl.sysid.log_rollout import LogRollout, Window, split_windows
from robot_side.sysid.log_file import SysidLog
from sim.twin_model import TwinModel
from sim.twin_params import JOINT_FIELDS, JointPhysics, TwinParams, twin_params_of

DELAY_UNIT_S = 0.01
"""The delay's unit inside the optimiser: steps of a few ms then weigh like a few % of a gain."""


@dataclass(frozen=True)
class FitSettings:
    """What to fit and how hard to try (the command line's options)."""

    fields: tuple[str, ...] = JOINT_FIELDS
    fit_delay: bool = True
    fit_link_mass: bool = True
    held_out_fraction: float = 0.25
    bound_ratio: float = 4.0
    max_delay_s: float = 0.1
    max_iters: int = 40
    position_scale_rad: float = 0.01
    use_effort: bool = True
    effort_scale_rad: float = 0.01
    identified_within: float = 0.15
    threads: int | None = None

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in JOINT_FIELDS]
        if unknown:
            raise ValueError(f"unknown field {unknown[0]!r}; the fields are {', '.join(JOINT_FIELDS)}")
        if not self.bound_ratio > 1:
            raise ValueError(f"bound_ratio must be > 1, got {self.bound_ratio}")
        if self.max_iters < 1:
            raise ValueError(f"max_iters must be at least 1, got {self.max_iters}")


@dataclass
class FitResult:
    """The fitted twin and how well each twin explains the held-out windows."""

    start: TwinParams
    fitted: TwinParams
    names: list[str]
    start_values: np.ndarray
    fitted_values: np.ndarray
    interval: np.ndarray                  # 95 % half-width, relative (log-ratio) or in s for the delay
    identified: np.ndarray                # bool per parameter
    held_out_rms_rad: dict[str, dict[str, float]]  # {"start"|"fitted": {joint: rms}}, plus "all"
    fit_rms_rad: dict[str, float]         # on the windows the fit used: start, fitted
    iterations: int
    seconds: float
    windows: list[Window] = field(default_factory=list)

    @property
    def improvement(self) -> float:
        """Held-out RMS of the start over that of the fitted twin (all joints)."""
        after = self.held_out_rms_rad["fitted"]["all"]
        return self.held_out_rms_rad["start"]["all"] / after if after > 0 else math.inf

    def summary(self) -> dict[str, Any]:
        return {"parameters": {n: {"start": float(a), "fitted": float(b), "interval": float(i), "identified": bool(k)}
                               for n, a, b, i, k in zip(self.names, self.start_values, self.fitted_values,
                                                        self.interval, self.identified)},
                "held_out_rms_rad": self.held_out_rms_rad, "fit_rms_rad": self.fit_rms_rad,
                "improvement": self.improvement, "iterations": self.iterations, "seconds": self.seconds}


def start_params(twin: TwinModel, joint_names: tuple[str, ...], delay_s: float) -> TwinParams:
    """The twin's present servo values written out in full (every field of every joint)."""
    m = twin.model
    joints = {}
    for i, name in enumerate(joint_names):
        act, dof = twin.actuator[i], twin.joint_dof[i]
        joints[name] = JointPhysics(kp_nm_per_rad=float(m.actuator_gainprm[act, 0]),
                                    damping_nm_s_per_rad=float(m.dof_damping[dof]),
                                    armature_kg_m2=float(m.dof_armature[dof]),
                                    frictionloss_nm=float(m.dof_frictionloss[dof]),
                                    effort_limit_nm=float(m.actuator_forcerange[act, 1]))
    return TwinParams(joints=joints, delay_s=delay_s)


class ParameterMap:
    """The optimiser's vector <-> :class:`TwinParams`. Joint fields and the mass scale are
    log-ratios to their start (a start of 0, a friction left out of the model, becomes a
    linear offset in units of 0.01); the delay is in :data:`DELAY_UNIT_S`."""

    def __init__(self, start: TwinParams, joints: list[str], settings: FitSettings) -> None:
        self.start, self.settings = start, settings
        self.entries: list[tuple[str, str | None, str]] = []  # (name, joint, field)
        for joint in joints:
            for name in settings.fields:
                self.entries.append((f"{joint}.{name}", joint, name))
        if settings.fit_delay:
            self.entries.append(("delay_s", None, "delay_s"))
        if settings.fit_link_mass:
            self.entries.append(("link_mass_scale", None, "link_mass_scale"))
        self.names = [e[0] for e in self.entries]
        self.start_values = np.array([self._start_value(j, f) for _, j, f in self.entries])

    def _start_value(self, joint: str | None, name: str) -> float:
        if joint is None:
            return float(getattr(self.start, name))
        return float(getattr(self.start.joints[joint], name))

    def _log_scaled(self, i: int) -> bool:
        return self.entries[i][2] != "delay_s" and self.start_values[i] > 0

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low, high = [], []
        r = math.log(self.settings.bound_ratio)
        for i, (_, _, name) in enumerate(self.entries):
            if name == "delay_s":
                low.append(0.0)
                high.append(self.settings.max_delay_s / DELAY_UNIT_S)
            elif self._log_scaled(i):
                low.append(-r)
                high.append(r)
            else:
                low.append(0.0)
                high.append(10.0)
        return np.array(low), np.array(high)

    def x0(self) -> np.ndarray:
        """The start, the delay moved off its lower bound (the optimiser can stall on a bound)."""
        return np.array([max(self.start_values[i], 0.005) / DELAY_UNIT_S if e[2] == "delay_s" else 0.0
                         for i, e in enumerate(self.entries)])

    def values(self, x: np.ndarray) -> np.ndarray:
        """Physical values (SI) of a vector."""
        out = np.empty(len(self.entries))
        for i, (_, _, name) in enumerate(self.entries):
            if name == "delay_s":
                out[i] = x[i] * DELAY_UNIT_S
            elif self._log_scaled(i):
                out[i] = self.start_values[i] * math.exp(x[i])
            else:
                out[i] = x[i] * 0.01
        return out

    def params(self, x: np.ndarray) -> TwinParams:
        values = self.values(x)
        joints = dict(self.start.joints)
        top: dict[str, float] = {}
        for value, (_, joint, name) in zip(values, self.entries):
            if joint is None:
                top[name] = float(value)
            else:
                joints[joint] = replace(joints[joint], **{name: float(value)})
        return replace(self.start, joints=joints, **top)


def fit_twin(config: RobotConfig, log: SysidLog, settings: FitSettings = FitSettings(),
             say: Callable[[str], None] = lambda s: None, output: TextIO | None = sys.stderr) -> FitResult:
    """Fit ``config``'s twin to ``log`` (see the module docstring). ``say`` gets progress
    lines; ``output`` the optimiser's per-iteration lines (None: silent)."""
    from mujoco import sysid

    if log.meta.get("robot") != config.name:
        raise ValueError(f"the log is of robot {log.meta.get('robot')!r}, the config of {config.name!r}")
    if tuple(log.joint_names) != config.joint_names:
        raise ValueError(f"the log's joints {log.joint_names} are not the config's {list(config.joint_names)}")
    started = time.perf_counter()
    base_params = twin_params_of(config) or TwinParams()
    twin = TwinModel(config, params=base_params, force_sensors=True)
    if not settings.use_effort:
        settings = replace(settings, fit_link_mass=False)
    start = replace(start_params(twin, config.joint_names, base_params.delay_s),
                    link_mass_scale=1.0)  # the config's mass scale is already in the model
    windows = split_windows(log, settings.held_out_fraction)
    fit_windows = [w for w in windows if not w.held_out]
    held_out = [w for w in windows if w.held_out] or fit_windows
    excited = sorted({w.joint for w in fit_windows})
    if not fit_windows:
        raise ValueError("the log has no excitation long enough to fit (record one with `robot-rl sysid record`)")
    mapping = ParameterMap(start, [config.joint_names[j] for j in excited], settings)
    replay = LogRollout(twin, log, fit_windows, threads=settings.threads)
    measured = [log.position_rad[w.rows] for w in fit_windows]
    # The twin reports current without the electronics' idle draw; servos (and virtual hardware) with it.
    idle = log.meta.get("backend") != "sim"
    measured_torque = [effort_to_torque(log.effort[w.rows], config, idle) for w in fit_windows]
    # A torque error weighs like the angle error that would cause it at the start's gain: a
    # stiff servo's torque swings with the smallest timing error of a goal step.
    torque_scale = settings.effort_scale_rad * np.array(
        [twin.model.actuator_gainprm[a, 0] for a in twin.actuator])
    say(f"fitting {len(mapping.names)} parameters to {sum(len(w.rows) for w in fit_windows)} readings "
        f"({len(fit_windows)} windows, {replay.max_steps * replay.timestep_s:.1f} s each at most); "
        f"{len(held_out)} windows held out")

    def residuals(x: np.ndarray, with_effort: bool) -> list[np.ndarray]:
        """Scaled errors, one array per window and quantity; (m,) for one x, (m, k) for k columns."""
        columns = x.reshape(len(mapping.names), -1)
        sims = replay.simulate([mapping.params(columns[:, c]) for c in range(columns.shape[1])])
        out = []
        for w in range(len(fit_windows)):
            out.append(np.stack([(sim[w][0] - measured[w]).ravel() for sim in sims], axis=1)
                       / settings.position_scale_rad)
            if with_effort:
                out.append(np.stack([((sim[w][1] - measured_torque[w]) / torque_scale).ravel() for sim in sims],
                                    axis=1))
        return [r[:, 0] for r in out] if x.ndim == 1 else out

    # Stage 1, angles only, masses held: smooth in the delay, so the delay and every ratio
    # settle. Stage 2 adds the torques, which fix the scale the angles cannot see; the delay
    # stays (a torque read just after a goal change jumps as the change crosses the read
    # time, which would pull the delay to wherever the transients happen to line up).
    x = mapping.x0()
    low, high = mapping.bounds()
    if settings.fit_delay:
        x[mapping.names.index("delay_s")] = delay_search(replay, start, measured, settings) / DELAY_UNIT_S
        say(f"delay search: {x[mapping.names.index('delay_s')] * DELAY_UNIT_S * 1e3:.0f} ms explains the angles "
            f"best at the start's servo parameters")
    stages = [(False, np.array([n != "link_mass_scale" for n in mapping.names]))]
    if settings.use_effort:
        stages.append((True, np.array([n != "delay_s" for n in mapping.names])))
    iterations = 0
    interval = np.full(len(mapping.names), np.inf)  # 95 % half-width, from the last stage fitting each
    for number, (with_effort, free) in enumerate(stages, 1):
        say(f"stage {number} of {len(stages)}: joint angles{' and torques' if with_effort else ''}, "
            f"{int(free.sum())} parameters")
        fixed = x.copy()

        def residual_fn(z: np.ndarray, params: Any, free: np.ndarray = free, fixed: np.ndarray = fixed,
                        with_effort: bool = with_effort) -> tuple[list[np.ndarray], None, None]:
            full = np.repeat(fixed[:, None], 1 if z.ndim == 1 else z.shape[1], axis=1)
            full[free] = z.reshape(int(free.sum()), -1)
            return residuals(full[:, 0] if z.ndim == 1 else full, with_effort), None, None

        initial = sysid.ParameterDict({"twin": sysid.Parameter("twin", x[free], low[free], high[free])})
        optimum, result = sysid.optimize(initial, residual_fn, optimizer="mujoco", verbose=False,
                                         max_iters=settings.max_iters, eps=1e-3,
                                         output=output if output is not None else io.StringIO())
        x[free] = optimum.as_vector()
        iterations += len(result.extras.get("objective", []))
        at_optimum = residuals(x, with_effort)
        # The pooled interval assumes equal, independent errors; the sandwich gives each joint's
        # error trace in each window its own level and correlation. The wider of the two counts.
        blocks = [r.reshape(-1, len(config.joint_names)) for r in at_optimum]
        interval[free] = np.maximum(sysid.calculate_intervals(at_optimum, result.jac)[1],
                                    sandwich_intervals(blocks, result.jac))
    interval_si = np.where([n == "delay_s" for n in mapping.names], interval * DELAY_UNIT_S, interval)
    identified = np.array([i <= (0.005 if n == "delay_s" else math.log1p(settings.identified_within))
                           for n, i in zip(mapping.names, interval_si)])
    # What the log cannot pin down goes back to its start: the optimiser's value there is
    # arbitrary (it drifts along directions the errors do not see).
    x = np.where(identified, x, mapping.x0())
    if "delay_s" in mapping.names and not identified[mapping.names.index("delay_s")]:
        x[mapping.names.index("delay_s")] = mapping.start_values[mapping.names.index("delay_s")] / DELAY_UNIT_S
    fitted = mapping.params(x)
    scores = _rms(LogRollout(twin, log, held_out, threads=settings.threads), [start, fitted], log, config)
    fit_scores = _rms(replay, [start, fitted], log, config)
    return FitResult(start=start, fitted=fitted, names=mapping.names, start_values=mapping.start_values,
                     fitted_values=mapping.values(x), interval=interval_si, identified=identified,
                     held_out_rms_rad={"start": scores[0], "fitted": scores[1]},
                     fit_rms_rad={"start": fit_scores[0]["all"], "fitted": fit_scores[1]["all"]},
                     iterations=iterations, seconds=time.perf_counter() - started,
                     windows=windows)


def delay_search(replay: LogRollout, start: TwinParams, measured: list[np.ndarray], settings: FitSettings,
                 step_s: float = 0.004) -> float:
    """The delay (a grid of ``step_s`` from 0 to ``max_delay_s``) whose replay at the start's
    servo parameters is closest to the angles read: where the least-squares fit begins. From
    a small delay it can settle in a wrong valley, the servo's inertia and damping standing in
    for the missing lag."""
    grid = np.arange(0.0, settings.max_delay_s + 1e-9, step_s)
    sims = replay.simulate([replace(start, delay_s=float(d)) for d in grid])
    cost = [sum(float(np.sum((sim[w][0] - measured[w]) ** 2)) for w in range(len(measured))) for sim in sims]
    best = float(grid[int(np.argmin(cost))])
    return min(max(best, 0.001), settings.max_delay_s - 0.001)  # off the bounds


def effort_to_torque(effort_a: np.ndarray, config: RobotConfig, idle: bool = True) -> np.ndarray:
    """Motor current read back (A, rows x joints) -> the servo's output torque (N.m): the idle
    current the electronics draw taken off (``idle``), times the torque constant."""
    params = [params_for(j.model) for j in config.joints]
    idle_a = np.array([p.idle_current_a if idle else 0.0 for p in params])
    constant = np.array([p.torque_constant_nm_per_a for p in params])
    return np.sign(effort_a) * np.maximum(np.abs(effort_a) - idle_a, 0.0) * constant


def _rms(replay: LogRollout, param_sets: list[TwinParams], log: SysidLog,
         config: RobotConfig) -> list[dict[str, float]]:
    """Per parameter set: each joint's RMS angle error over the replay's windows, and all joints'."""
    sims = replay.simulate(param_sets)
    measured = np.concatenate([log.position_rad[w.rows] for w in replay.windows])
    out = []
    for sim in sims:
        error = np.concatenate([angles for angles, _ in sim]) - measured
        scores = {name: float(np.sqrt(np.mean(error[:, j] ** 2))) for j, name in enumerate(config.joint_names)}
        scores["all"] = float(np.sqrt(np.mean(error**2)))
        out.append(scores)
    return out
