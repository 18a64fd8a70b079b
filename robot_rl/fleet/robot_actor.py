"""One robot of a fleet: a Ray actor, placed on the computer wired to the robot, that runs the
single-machine control loop and bridges it to the learner over Ray.

The control loop is :mod:`robot_rl.realtime.control_loop` unchanged, in its own process, with
the same shared-memory ring, weight board and status board as ``loop.mode: async``; this actor
supervises it in place of ``robot_rl.realtime.run``. The loop is started detached (no child of
this actor: Ray SIGKILLs a worker's children when it ends the worker; see
:mod:`robot_rl.fleet.detached_loop`) and watches this actor's pid. A bridge thread (:meth:`RobotActor.run`)
drains the ring every ``fleet.send_every_s`` and ships the rows to the learner as one batch,
asks the learner every ``fleet.weights_every_s`` for newer weights (fetched from Ray's object
store) and copies them into the weight board under the learner's version. Only the bridge ever
waits on the network: the loop reads and writes shared memory and never blocks. When the
bridge falls behind (a slow network), the loop goes on filling the ring; rows older than a
ring are lost and counted.

The loop process stops safely (torque off) on the stop request, on its own total step count,
or when this actor dies (Ray killing the actor, the driver or the cluster going away). If the
bridge itself fails, it stops the loop before it reports the error. If the loop dies without
its own safe stop (``kill -9``), this actor turns torque off on a real robot from here.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import ray
import yaml
from ray.exceptions import ActorUnavailableError, GetTimeoutError, RayActorError, RayError

from robot_rl.fleet.detached_loop import start_detached_loop
from robot_rl.realtime.control_loop import LoopArgs
from robot_rl.realtime.crash_stop import cut_torque_after_crash
from robot_rl.realtime.env_description import describe_env
from robot_rl.realtime.loop_timing import TimingFileWriter
from robot_rl.realtime.os_tuning import normal_niceness
from robot_rl.realtime.policy_snapshot import SnapshotLayout
from robot_rl.realtime.status_board import ActorState, Slot, StatusBoard
from robot_rl.realtime.transition_ring import TransitionRing
from robot_rl.realtime.weight_board import WeightBoard
from robot_rl.train.config import TrainConfig
from robot_rl.train.run_dir import write_text_atomic
from robot_side.process_watch import ProcessWatch

log = logging.getLogger("robot_rl.fleet.actor")
SEED_STRIDE = 1_000_003  # each robot's seeds: the run's seed + index x this (no overlap in practice)
FINAL_SEND_TIMEOUT_S = 60.0
LOOP_STOP_TIMEOUT_S = 30.0  # after a stop at once, the loop is gone within a step; this is the bound


def actor_config(config: TrainConfig, index: int, actors: int) -> TrainConfig:
    """The config robot ``index`` of ``actors`` runs: its env options merged over the run's, its
    own seed, and its share of the random warm-up (the fleet explores ``loop.start_steps`` in all)."""
    robot = config.fleet.robot(index)
    env = dataclasses.replace(config.env, options={**config.env.options, **robot.env_options})
    loop = dataclasses.replace(config.loop, seed=config.loop.seed + index * SEED_STRIDE,
                               start_steps=-(-config.loop.start_steps // actors))
    return dataclasses.replace(config, env=env, loop=loop)


class RobotActor:
    """Made with ``ray.remote(RobotActor).options(max_concurrency=4, ...)`` (threaded, so that
    :meth:`stop` and :meth:`report` answer while :meth:`run` bridges; ``lock`` guards what they
    share with it)."""

    def __init__(self, config: TrainConfig, index: int, actors: int, run_root: str, log_level: int) -> None:
        logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
        niceness = normal_niceness()  # Ray's workers run at nice 15; the processes started here inherit it
        if niceness:
            log.info("%s", niceness)
        self.config = actor_config(config, index, actors)
        self.fleet = config.fleet
        self.index = index
        self.run_root = Path(run_root)
        self.log_level = log_level
        self.loop_pid: int | None = None
        self.stop_level = 0
        self.final: dict[str, Any] | None = None  # the report once run() has ended (boards closed)
        self.sent = 0  # rows the learner has acknowledged
        self.learner_dead = False
        self.lock = threading.Lock()

    # -- set-up (called by the driver, in order) ---------------------------------------------------
    def node(self) -> dict[str, Any]:
        """Where the actor runs: the driver waits on this to know it was placed."""
        return {"pid": os.getpid(), "host": socket.gethostname()}

    def describe(self) -> dict[str, Any]:
        """Observation size, action bounds and policy metadata of this robot's env (made on this
        host, so that a serial port is opened where it is wired)."""
        obs_dim, low, high, metadata = describe_env(self.config)
        return {"obs_dim": obs_dim, "low": low.tolist(), "high": high.tolist(), "metadata": metadata}

    def start(self, learner: Any, layout: SnapshotLayout, obs_dim: int, action_dim: int, start_step: int,
              start_episode: int) -> dict[str, Any]:
        """Fetch the learner's current weights, then start the control-loop process."""
        self.learner = learner
        rt = self.config.realtime
        self.ring = TransitionRing.create(rt.ring_capacity, obs_dim, action_dim)
        self.weights = WeightBoard.create(layout.size)
        self.status = StatusBoard.create()
        self.status[Slot.ACTOR_STEPS], self.status[Slot.ACTOR_EPISODES] = start_step, start_episode
        self._fetch_weights(timeout_s=self.fleet.start_timeout_s)
        if self.weights.version == 0:
            for part in (self.ring, self.weights, self.status):
                part.close()
            raise RuntimeError(f"robot {self.index}: no weights from the learner in {self.fleet.start_timeout_s:.0f} s; "
                               f"its loop was not started")
        directory = self.run_root / "fleet" / f"actor-{self.index}"  # on this robot's computer
        directory.mkdir(parents=True, exist_ok=True)
        write_text_atomic(directory / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        self.timing = TimingFileWriter(directory / "timing", self.status.loop_timing, self.status.loop_timing_count)
        args = LoopArgs(self.config, str(self.run_root), self.ring.spec, self.weights.spec, self.status.spec, layout,
                        start_step, start_episode, self.log_level, actor_index=self.index, supervisor_pid=os.getpid())
        self.loop_pid = start_detached_loop(args)
        self.loop = ProcessWatch(self.loop_pid)
        return {"loop_pid": self.loop_pid, "timing_dir": str(directory)}

    # -- the bridge ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Bridge until the control loop ends; returns this robot's final report. If the bridge
        fails, the loop is stopped (torque off) before the error is raised."""
        fleet = self.fleet
        position, in_flight = 0, []
        next_weights = next_summary = time.monotonic()
        try:
            while not self.loop.gone():
                if self.stop_level:
                    self.status[Slot.STOP] = self.stop_level
                position, in_flight = self._send(position, in_flight)
                now = time.monotonic()
                if now >= next_weights:
                    next_weights = now + fleet.weights_every_s
                    self._fetch_weights(timeout_s=fleet.weights_every_s * 10)
                if now >= next_summary:
                    next_summary = now + 1.0
                    self.timing.drain()
                    self.status.summarise_timing(self.timing)
                time.sleep(fleet.send_every_s)
        except BaseException:
            log.exception("robot %d: the bridge failed; stopping the control loop at once (torque off)", self.index)
            self.status[Slot.STOP] = 2
            deadline = time.monotonic() + LOOP_STOP_TIMEOUT_S
            while not self.loop.gone() and time.monotonic() < deadline:
                time.sleep(0.01)
            self._after_loop()
            raise
        self._after_loop()
        position, in_flight = self._send(position, in_flight)  # the loop's last rows
        self._settle(in_flight, FINAL_SEND_TIMEOUT_S)
        self.timing.close()
        self.status.summarise_timing(self.timing)
        report = self.report()
        report["state"] = ActorState(int(self.status[Slot.ACTOR_STATE])).name.lower()
        log.info("robot %d: control loop ended (%s), %d transitions sent", self.index, report["state"], self.sent)
        with self.lock:
            self.final = report
            for part in (self.ring, self.weights, self.status):
                part.close()
        return report

    def _after_loop(self) -> None:
        """The loop has exited: if it never recorded its end, it died without its safe stop."""
        self.status[Slot.ACTOR_EXITED] = 1
        if self.loop.gone() and self.status[Slot.ACTOR_STATE] == ActorState.RUNNING:
            self.status[Slot.ACTOR_STATE] = ActorState.FAILED
            cut_torque_after_crash(self.config, f"robot {self.index}: the control loop (pid {self.loop_pid}) died")
        self.loop.close()

    def _send(self, position: int, in_flight: list) -> tuple[int, list]:
        """Ship the rows the loop wrote since ``position`` as one batch (never more than
        ``fleet.max_in_flight`` unanswered: beyond that the bridge waits, the loop does not)."""
        in_flight = self._settle(in_flight, 0.0)
        while len(in_flight) >= self.fleet.max_in_flight and not self.learner_dead:
            in_flight = self._settle(in_flight, 1.0)
        drained, position = self.ring.drain(position)
        if drained.lost:
            self.status.add(Slot.RING_LOST, drained.lost)
            log.warning("robot %d: %d transitions lost: the bridge fell more than a ring behind", self.index,
                        drained.lost)
        if len(drained) and not self.learner_dead:
            in_flight.append(self.learner.add.remote(self.index, drained, self.status.snapshot()))
        return position, in_flight

    def _settle(self, in_flight: list, timeout_s: float) -> list:
        """Collect the learner's answers to batches sent; returns those still unanswered."""
        if not in_flight:
            return in_flight
        done, pending = ray.wait(in_flight, num_returns=len(in_flight), timeout=timeout_s)
        for ref in done:
            try:
                self._learner_answer(ray.get(ref))
            except ActorUnavailableError as exc:  # unreachable for now (a network blip): not gone
                log.warning("robot %d: a batch may not have reached the learner (%s)", self.index, exc)
            except RayActorError as exc:
                self._learner_lost(exc)
                return []
            except RayError as exc:  # that batch failed in the learner; the next ones may not
                log.error("robot %d: the learner refused a batch: %s", self.index, exc)
        return pending

    def _learner_answer(self, answer: dict[str, Any]) -> None:
        with self.lock:
            self.sent = answer["from_actor"]
        # The slow-learner wait (realtime.min_updates_per_step) compares updates with this loop's
        # steps: its share of the learner's updates, by the share of the data it sent.
        share = answer["from_actor"] / max(answer["fleet_steps"], 1)
        self.status[Slot.LEARNER_UPDATES] = answer["updates"] * share
        self.status[Slot.LEARNER_PUBLISHED_VERSION] = answer["version"]
        if not answer["learner_alive"]:
            self._learner_lost("its process ended")

    def _fetch_weights(self, timeout_s: float) -> None:
        if self.learner_dead:
            return
        try:
            offer = ray.get(self.learner.weights.remote(self.weights.version), timeout=timeout_s)
            if offer is not None:
                version, (ref,) = offer
                self.weights.publish(ray.get(ref, timeout=timeout_s), version)
        except (GetTimeoutError, ActorUnavailableError):
            log.warning("robot %d: no answer from the learner in %.1f s; the loop goes on with weights v%d",
                        self.index, timeout_s, self.weights.version)
        except RayActorError as exc:
            self._learner_lost(exc)
        except RayError as exc:  # e.g. the weights' owner died between the offer and the fetch
            log.warning("robot %d: fetching weights failed (%s); the loop goes on with v%d", self.index, exc,
                        self.weights.version)

    def _learner_lost(self, why: Any) -> None:
        if not self.learner_dead:
            self.learner_dead = True
            self.status[Slot.LEARNER_DEAD] = 1  # the loop applies realtime.learner_failure
            log.error("robot %d: the learner is gone (%s); the loop %s", self.index, why,
                      "stops safely" if self.config.realtime.learner_failure == "stop" else
                      f"goes on with weights v{self.weights.version}")

    # -- control (answered while run() bridges) ----------------------------------------------------
    def stop(self, level: int = 1) -> None:
        """1: finish the step, torque off, send the last rows; 2: stop at once (still torque off)."""
        with self.lock:
            self.stop_level = max(self.stop_level, level)
            if self.loop_pid is not None and self.final is None:
                self.status[Slot.STOP] = self.stop_level

    def report(self) -> dict[str, Any]:
        with self.lock:
            if self.final is not None:
                return self.final
            values = self.status.snapshot() if self.loop_pid is not None else {}
            sent = self.sent
        return {"index": self.index, "pid": os.getpid(), "host": socket.gethostname(), "loop_pid": self.loop_pid,
                "sent": sent, "steps": int(values.get("actor_steps", 0)),
                "episodes": int(values.get("actor_episodes", 0)),
                "weight_version": int(values.get("actor_weight_version", 0)),
                "last_return": values.get("actor_last_return", 0.0),
                "period_error_p99_ms": values.get("loop_period_err_p99_s", 0.0) * 1e3,
                "overruns": int(values.get("loop_overruns", 0)), "ring_lost": int(values.get("ring_lost", 0)),
                "learner_dead": self.learner_dead}
