"""``robot-rl train CONFIG --backend ray``: a fleet of robots (or twins) feeding one learner.

The driver (this process) joins a Ray cluster (``--address``) or starts a local one, places one
:class:`~robot_rl.fleet.robot_actor.RobotActor` per robot where its resources or labels say
(``fleet.robots``) and one :class:`~robot_rl.fleet.learner_actor.LearnerActor` (on a GPU when
the cluster has one), then watches: it stops every robot once the fleet has collected
``loop.total_steps``, reports a robot whose actor dies and starts it again (at most
``fleet.max_restarts`` times) while the others go on, and at the end has the learner drain,
checkpoint and stop. Signals as in the single-machine mode (SIGHUP too): the first Ctrl-C
stops cleanly, a second at once; motors are made safe either way (each robot's loop turns
torque off). On any error the driver stops every robot and has the learner checkpoint before
it lets Ray go; if the driver itself dies, each robot's loop sees its actor go and stops safely.

``RUN_DIR/fleet.json`` names every process (driver, learner, each robot's actor and loop, with
their hosts) for operators and tests.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from robot_rl.errors import TrainingError
from robot_rl.fleet.learner_actor import LearnerActor
from robot_rl.fleet.robot_actor import RobotActor
from robot_rl.realtime.policy_snapshot import snapshot
from robot_rl.realtime.run import EXIT_FAILED, EXIT_OK, STOP_TIMEOUT_S
from robot_rl.train.config import TrainConfig
from robot_rl.train.learners import make_learner
from robot_rl.train.run_dir import RunDir, write_text_atomic
from robot_side.safety.stop_signals import StopSignals

log = logging.getLogger("robot_rl.fleet")
WATCH_EVERY_S = 0.5


class FleetError(TrainingError, RuntimeError):
    """The fleet cannot start (an actor cannot be placed, robots disagree, the learner fails)."""


@dataclass
class Robot:
    """The driver's record of one robot slot."""

    index: int
    handle: Any = None
    run_ref: Any = None
    node: dict[str, Any] = field(default_factory=dict)
    restarts: int = 0
    ended: str = ""  # "" while running; else "done", "failed" or "lost"
    last: dict[str, Any] = field(default_factory=dict)  # its latest report


def share(total: int, index: int, parts: int) -> int:
    """``index``'s part of ``total`` split as evenly as possible (the parts add up to it)."""
    return total // parts + (1 if index < total % parts else 0)


