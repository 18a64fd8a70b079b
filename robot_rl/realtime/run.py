"""Start, watch and stop the two processes of the asynchronous mode.

Signals: the first Ctrl-C (or SIGTERM) asks both processes to finish cleanly: the loop ends
its step and turns torque off, the learner drains the ring, flushes the replay and writes a
checkpoint. A second Ctrl-C stops at once (the loop still turns torque off; no checkpoint).
If the learner dies, the loop goes on or stops as ``realtime.learner_failure`` says; if the
loop dies, the learner checkpoints and stops. The exit code says how the run ended.

The parent, otherwise idle, saves the loop's per-step timing rows (``RUN_DIR/timing``) and
computes the percentiles the progress line and the metrics show, so the loop process never
does file I/O or statistics. ``RUN_DIR/pids.json`` names the three processes of the latest
session (parent, control loop, learner), for operators and tests that need to signal one of
them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any

from robot_rl.errors import TrainingError
from robot_rl.realtime.control_loop import LoopArgs, control_loop_main
from robot_rl.realtime.crash_stop import cut_torque_after_crash
from robot_rl.realtime.env_description import describe_env
from robot_rl.realtime.learner_loop import LearnerArgs, learner_main
from robot_rl.realtime.loop_timing import TimingFileWriter
from robot_rl.realtime.policy_snapshot import snapshot
from robot_rl.realtime.status_board import ActorState, LearnerState, Slot, StatusBoard
from robot_rl.realtime.transition_ring import TransitionRing
from robot_rl.realtime.weight_board import WeightBoard
from robot_rl.train.checkpoint import load_checkpoint
from robot_rl.train.config import TrainConfig
from robot_rl.train.learners import make_learner
from robot_rl.train.run_dir import RunDir, write_text_atomic
from robot_rl.train.update_ratio import achieved_ratio
from robot_side.safety.stop_signals import StopSignals
from robot_side.teleop.keyboard import SPACE, KeyboardKeys

log = logging.getLogger("robot_rl.async")
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 120.0

EXIT_OK, EXIT_FAILED = 0, 1  # after a signal: 128 + its number (StopSignals.exit_code)


class LearnerStartError(TrainingError):
    """The learner process died or hung before it published its first weights."""


@dataclass
class Outcome:
    exit_code: int
    reason: str


def run_async(config: TrainConfig, run: RunDir, *, resume: bool = False, source: str = "<config>",
              on_status: Any = None) -> dict[str, Any]:
    obs_dim, low, high, metadata = describe_env(config)
    run.create(config, resume)
    layout, flat = snapshot(make_learner(config, obs_dim, low, high, source))
    start_step = start_episode = 0
    if resume:
        state = load_checkpoint(run.latest_checkpoint)
        start_step, start_episode = int(state["step"]), int(state["episodes"])
    ring = TransitionRing.create(config.realtime.ring_capacity, obs_dim, low.shape[0])
    weights = WeightBoard.create(flat.shape[0])
    status = StatusBoard.create()
    status[Slot.ACTOR_STEPS], status[Slot.ACTOR_EPISODES] = start_step, start_episode  # before the loop runs
    timing = TimingFileWriter(run.root / "timing", status.loop_timing, status.loop_timing_count)
    ctx = mp.get_context("spawn")
    level = logging.getLogger().getEffectiveLevel()
    learner = ctx.Process(target=learner_main, name="robot_rl-learner", args=(LearnerArgs(
        config, str(run.root), ring.spec, weights.spec, status.spec, obs_dim, tuple(low), tuple(high), resume, source,
        metadata, level),))
    actor = ctx.Process(target=control_loop_main, name="robot_rl-control-loop", args=(LoopArgs(
        config, str(run.root), ring.spec, weights.spec, status.spec, layout, start_step, start_episode, level),))
    started = time.monotonic()

    def on_signal(count: int, signum: int) -> None:
        name = signal.Signals(signum).name
        if count == 1:
            status[Slot.STOP] = 1
            print(f"\n{name}: stopping: finishing the step, torque off, flushing the replay, writing a checkpoint "
                  "(Ctrl-C again to stop at once)", file=sys.stderr, flush=True)
        else:
            status[Slot.STOP] = 2
            print(f"\n{name}: stopping at once (motors are still made safe; no final checkpoint)", file=sys.stderr,
                  flush=True)

    # SIGHUP too: a closed terminal or SSH session must stop the robot cleanly, not kill this process.
    # The handlers stay until both processes are gone: a second signal while waiting means "at once".
    # With interventions, the space bar (or a pedal) takes over too: read here, where the terminal is.
    keys = KeyboardKeys() if config.intervention.leader is not None else contextlib.nullcontext()
    with StopSignals(on_signal) as signals, keys:
        try:
            learner.start()
            if not _wait(lambda: status[Slot.LEARNER_STATE] != LearnerState.STARTING or not learner.is_alive(),
                         START_TIMEOUT_S) or not learner.is_alive():
                status[Slot.STOP] = 2
                what = f"died (exit code {learner.exitcode})" if not learner.is_alive() else \
                    f"did not start in {START_TIMEOUT_S:.0f} s"
                raise LearnerStartError(f"the learner process {what} before the control loop started; "
                                        f"see its log above")
            actor.start()
            write_text_atomic(run.root / "pids.json", json.dumps(
                {"parent": os.getpid(), "control_loop": actor.pid, "learner": learner.pid}))
            outcome = _watch(config, actor, learner, status, signals, on_status, timing,
                             keys if isinstance(keys, KeyboardKeys) else None)
        finally:
            status[Slot.STOP] = max(status[Slot.STOP], 1)  # normally set already; not after an error here
            for process in (actor, learner):
                if process.is_alive():
                    process.join(STOP_TIMEOUT_S)
                if process.is_alive():
                    log.error("%s did not stop in %.0f s: terminating it", process.name, STOP_TIMEOUT_S)
                    process.terminate()
                    process.join(10)
                if process is actor:
                    status[Slot.ACTOR_EXITED] = 1
                    timing.close()
                    status.summarise_timing(timing)
            snapshot_status = status.snapshot()
            for part in (ring, weights, status):
                part.close()
    return {"run_dir": str(run.root), "env": config.env.id, "algo": config.algo.name, "mode": "async",
            "steps": int(snapshot_status["actor_steps"]), "episodes": int(snapshot_status["actor_episodes"]),
            "updates": int(snapshot_status["learner_updates"]),
            "updates_per_step_target": config.loop.updates_per_step,
            "updates_per_step_achieved": achieved_ratio(int(snapshot_status["learner_updates"]),
                                                        int(snapshot_status["learner_earning_steps"])),
            "wall_time_s": time.monotonic() - started,
            "interrupted": signals.requested, "stopped_by": signals.name, "exit_code": outcome.exit_code,
            "reason": outcome.reason, "last_eval_return": snapshot_status["eval_return"] or None,
            "last_eval_success_rate": snapshot_status["eval_success"] if snapshot_status["eval_count"] else None,
            "loop_period_error_p99_ms": snapshot_status["loop_period_err_p99_s"] * 1e3,
            "loop_overruns": int(snapshot_status["loop_overruns"]),
            "watchdog_fired": int(snapshot_status["watchdog_fired"]), "checkpoint": str(run.latest_checkpoint),
            "restored_transitions": int(snapshot_status["resume_restored"]),
            "lost_transitions": int(snapshot_status["resume_lost"])}


def _wait(condition, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _watch(config: TrainConfig, actor, learner, status: StatusBoard, signals: StopSignals, on_status,
           timing: TimingFileWriter, keys: KeyboardKeys | None = None) -> Outcome:
    reason = ""
    code = EXIT_OK
    next_summary = time.monotonic()
    while actor.is_alive():
        if keys is not None:
            status[Slot.HUMAN_KEY_TAKEOVER] = float(keys.toggled(SPACE))
        timing.drain()
        if time.monotonic() >= next_summary:
            next_summary += 1.0
            status.summarise_timing(timing)
        if not learner.is_alive() and status[Slot.LEARNER_DEAD] == 0:
            status[Slot.LEARNER_DEAD] = 1
            reason = f"the learner process died (exit code {learner.exitcode})"
            code = EXIT_FAILED
            log.error("%s; the control loop %s", reason,
                      "stops safely" if status[Slot.STOP] == 0 else "is stopping")
        if on_status is not None:
            on_status(status.snapshot())
        time.sleep(0.1)
    actor.join()
    status[Slot.ACTOR_EXITED] = 1
    if actor.exitcode != 0 and status[Slot.ACTOR_STATE] == ActorState.RUNNING:  # died without its finally
        cut_torque_after_crash(config, f"the control loop died (exit code {actor.exitcode})")
    if actor.exitcode != 0 or status[Slot.ACTOR_STATE] == ActorState.FAILED:
        code = EXIT_FAILED
        cause = " (the watchdog turned torque off)" if status[Slot.WATCHDOG_FIRED] >= 2 else ""
        reason = reason or f"the control loop failed{cause} (exit code {actor.exitcode}); motors were made safe"
    status[Slot.STOP] = max(status[Slot.STOP], 1)  # the learner drains, checkpoints and stops
    learner.join(STOP_TIMEOUT_S)
    if not reason and learner.exitcode not in (0, None):
        code = EXIT_FAILED
        reason = f"the learner process failed at the end (exit code {learner.exitcode}): the last checkpoint " \
                 f"may be older than the run"
        log.error("%s", reason)
    if signals.requested:
        code = signals.exit_code
        reason = f"interrupted ({signals.name})" + (": stopped at once" if signals.count > 1 else ": stopped cleanly")
    elif not reason:
        reason = "finished"
    return Outcome(code, reason)
