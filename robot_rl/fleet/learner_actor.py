"""The learner of a fleet: a Ray actor (on a GPU node when the cluster has one) that runs the
single-machine learner process and bridges it to the robots.

The learner is :mod:`robot_rl.realtime.learner_loop` unchanged, in its own process, draining a
shared-memory ring into the replay (which persists it), updating, publishing weights to a
weight board, writing checkpoints and metrics to the run directory on this actor's host. This
actor is its parent: :meth:`LearnerActor.add` pushes each robot's batch into the ring (calls
are served one at a time, so the ring keeps its single producer), :meth:`LearnerActor.weights`
puts newer weights into Ray's object store once per version and hands out the reference. The
learner's status board gets the fleet's totals (steps, episodes, the latest evaluation, the
worst loop timing) so that its metrics read as in the single-machine mode.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import socket
import time
from pathlib import Path
from typing import Any

import numpy as np
import ray

from robot_rl.realtime.os_tuning import normal_niceness
from robot_rl.realtime.learner_loop import LearnerArgs, learner_main
from robot_rl.realtime.run import STOP_TIMEOUT_S, LearnerStartError
from robot_rl.realtime.status_board import ActorState, LearnerState, Slot, StatusBoard
from robot_rl.realtime.transition_ring import Drained, TransitionRing
from robot_rl.realtime.weight_board import WeightBoard
from robot_rl.train.checkpoint import load_checkpoint
from robot_rl.train.config import TrainConfig
from robot_rl.train.run_dir import RunDir

log = logging.getLogger("robot_rl.fleet.learner")
RING_FACTOR = 4  # the learner's ring holds this many robots' rings


class LearnerActor:
    def __init__(self, config: TrainConfig, run_root: str, resume: bool, source: str, obs_dim: int,
                 low: list[float], high: list[float], metadata: dict, weight_size: int, log_level: int) -> None:
        logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
        niceness = normal_niceness()  # Ray's workers run at nice 15; the processes started here inherit it
        if niceness:
            log.info("%s", niceness)
        run = RunDir(Path(run_root))
        run.create(config, resume)
        self.start_step = self.start_episode = 0
        if resume:
            state = load_checkpoint(run.latest_checkpoint)
            self.start_step, self.start_episode = int(state["step"]), int(state["episodes"])
        rt = config.realtime
        self.ring = TransitionRing.create(rt.ring_capacity * RING_FACTOR, obs_dim, len(low))
        self.board = WeightBoard.create(weight_size)
        self.weight_size = weight_size
        self.status = StatusBoard.create()
        self.status[Slot.ACTOR_STATE] = ActorState.RUNNING
        self.status[Slot.ACTOR_STEPS], self.status[Slot.ACTOR_EPISODES] = self.start_step, self.start_episode
        self.from_actor: dict[int, int] = {}  # rows received per robot index (this session)
        self.actor_status: dict[int, dict[str, float]] = {}  # each robot's latest status board
        self.eval_seen: dict[int, float] = {}
        self.offer: tuple[int, Any] | None = None  # (version, object ref) of the newest weights put
        self.finished: dict[str, Any] | None = None  # once finish() has run: the last answer
        self.refused = 0  # rows that arrived after finish()
        self.process = mp.get_context("spawn").Process(target=learner_main, name="robot_rl-learner", args=(LearnerArgs(
            config, run_root, self.ring.spec, self.board.spec, self.status.spec, obs_dim, tuple(low), tuple(high),
            resume, source, metadata, log_level),))
        self.process.start()
        deadline = time.monotonic() + config.fleet.start_timeout_s
        while self.status[Slot.LEARNER_STATE] == LearnerState.STARTING and self.process.is_alive():
            if time.monotonic() > deadline:
                self.process.terminate()
                raise LearnerStartError(f"the learner did not start in {config.fleet.start_timeout_s:.0f} s")
            time.sleep(0.05)
        if not self.process.is_alive():
            raise LearnerStartError(f"the learner process died (exit code {self.process.exitcode}) before it "
                                    f"published its first weights; see its log above")

    def ready(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname(), "learner_pid": self.process.pid,
                "start_step": self.start_step, "start_episode": self.start_episode, "version": self.board.version,
                "restored": int(self.status[Slot.RESUME_RESTORED]), "lost": int(self.status[Slot.RESUME_LOST])}

    def add(self, index: int, rows: Drained, actor_status: dict[str, float]) -> dict[str, Any]:
        """A robot's batch: into the ring, and its status into the fleet's totals. Answers with
        what the robot's bridge needs (acknowledged rows, updates, newest version, learner alive).
        After :meth:`finish` the rows are refused (counted, and the learner reported gone)."""
        if self.finished is not None:
            self.refused += len(rows)
            return {**self.finished, "from_actor": self.from_actor.get(index, 0), "fleet_steps":
                    sum(self.from_actor.values()), "learner_alive": False}
        self.ring.push_rows(rows)
        self.from_actor[index] = self.from_actor.get(index, 0) + len(rows)
        self.actor_status[index] = actor_status
        self._fleet_totals(index, actor_status)
        return {"from_actor": self.from_actor[index], "fleet_steps": sum(self.from_actor.values()),
                "updates": self.status[Slot.LEARNER_UPDATES], "version": self.board.version,
                "learner_alive": self.process.is_alive()}

    def _fleet_totals(self, index: int, latest: dict[str, float]) -> None:
        s = self.status
        s[Slot.ACTOR_STEPS] = self.start_step + sum(self.from_actor.values())
        # Each robot counts from its share of the start (the shares add up to the run's count).
        s[Slot.ACTOR_EPISODES] = sum(a["actor_episodes"] for a in self.actor_status.values())
        if latest["eval_count"] > self.eval_seen.get(index, 0.0):  # a robot finished an evaluation episode
            self.eval_seen[index] = latest["eval_count"]
            s[Slot.EVAL_RETURN], s[Slot.EVAL_SUCCESS] = latest["eval_return"], latest["eval_success"]
            s.add(Slot.EVAL_COUNT)
        s[Slot.ACTOR_LAST_RETURN], s[Slot.ACTOR_LAST_SUCCESS] = latest["actor_last_return"], latest["actor_last_success"]
        robots = self.actor_status.values()
        s[Slot.ACTOR_WEIGHT_VERSION] = min(a["actor_weight_version"] for a in robots)  # the stalest robot's
        for slot in (Slot.LOOP_PERIOD_ERR_P50_S, Slot.LOOP_PERIOD_ERR_P99_S, Slot.LOOP_PERIOD_ERR_MAX_S,
                     Slot.LOOP_LATENCY_P99_S, Slot.LOOP_COMPUTE_P99_S):  # the worst robot's
            s[slot] = max(a[slot.name.lower()] for a in robots)
        s[Slot.LOOP_OVERRUNS] = sum(a["loop_overruns"] for a in robots)

    def weights(self, have: int) -> tuple[int, list] | None:
        """Newer weights than version ``have``: (version, [object ref]); None when there are none.
        Each version is put into the object store once, however many robots fetch it."""
        if self.finished is not None:
            return self.offer_for(have)
        version = self.board.version
        if version <= have:
            return None
        if self.offer is None or self.offer[0] < version:
            flat = np.empty(self.weight_size, np.float32)
            got = self.board.read_if_newer(self.offer[0] if self.offer else 0, flat)
            if got is None:  # the learner was publishing meanwhile: the robot asks again soon
                return self.offer_for(have)
            self.offer = (got, ray.put(flat))
        return self.offer_for(have)

    def offer_for(self, have: int) -> tuple[int, list] | None:
        if self.offer is None or self.offer[0] <= have:
            return None
        return self.offer[0], [self.offer[1]]  # in a list, so that Ray hands over the ref, not the array

    def status_report(self) -> dict[str, Any]:
        if self.finished is not None:
            return {**self.final_report, "refused": self.refused}
        values = self.status.snapshot()
        return {"alive": self.process.is_alive(), "exit_code": self.process.exitcode, "updates": values["learner_updates"],
                "version": self.board.version, "fleet_steps": values["actor_steps"],
                "episodes": values["actor_episodes"], "eval_return": values["eval_return"],
                "eval_success": values["eval_success"], "eval_count": values["eval_count"],
                "ring_lost": values["ring_lost"], "from_actor": dict(self.from_actor),
                "restored": values["resume_restored"], "lost": values["resume_lost"]}

    def finish(self, level: int) -> dict[str, Any]:
        """Every robot has stopped: the learner drains the ring, checkpoints (unless ``level`` is
        2, a stop at once) and ends."""
        self.status[Slot.STOP] = max(level, 1)
        self.status[Slot.ACTOR_STATE] = ActorState.DONE
        self.status[Slot.ACTOR_EXITED] = 1
        self.process.join(STOP_TIMEOUT_S)
        if self.process.is_alive():
            log.error("the learner did not stop in %.0f s: terminating it", STOP_TIMEOUT_S)
            self.process.terminate()
            self.process.join(10)
        report = self.status_report()
        self.final_report = report
        self.finished = {"updates": report["updates"], "version": report["version"]}
        for part in (self.ring, self.board, self.status):
            part.close()
        return report