class Fleet:
    def __init__(self, config: TrainConfig, run: RunDir, actors: int, resume: bool, source: str) -> None:
        self.config = config
        self.run = run
        self.n = actors
        self.resume = resume
        self.source = source
        self.level = logging.getLogger().getEffectiveLevel()
        self.robots = [Robot(i) for i in range(actors)]
        self.stop_level = 0
        self.learner: Any = None
        self.learner_info: dict[str, Any] = {}
        self.finished = False

    # -- placing actors --------------------------------------------------------------------------
    def _robot_handle(self, index: int) -> Any:
        fleet = self.config.fleet
        robot = fleet.robot(index)
        options: dict[str, Any] = {"num_cpus": fleet.actor_num_cpus, "max_concurrency": 4, "max_restarts": 0,
                                   "name": None}
        if robot.resources:
            options["resources"] = dict(robot.resources)
        if robot.label_selector:
            options["label_selector"] = dict(robot.label_selector)
        handle = ray.remote(RobotActor).options(**options).remote(self.config, index, self.n, str(self.run.root),
                                                                  self.level)
        self._placed(handle.node.remote(), f"robot {index}", options)
        return handle

    def _placed(self, ref: Any, what: str, options: dict[str, Any], timeout_s: float | None = None) -> Any:
        timeout = self.config.fleet.start_timeout_s if timeout_s is None else timeout_s
        try:
            return ray.get(ref, timeout=timeout)
        except GetTimeoutError:
            need = {k: v for k, v in options.items() if k in ("num_cpus", "num_gpus", "resources", "label_selector")}
            raise FleetError(f"{what} could not be placed in {timeout:.0f} s: it needs {need}, the cluster offers "
                             f"{ray.cluster_resources()} (see docs/fleet.md, 'placing robots')") from None
        except RayError as exc:
            raise FleetError(f"{what} failed to start: {_cause(exc)}") from None

    def _learner_handle(self, described: dict[str, Any], weight_size: int) -> Any:
        fleet = self.config.fleet
        gpus = ray.cluster_resources().get("GPU", 0)
        use_gpu = bool(gpus) if fleet.learner_gpu == "auto" else bool(fleet.learner_gpu)
        if use_gpu and not gpus:
            raise FleetError("fleet.learner_gpu is true but the cluster has no GPU")
        config = self.config
        if use_gpu:  # the learner's networks on the GPU; the robots run the numpy snapshot as always
            config = _with_device(config, "cuda")
        options: dict[str, Any] = {"num_cpus": fleet.learner_num_cpus, "num_gpus": 1 if use_gpu else 0,
                                   "max_restarts": 0, "max_concurrency": 1}
        if fleet.learner_resources:
            options["resources"] = dict(fleet.learner_resources)
        if fleet.learner_label_selector:
            options["label_selector"] = dict(fleet.learner_label_selector)
        handle = ray.remote(LearnerActor).options(**options).remote(
            config, str(self.run.root), self.resume, self.source, described["obs_dim"], described["low"],
            described["high"], described["metadata"], weight_size, self.level)
        # The learner waits up to start_timeout_s for its process once placed (a large replay to restore).
        info = self._placed(handle.ready.remote(), "the learner", options, 2 * fleet.start_timeout_s)
        log.info("learner on %s (pid %d, learner process %d, %s)", info["host"], info["pid"], info["learner_pid"],
                 "GPU" if use_gpu else "CPU")
        return handle, info

    def start(self) -> dict[str, Any]:
        for robot in self.robots:
            robot.handle = self._robot_handle(robot.index)
        described = [self._placed(r.handle.describe.remote(), f"robot {r.index}'s env", {}) for r in self.robots]
        first = described[0]
        for robot, d in zip(self.robots[1:], described[1:]):
            for key in ("obs_dim", "low", "high"):
                if d[key] != first[key]:
                    raise FleetError(f"robot {robot.index} differs from robot 0 in {key}: {d[key]} vs {first[key]} "
                                     f"(every robot of a fleet must run the same task on the same kind of robot)")
        layout, flat = snapshot(make_learner(self.config, first["obs_dim"], _array(first["low"]),
                                             _array(first["high"]), self.source))
        self.learner, self.learner_info = self._learner_handle(first, layout.size)
        self.layout, self.obs_dim, self.action_dim = layout, first["obs_dim"], len(first["low"])
        start_step, start_episode = self.learner_info["start_step"], self.learner_info["start_episode"]
        for robot in self.robots:
            robot.last = {"steps": share(start_step, robot.index, self.n),
                          "episodes": share(start_episode, robot.index, self.n)}
            self._launch(robot)
        return self.learner_info

    def _launch(self, robot: Robot) -> None:
        info = self._placed(robot.handle.start.remote(self.learner, self.layout, self.obs_dim, self.action_dim,
                                                      robot.last["steps"], robot.last["episodes"]),
                            f"robot {robot.index}'s control loop", {})
        robot.node = {**ray.get(robot.handle.node.remote()), **info}
        robot.run_ref = robot.handle.run.remote()
        robot.ended = ""
        log.info("robot %d on %s (actor pid %d, control loop pid %d)", robot.index, robot.node["host"],
                 robot.node["pid"], robot.node["loop_pid"])
        self._write_pids()

    def _write_pids(self) -> None:
        write_text_atomic(self.run.root / "fleet.json", json.dumps({
            "driver": {"pid": os.getpid()}, "learner": self.learner_info,
            "robots": {str(r.index): {**r.node, "restarts": r.restarts, "ended": r.ended} for r in self.robots}},
            indent=2))

    # -- watching --------------------------------------------------------------------------------
    def watch(self, signals: StopSignals, on_status: Callable[[dict], None] | None) -> tuple[int, str]:
        total = self.config.loop.total_steps
        code, reason = EXIT_OK, ""
        while any(not r.ended for r in self.robots):
            if signals.requested and self.stop_level < min(signals.count, 2):
                self._stop_all(min(signals.count, 2))
            status = self._learner_status()  # None: no answer this time (a slow network, a busy node)
            learner_alive = status is not None and status["alive"]
            if status is not None and not status["alive"] and not reason:
                code = EXIT_FAILED
                reason = "the learner died" + (f" (exit code {status['exit_code']})" if status["exit_code"] else "")
                log.error("%s; each robot applies realtime.learner_failure (%s)", reason,
                          self.config.realtime.learner_failure)
            collected = status["fleet_steps"] if learner_alive else \
                sum(r.last.get("steps", 0) for r in self.robots)  # the learner is silent: the robots' own counts
            if collected >= total and not self.stop_level:
                self._stop_all(1)
            for robot in self.robots:
                if not robot.ended:
                    self._check(robot)
            if on_status is not None and learner_alive:
                on_status({**status, "robots": [dict(r.last, index=r.index, ended=r.ended) for r in self.robots]})
            time.sleep(WATCH_EVERY_S)
        if signals.requested:
            code = signals.exit_code
            reason = f"interrupted ({signals.name})" + (": stopped at once" if signals.count > 1 else ": stopped cleanly")
        elif not reason:
            missing = []
            for ended, why in (("lost", "their actors died"), ("failed", "their control loops failed")):
                indices = [r.index for r in self.robots if r.ended == ended]
                if indices:
                    missing.append(f"robot(s) {indices} ({why})")
            if any(r.ended == "done" for r in self.robots):
                reason = "finished" + (f" without {' and '.join(missing)}" if missing else "")
            else:
                code = EXIT_FAILED
                reason = f"no robot finished: {' and '.join(missing)}; motors were made safe"
        return code, reason

    def _learner_status(self) -> dict[str, Any] | None:
        try:
            return ray.get(self.learner.status_report.remote(), timeout=10)
        except RayActorError as exc:
            return {"alive": False, "exit_code": None, "why": _cause(exc)}
        except (RayError, GetTimeoutError):
            return None

    def _check(self, robot: Robot) -> None:
        done, _ = ray.wait([robot.run_ref], timeout=0)
        if not done:
            try:
                robot.last = ray.get(robot.handle.report.remote(), timeout=10)
            except (RayError, GetTimeoutError):
                pass  # the run call reports a death
            return
        try:
            robot.last = ray.get(robot.run_ref)
            robot.ended = "done" if robot.last["state"] == "done" else "failed"
            if robot.ended == "failed":
                log.error("robot %d: its control loop failed (see its log above); motors were made safe; the others "
                          "go on", robot.index)
        except RayTaskError as exc:  # the bridge failed; it stopped the loop (torque off) first
            ray.kill(robot.handle)  # frees what it was placed with, for a restart
            self._died(robot, exc)
        except RayActorError as exc:  # the actor died; its detached loop stops by itself
            self._died(robot, exc)
        self._write_pids()

    def _died(self, robot: Robot, exc: Exception) -> None:
        where = f"on {robot.node.get('host')} (actor pid {robot.node.get('pid')})"
        if self.stop_level or robot.restarts >= self.config.fleet.max_restarts:
            robot.ended = "lost"
            log.error("robot %d's actor died %s: %s; its loop stops safely (torque off) on its own; the run goes "
                      "on without it (%d restarts used of fleet.max_restarts %d)", robot.index, where,
                      _cause(exc), robot.restarts, self.config.fleet.max_restarts)
            return
        robot.restarts += 1
        log.error("robot %d's actor died %s: %s; starting it again (restart %d of %d)", robot.index, where,
                  _cause(exc), robot.restarts, self.config.fleet.max_restarts)
        # The dead loop's last episode was cut: the new loop counts on from the next.
        robot.last["episodes"] = robot.last.get("episodes", 0) + 1
        try:
            robot.handle = self._robot_handle(robot.index)
            self._launch(robot)
        except (FleetError, RayError) as again:
            robot.ended = "lost"
            log.error("robot %d could not be started again (%s); the run goes on without it", robot.index,
                      _cause(again))

    def _stop_all(self, level: int) -> None:
        self.stop_level = max(self.stop_level, level)
        for robot in self.robots:
            if not robot.ended and robot.handle is not None:
                robot.handle.stop.remote(self.stop_level)

    def stop_robots_and_wait(self) -> None:
        """Every robot still running stops (torque off) and sends its last rows; waits for them
        (bounded), so that nothing is running when Ray is shut down."""
        self._stop_all(max(self.stop_level, 1))
        refs = [r.run_ref for r in self.robots if r.run_ref is not None and not r.ended]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=STOP_TIMEOUT_S)

    def finish(self) -> dict[str, Any]:
        if self.learner is None or self.finished:
            return {}
        self.finished = True
        try:
            return ray.get(self.learner.finish.remote(self.stop_level), timeout=STOP_TIMEOUT_S + 30)
        except (RayError, GetTimeoutError) as exc:
            log.error("the learner could not finish (%s): the last checkpoint may be older than the run", _cause(exc))
            return {}


