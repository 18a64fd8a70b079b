"""The learner process: drains the shared ring into the replay buffer (which persists it),
updates the learner, publishes weights, writes checkpoints and metrics.

The learner is the training pipeline's SAC/TD3 unchanged, paced to the update-to-data ratio
``loop.updates_per_step`` (``robot_rl.train.update_ratio``): each environment step collected
since training began (``loop.update_after``, or the start of a resumed session) earns that many
updates, which the learner does as fast as its CPU allows and never more, so that an idle robot
does not let it overfit the buffer. Behind by two or more, it catches up with several updates
per call (``update_many``: rounds of one compiled graph each), at most ``CATCH_UP_UPDATES`` per
call so that the ring is drained and weights are published between calls. The steps before
``update_after`` earn no updates: counted from step 0, they would let the learner do
``update_after x updates_per_step`` updates at once on its first ``update_after`` transitions,
an early overfit that slowed learning here (the synchronous trainer also starts its updates at
``update_after``). The ratio achieved goes to the metrics at each log, to a status slot for the
run's summary, and into the learner's last log line, with a warning when the CPU fell short.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from drivers.config import build
from robot_rl.realtime.os_tuning import tune_current_process
from robot_rl.realtime.policy_snapshot import snapshot
from robot_rl.realtime.shared_block import BlockSpec
from robot_rl.realtime.status_board import ActorState, LearnerState, Slot, StatusBoard
from robot_rl.realtime.transition_ring import TransitionRing
from robot_rl.realtime.weight_board import WeightBoard
from robot_rl.replay import ReplayBuffer, ReplayConfig
from robot_rl.train.checkpoint import load_checkpoint, random_states, restore_random_states, save_checkpoint
from robot_rl.train.config import TrainConfig
from robot_rl.train.human_data import human_metrics, source_columns, start_human_data
from robot_rl.train.learners import make_learner
from robot_rl.train.metrics import MetricsWriter
from robot_rl.train.replay_batch import hindsight_relabeler, sample_batch
from robot_rl.train.run_dir import RunDir
from robot_rl.train.update_ratio import achieved_ratio, ratio_line, shortfall_advice, updates_due
from robot_side.safety.stop_signals import ignore_in_child

log = logging.getLogger("robot_rl.learner")
ORPHAN_WAIT_S = 10.0
CATCH_UP_UPDATES = 8  # at most per call when behind: a few tens of milliseconds of a 2x256 SAC
EXTRA_COLUMNS = [{"name": "weight_version", "dtype": "int64"}, {"name": "episode", "dtype": "int64"},
                 {"name": "actor", "dtype": "int64"}]


@dataclass(frozen=True)
class LearnerArgs:
    config: TrainConfig
    run_dir: str
    ring: BlockSpec
    weights: BlockSpec
    status: BlockSpec
    obs_dim: int
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    resume: bool
    source: str
    policy_metadata: dict
    log_level: int = logging.INFO


class LearnerLoop:
    def __init__(self, args: LearnerArgs) -> None:
        self.args = args
        self.config = args.config
        self.run_dir = RunDir(Path(args.run_dir))
        self.status = StatusBoard.attach(args.status)
        self.ring = TransitionRing.attach(args.ring)
        self.weights = WeightBoard.attach(args.weights)
        self.stop_requested_at: float | None = None  # when a SIGTERM of its own came
        self.parent_pid = os.getppid()
        self._orphaned_at: float | None = None
        loop = self.config.loop
        random.seed(loop.seed)
        np.random.seed(loop.seed)
        torch.manual_seed(loop.seed)
        torch.set_num_threads(loop.threads)
        low, high = np.array(args.action_low), np.array(args.action_high)
        self.learner = make_learner(self.config, args.obs_dim, low, high, args.source)
        replay_config = build(ReplayConfig, {"gamma": self.learner.config.gamma,
                                             "extra_columns": EXTRA_COLUMNS + source_columns(self.config),
                                             **self.config.replay}, args.source, "replay")
        self.replay = ReplayBuffer(replay_config, args.obs_dim, low.shape[0], rng=loop.seed,
                                   run_dir=None if args.resume else self.run_dir.root)
        self.relabel = hindsight_relabeler(self.config, replay_config)
        self.sampler = start_human_data(self.config, self.replay, args.obs_dim, low.shape[0],
                                        self.learner.normalizer, args.resume)
        # Rows that came from no environment step (demonstrations loaded at the start).
        self.demo_rows = 0 if args.resume else self.replay.total_added
        self.episodes = 0
        self.lost = 0
        if args.resume:
            state = load_checkpoint(self.run_dir.latest_checkpoint)
            self.learner.load_state_dict(state["learner"])
            self.episodes = int(state["episodes"])
            self.demo_rows = int(state.get("demo_rows", 0))
            restore_random_states(state["random"])
            report = self.replay.restore(self.run_dir.root, state=state["replay"])
            log.info("resumed: %d transitions restored, %d lost since the last flush", report.restored, report.lost)
            self.status[Slot.RESUME_RESTORED] = report.restored
            self.status[Slot.RESUME_LOST] = report.lost
        self._episode_returns: dict[tuple[int, int], float] = {}  # (actor, episode) -> return so far
        self.metrics = MetricsWriter(self.run_dir.metrics, self.run_dir.tensorboard)

    @property
    def env_steps(self) -> int:
        """Environment steps in the replay: every row but the demonstrations loaded at the start."""
        return self.replay.total_added - self.demo_rows

    def publish(self) -> None:
        _, flat = snapshot(self.learner)
        self.status[Slot.LEARNER_PUBLISHED_VERSION] = self.weights.publish(flat)

    def checkpoint(self) -> None:
        self.replay.flush()
        state = {"learner": self.learner.state_dict(), "step": self.env_steps, "demo_rows": self.demo_rows,
                 "episodes": int(max(self.episodes, self.status[Slot.ACTOR_EPISODES])),
                 "replay": self.replay.state_dict(), "random": random_states(),
                 "action_space_rng": None, "algo": self.config.algo.name, "config_hash": self.config.hash(),
                 "mode": "async", "config": self.config.to_dict(), "metadata": self.args.policy_metadata}
        save_checkpoint(self.run_dir.latest_checkpoint, state)

    def run(self) -> LearnerState:
        loop, rt = self.config.loop, self.config.realtime
        report = tune_current_process(rt.learner_cpu, None, None)
        log.info("learner: %s", report)
        self.publish()
        self.status[Slot.LEARNER_STATE] = LearnerState.RUNNING
        position = 0
        start_steps = self.env_steps
        first_update_step = max(start_steps, loop.update_after)  # updates are earned from here on
        next_checkpoint = (start_steps // loop.checkpoint_every_steps + 1) * loop.checkpoint_every_steps
        next_log = (start_steps // loop.log_every_steps + 1) * loop.log_every_steps
        last: dict[str, float] = {}
        seen_eval = 0.0
        last_log_time, last_log_updates = time.monotonic(), self.learner.num_updates
        session_updates = 0
        while True:
            drained, position = self.ring.drain(position, limit=10_000)
            if len(drained):
                if self.learner.normalizer is not None:  # as the sync trainer: every observation collected
                    self.learner.normalizer.update(drained.obs)
                self._log_episode_returns(drained)
                self.replay.add_batch(drained.obs, drained.action, drained.reward, drained.next_obs,
                                      drained.terminated, drained.truncated,
                                      extras={"weight_version": drained.weight_version, "episode": drained.episode,
                                              "actor": drained.actor, **self._sources(drained)})
            if drained.lost:
                self.lost += drained.lost
                self.status[Slot.RING_LOST] = self.lost
                log.warning("%d transitions lost: the learner fell more than a ring behind", drained.lost)
            steps = self.env_steps
            # A stop request ends the learner only once the loop has pushed its last transition
            # (it finishes its step first), so that the final checkpoint holds every one: the
            # parent's (STOP 1), and a SIGTERM of the learner's own (a terminal or a service
            # manager signals the whole group, the loop included), waited on for at most
            # ORPHAN_WAIT_S in case it came alone.
            now = self.status[Slot.STOP] >= 2 or self._orphaned_for_s() > ORPHAN_WAIT_S or (
                self.stop_requested_at is not None and time.monotonic() - self.stop_requested_at > ORPHAN_WAIT_S)
            actor_over = self.status[Slot.ACTOR_STATE] in (ActorState.DONE, ActorState.FAILED) or \
                self.status[Slot.ACTOR_EXITED] > 0
            if (now or actor_over) and not len(drained) and position >= self.ring.written:
                break
            earning_steps = max(steps - first_update_step, 0)
            due = updates_due(loop.updates_per_step, earning_steps, session_updates)
            if len(self.replay) >= loop.update_after and due >= 1:
                n = min(due, CATCH_UP_UPDATES)
                last = self._update(n)
                session_updates += n
                due -= n
            else:
                time.sleep(0.001)
            self.status[Slot.LEARNER_UPDATES] = session_updates
            self.status[Slot.LEARNER_EARNING_STEPS] = earning_steps
            self.status[Slot.LEARNER_HEARTBEAT_S] = time.monotonic()
            if steps >= next_checkpoint:
                self.checkpoint()
                next_checkpoint += loop.checkpoint_every_steps
            if steps >= next_log:
                next_log += loop.log_every_steps
                now = time.monotonic()
                rate = (self.learner.num_updates - last_log_updates) / max(now - last_log_time, 1e-9)
                last_log_time, last_log_updates = now, self.learner.num_updates
                values = {f"learner/{k}": v for k, v in last.items()}
                values["learner/updates_per_s"] = rate
                values["learner/updates_per_step"] = achieved_ratio(session_updates, earning_steps)
                values["learner/updates_behind"] = due
                values.update(human_metrics(self.sampler))
                values.update({f"loop/{k}": v for k, v in self._loop_values().items()})
                if self.status[Slot.EVAL_COUNT] > seen_eval:
                    seen_eval = self.status[Slot.EVAL_COUNT]
                    values["eval/mean_return"] = self.status[Slot.EVAL_RETURN]
                    values["eval/success_rate"] = self.status[Slot.EVAL_SUCCESS]
                self.metrics.write(steps, values)
        self._report_ratio(session_updates, max(self.env_steps - first_update_step, 0))
        if self.status[Slot.STOP] < 2:  # a second Ctrl-C skips the final checkpoint
            self.checkpoint()
        self.metrics.close()
        self.replay.close()
        return LearnerState.DONE

    def _update(self, n: int) -> dict[str, float]:
        """``n`` updates, each on a fresh batch (two or more as rounds: ``update_many``); weights
        are published when the count reaches or crosses a multiple of ``publish_every_updates``."""
        every = self.config.realtime.publish_every_updates
        before = self.learner.num_updates
        batches = [sample_batch(self.replay, self.learner.config.batch_size, self.learner.device, self.relabel,
                                self.sampler) for _ in range(n)]
        metrics = self.learner.update(batches[0]) if n == 1 else self.learner.update_many(batches)
        if self.learner.num_updates // every > before // every:
            self.publish()
        return metrics

    def _sources(self, drained) -> dict[str, np.ndarray]:
        """The ``source`` column of rows from the loop (policy or intervention); none without human data."""
        return {} if self.sampler is None else {"source": drained.source}

    def _report_ratio(self, updates: int, earning_steps: int) -> None:
        """The session's ratio, into its status slots (the parent's summary) and the log; a
        warning, with what to do, when the CPU did not keep up."""
        target = self.config.loop.updates_per_step
        achieved = achieved_ratio(updates, earning_steps)
        self.status[Slot.LEARNER_UPDATES] = updates
        self.status[Slot.LEARNER_EARNING_STEPS] = earning_steps
        log.info("%s: %d updates for %d steps", ratio_line(target, achieved), updates, earning_steps)
        advice = shortfall_advice(target, achieved) if earning_steps else None
        if advice:
            log.warning("%s", advice)

    def _log_episode_returns(self, drained) -> None:
        """One ``train/episode_return`` metric per training episode that ended in these rows (the
        learning curve); an episode cut by a stop is not reported. Episodes are told apart by
        actor (a fleet's loops count their episodes each)."""
        returns = self._episode_returns
        ends = drained.terminated | drained.truncated
        rows = zip(drained.actor.tolist(), drained.episode.tolist(), drained.reward.tolist(), ends.tolist())
        newest: dict[int, int] = {}
        for i, (actor, episode, reward, end) in enumerate(rows):  # called before the rows join the replay
            key = (actor, episode)
            returns[key] = returns.get(key, 0.0) + reward
            newest[actor] = episode
            if end:
                self.metrics.write(self.env_steps + i + 1, {"train/episode_return": returns.pop(key)})
        for stale in [k for k in returns if k[1] < newest.get(k[0], -1)]:  # cut by a stop or a crash
            del returns[stale]

    def _orphaned_for_s(self) -> float:
        """Seconds since the parent process died (0 while it lives). The loop stops on its own then;
        the learner waits for it (at most ORPHAN_WAIT_S), then drains, checkpoints and ends."""
        if self._orphaned_at is None:
            if os.getppid() == self.parent_pid:
                return 0.0
            self._orphaned_at = time.monotonic()
            log.error("the parent process died: checkpointing and stopping once the loop has stopped")
        return time.monotonic() - self._orphaned_at

    def _loop_values(self) -> dict[str, float]:
        s = self.status
        return {"period_error_p50_ms": s[Slot.LOOP_PERIOD_ERR_P50_S] * 1e3,
                "period_error_p99_ms": s[Slot.LOOP_PERIOD_ERR_P99_S] * 1e3,
                "period_error_max_ms": s[Slot.LOOP_PERIOD_ERR_MAX_S] * 1e3,
                "latency_p99_ms": s[Slot.LOOP_LATENCY_P99_S] * 1e3, "compute_p99_ms": s[Slot.LOOP_COMPUTE_P99_S] * 1e3,
                "overruns": s[Slot.LOOP_OVERRUNS], "episode_return": s[Slot.ACTOR_LAST_RETURN],
                "episode_success": s[Slot.ACTOR_LAST_SUCCESS], "weight_version": s[Slot.ACTOR_WEIGHT_VERSION]}

    def close(self) -> None:
        for part in (self.ring, self.weights, self.status):
            part.close()


def learner_main(args: LearnerArgs) -> None:
    """Entry point of the learner process."""
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    ignore_in_child()  # SIGINT and SIGHUP: the parent decides (robot_rl/realtime/run.py)
    state = LearnerState.FAILED
    loop = None
    try:
        loop = LearnerLoop(args)

        def on_term(signum, frame) -> None:
            loop.stop_requested_at = loop.stop_requested_at or time.monotonic()

        signal.signal(signal.SIGTERM, on_term)
        state = loop.run()
    finally:
        if loop is not None:
            loop.status[Slot.LEARNER_STATE] = state
            loop.close()
    raise SystemExit(0 if state == LearnerState.DONE else 1)