def run_fleet(config: TrainConfig, run: RunDir, *, resume: bool = False, source: str = "<config>",
              address: str | None = None, actors: int | None = None,
              on_status: Callable[[dict], None] | None = None) -> dict[str, Any]:
    n = actors or config.fleet.actors
    if n < 1:
        raise FleetError(f"--actors must be at least 1, got {n}")
    if config.loop.mode != "async":
        raise FleetError(f"a fleet runs real-time control loops: set loop.mode: async in {source} "
                         f"(got {config.loop.mode!r})")
    if config.loop.hindsight_fraction and n > 1:
        raise FleetError(f"loop.hindsight_fraction in {source}: relabelling takes goals from later in the same "
                         f"episode, and {n} robots store their episodes interleaved; set it to 0 or use one robot")
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                     **({} if address else {"num_cpus": os.cpu_count()}))
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise FleetError(f"cannot join the Ray cluster at {address}: {exc}" if address else
                             f"cannot start a local Ray instance: {exc}") from None
    fleet = Fleet(config, run, n, resume, source)

    def on_signal(count: int, signum: int) -> None:
        name = signal.Signals(signum).name
        print(f"\n{name}: stopping: every robot finishes its step and turns torque off; the learner checkpoints"
              if count == 1 else f"\n{name}: stopping at once (motors are still made safe; no final checkpoint)",
              file=sys.stderr, flush=True)
        fleet._stop_all(min(count, 2))  # at once, even while starting or restarting a robot

    # SIGHUP too: a closed terminal or SSH session must stop the robots cleanly, not kill the driver.
    began = time.monotonic()
    info: dict[str, Any] = {}
    with StopSignals(on_signal) as signals:
        try:
            info = fleet.start()
            code, reason = fleet.watch(signals, on_status)
            final = fleet.finish()
        finally:
            try:  # on any error above: robots stopped (torque off) and the learner checkpointed before Ray goes
                fleet.stop_robots_and_wait()
                fleet.finish()
            finally:
                if started_here:
                    ray.shutdown()
    robots = [{"index": r.index, "host": r.node.get("host"), "ended": r.ended, "restarts": r.restarts,
               "transitions": final.get("from_actor", {}).get(r.index, 0), "steps": r.last.get("steps"),
               "weight_version": r.last.get("weight_version"), "overruns": r.last.get("overruns"),
               "ring_lost": r.last.get("ring_lost"),
               "period_error_p99_ms": r.last.get("period_error_p99_ms")} for r in fleet.robots]
    return {"run_dir": str(run.root), "env": config.env.id, "algo": config.algo.name, "mode": "fleet",
            "actors": n, "steps": int(final.get("fleet_steps", 0)), "episodes": int(final.get("episodes", 0)),
            "updates": int(final.get("updates", 0)), "weights_version": final.get("version"),
            "wall_time_s": time.monotonic() - began, "interrupted": signals.requested, "stopped_by": signals.name,
            "exit_code": code, "reason": reason, "robots": robots,
            "last_eval_return": final.get("eval_return") if final.get("eval_count") else None,
            "last_eval_success_rate": final.get("eval_success") if final.get("eval_count") else None,
            "restored_transitions": info.get("restored", 0), "lost_transitions": info.get("lost", 0),
            "checkpoint": str(run.latest_checkpoint)}


def _with_device(config: TrainConfig, device: str) -> TrainConfig:
    import dataclasses

    algo = config.algo
    key = algo.name
    return dataclasses.replace(config, algo=dataclasses.replace(algo, **{key: {**getattr(algo, key),
                                                                               "device": device}}))


def _array(values: list[float]):
    import numpy as np

    return np.asarray(values, dtype=np.float64)


def _cause(exc: BaseException) -> str:
    """The first line of a Ray error's underlying cause (Ray's own message is a long traceback)."""
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()
    return text[-1] if text else type(exc).__name__
