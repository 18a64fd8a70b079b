"""The control-loop process: commands the robot every period, on time, and feeds the learner.

Each step: pick up newer policy weights if the learner published some (never waiting), run
the policy (numpy, single thread), let the env apply the safety layers and write the
command, wait for the next tick, read the state, push the transition into the shared ring.
Every step is timed; an overrun is counted, logged with its cause, and handled by the
configured policy. The robot's safety stack (``robot_side.safety.SafeRobot``) runs a watchdog
thread that makes the robot safe if the loop stops commanding; once it has turned torque off
the loop stops (it never commands a limp robot).

With a command lead (``realtime.command_lead_s``, see :mod:`robot_rl.realtime.command_lead`)
each command is held back until that long after the tick at which the state it answers was
read, so commands leave at a fixed phase of the period.

Timing marks (``RobotEnv.timing``): the period is measured between the starts of consecutive
command writes, the state-to-command latency from the end of a state read to the end of the
command write that used it. The first step of an episode has neither (recorded as NaN).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from drivers.errors import DriverError
from robot_rl.human.interventions import Interventions, InterventionLost
from robot_rl.realtime.command_lead import CommandLead
from robot_rl.realtime.loop_timing import TimingRecorder
from robot_rl.realtime.os_tuning import tune_current_process
from robot_rl.realtime.policy_snapshot import NumpyPolicy, SnapshotLayout
from robot_rl.realtime.shared_block import BlockSpec
from robot_rl.realtime.status_board import ActorState, Slot, StatusBoard
from robot_rl.realtime.transition_ring import TransitionRing
from robot_rl.realtime.weight_board import WeightBoard
from robot_rl.replay.human_share import INTERVENTION, POLICY
from robot_rl.train.config import TrainConfig
from robot_side.envs.robot_env import RobotEnv, StepTiming
from robot_side.errors import RobotSideError
from robot_side.gc_pauses import CollectBetweenEpisodes
from robot_side.process_watch import ProcessWatch
from robot_side.safety.safe_robot import SafeRobot
from robot_side.safety.stop_signals import ignore_in_child

log = logging.getLogger("robot_rl.loop")
LEARNER_WAIT_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class LoopArgs:
    config: TrainConfig
    run_dir: str
    ring: BlockSpec
    weights: BlockSpec
    status: BlockSpec
    layout: SnapshotLayout
    start_step: int
    start_episode: int
    log_level: int = logging.INFO
    actor_index: int = 0  # which loop of a fleet (robot_rl.fleet) this is; stored with each transition
    supervisor_pid: int | None = None  # watched for death instead of the parent (a fleet's detached loop)


def make_realtime_env(config: TrainConfig) -> gym.Env:
    """The training env, paced to the wall clock on the twin (so it behaves like hardware)."""
    import robot_side  # noqa: F401  (registers the ids)

    options = dict(config.env.options)
    if config.env.id.startswith("robot_rl/"):
        options["sim"] = {**options.get("sim", {}), "realtime": True}
    return gym.make(config.env.id, **options)


class ControlLoop:
    def __init__(self, args: LoopArgs) -> None:
        self.args = args
        self.config = args.config
        self.rt = args.config.realtime
        detached = args.supervisor_pid is not None  # not our parent's child (robot_rl.fleet.detached_loop)
        self.status = StatusBoard.attach(args.status, detached)
        self.ring = TransitionRing.attach(args.ring, detached)
        self.weights = WeightBoard.attach(args.weights, detached)
        self.policy = NumpyPolicy(args.layout, seed=args.config.loop.seed + 17)
        self.scratch = np.empty_like(self.policy.flat)
        self.version = 0
        self.steps = args.start_step
        self.episodes = args.start_episode
        self.rng = np.random.default_rng(args.config.loop.seed + args.start_step)
        self.stop_requested = False
        self.supervisor = ProcessWatch(args.supervisor_pid)
        self._last_overrun_log = 0.0
        self.learner_dead_noted = False
        self.robot: SafeRobot | None = None  # the env's safety stack (a robot_rl env), set when it opens
        self._prev: StepTiming | None = None  # timing marks of the previous step of this episode
        self._tick = 0.0  # when the state the next command answers was read (time.monotonic)
        self.human: Interventions | None = None  # a person taking over with a leader arm (intervention.leader)

    # -- lifecycle -------------------------------------------------------------------------------
    def run(self) -> ActorState:
        report = tune_current_process(self.rt.loop_cpu, self.rt.realtime_priority, self.rt.timer_slack_ns)
        log.info("control loop: %s", report)
        env = make_realtime_env(self.config)
        self.env = env.unwrapped
        self.max_episode_steps = env.spec.max_episode_steps if env.spec else None
        period = self.env.period_s if isinstance(self.env, RobotEnv) else 1.0 / env.metadata.get("render_fps", 50)
        self.recorder = TimingRecorder(period, self.status.loop_timing, self.status.loop_timing_count)
        self.lead = CommandLead(self.rt.command_lead_s, period)
        state = ActorState.FAILED
        self.status[Slot.ACTOR_STATE] = ActorState.RUNNING
        try:
            if self.config.intervention.leader is not None:
                self.human = Interventions(self.config.intervention, self.env,
                                           seed=self.config.loop.seed + self.args.actor_index,
                                           key=lambda: self.status[Slot.HUMAN_KEY_TAKEOVER] > 0).open()
            with CollectBetweenEpisodes() as self.gc:  # no collector pause inside a period
                obs, _ = self.env.reset(seed=self.config.loop.seed + self.episodes)
                self._begin_episode()
                self._tick = self.env.timing.read_start_s
                self.robot = self.env.robot if isinstance(self.env, RobotEnv) else None
                if self.robot is not None:  # from the first step on (the set-up above takes its time)
                    rt = self.rt
                    self.robot.start_watchdog(
                        on_fire=self._watchdog_fired,
                        hold_after_s=None if rt.watchdog_periods is None else rt.watchdog_periods * period,
                        torque_off_after_s=rt.watchdog_torque_off_s)
                self._episodes(obs)
            state = ActorState.DONE
        except (DriverError, RobotSideError) as exc:
            log.error("control loop: %s: %s; motors made safe, stopping", type(exc).__name__, exc)
        except Exception:
            log.exception("control loop: unexpected error; motors made safe, stopping")
        finally:
            env.close()  # the watchdog stops, torque off: on every exit path
            if self.human is not None:
                self.human.close()
            self.status[Slot.ACTOR_STATE] = state
        return state

    def _watchdog_fired(self, what: str) -> None:
        self.status.add(Slot.WATCHDOG_FIRED)
        log.error("watchdog fired: %s", what)

    def _should_stop(self) -> bool:
        if self.stop_requested or self.status[Slot.STOP] > 0:
            return True
        if self.supervisor.gone():  # nobody would ever stop us
            if not self.stop_requested:
                log.error("%s died: stopping safely (torque off)", self.supervisor.describe())
            self.stop_requested = True
            return True
        if self.status[Slot.LEARNER_DEAD] > 0:
            if not self.learner_dead_noted:
                self.learner_dead_noted = True
                if self.rt.learner_failure == "stop":
                    log.error("the learner died: stopping safely (realtime.learner_failure: stop)")
                else:
                    log.error("the learner died: going on with weights version %d (realtime.learner_failure: "
                              "continue)", self.version)
            if self.rt.learner_failure == "stop":
                return True
        return self.steps >= self.config.loop.total_steps

    # -- episodes --------------------------------------------------------------------------------
    def _episodes(self, obs: np.ndarray) -> None:
        loop = self.config.loop
        while not self._should_stop():
            every = self.rt.eval_every_episodes
            evaluating = every > 0 and self.episodes % every == every - 1
            episode_return, episode_steps, done, info = 0.0, 0, False, {}
            self._prev = None
            hold = False
            while not done:
                if self.status[Slot.STOP] >= 2:
                    return
                c0 = time.monotonic()
                action = self._action(obs, evaluating)
                source, leader_lost = POLICY, False
                if self.human is not None and not evaluating:
                    try:
                        taken = self.human.action()
                    except InterventionLost:
                        taken, leader_lost = None, True
                    if taken is not None:
                        action, source = taken, INTERVENTION
                compute = time.monotonic() - c0
                self.lead.wait(self._tick)
                if hold or leader_lost:  # a leader lost mid-intervention: hold, and the episode ends
                    next_obs, reward, terminated, truncated, info = self.env.hold_step()
                else:
                    next_obs, reward, terminated, truncated, info = self.env.step(action)
                held, hold = hold, False
                episode_steps += 1
                if leader_lost or (self.max_episode_steps and episode_steps >= self.max_episode_steps):
                    truncated = True
                if self._timed(compute):
                    # "hold" repeats the last command next step; a hold step cannot end the
                    # episode by length, so an overrun on the step before the last ends it now.
                    last_but_one = self.max_episode_steps and episode_steps + 1 >= self.max_episode_steps
                    if self.rt.overrun_policy == "stop" or last_but_one:
                        truncated = True
                    else:
                        hold = True
                # A held step did not carry the policy's action: it is no transition of the policy
                # (kept only when it ends the episode, which the replay must know).
                if not evaluating and (not held or terminated or truncated):
                    self.ring.push(obs, action, reward, next_obs, terminated, truncated, self.version, self.episodes,
                                   self.args.actor_index, source)
                    self.steps += 1
                episode_return += float(reward)
                obs = next_obs
                done = terminated or truncated or self._should_stop()
                self._publish_status()
            # No commands on purpose here (bookkeeping, waiting, a scripted reset motion on hardware).
            with self.robot.commands_paused() if self.robot is not None else contextlib.nullcontext():
                self._end_episode(episode_return, info, evaluating)
                log.debug("garbage collection between episodes: %.2f ms", self.gc.collect() * 1e3)
                if self._should_stop():
                    return
                self._wait_for_learner()
                obs, _ = self.env.reset(seed=loop.seed + self.episodes)
                self._begin_episode()
                self._tick = self.env.timing.read_start_s

    def _begin_episode(self) -> None:
        if self.human is not None:
            self.human.begin_episode()

    def _action(self, obs: np.ndarray, evaluating: bool) -> np.ndarray:
        """Pick up newer weights if the learner published some (never waiting), then act: uniformly
        at random for the first ``loop.start_steps``, deterministically when evaluating."""
        newer = self.weights.read_if_newer(self.version, self.scratch)
        if newer is not None:
            self.scratch = self.policy.swap(self.scratch)
            self.version = newer
        if self.steps < self.config.loop.start_steps and not evaluating:
            return self.rng.uniform(self.env.action_space.low, self.env.action_space.high).astype(np.float32)
        return self.policy(obs, deterministic=evaluating).astype(np.float32)

    def _timed(self, compute: float) -> bool:
        """Record the step's timing (``self.env.timing``); returns whether it overran: its command
        went out late, or its wake-up for the next one was late."""
        t, target = self.env.timing, self.env.period_s
        tolerance = self.rt.overrun_tolerance_s
        prev = self._prev
        first = prev is None
        period = float("nan") if first else t.write_start_s - prev.write_start_s
        latency = float("nan") if first else t.write_end_s - prev.read_end_s
        overrun = not first and (period > target + tolerance or t.late_s > tolerance)
        self.recorder.record(period, latency, compute, t.read_end_s - t.read_start_s, t.write_end_s - t.write_start_s,
                             t.late_s, overrun, self.version)
        if overrun:
            self._overrun(period, compute, t, prev)
        self._prev = dataclasses.replace(t)  # RobotEnv reuses its timing object
        self._tick = t.read_start_s - t.late_s
        return overrun

    def _end_episode(self, episode_return: float, info: dict, evaluating: bool) -> None:
        success = float(bool(info.get("success", False)))
        if evaluating:
            self.status[Slot.EVAL_RETURN] = episode_return
            self.status[Slot.EVAL_SUCCESS] = success
            self.status.add(Slot.EVAL_COUNT)
        else:
            self.status[Slot.ACTOR_LAST_RETURN] = episode_return
            self.status[Slot.ACTOR_LAST_SUCCESS] = success
        self.episodes += 1
        self.status[Slot.ACTOR_EPISODES] = self.episodes
        summary = self.recorder.summary()
        taken = f", {self.human.episode_steps} steps taken over" if self.human is not None and not evaluating else ""
        log.info("episode %d%s: return %.2f%s%s, loop p99 period error %.3f ms, %d overruns, command lead %s",
                 self.episodes, " (eval)" if evaluating else "", episode_return, "  success" if success else "", taken,
                 summary.get("period_error_p99_s", 0.0) * 1e3, self.recorder.overruns,
                 "none" if self.lead.lead_s is None else f"{self.lead.lead_s * 1e3:.1f} ms")

    def _wait_for_learner(self) -> None:
        """Slow learner: hold here (between episodes) until it has caught up."""
        ratio = self.rt.min_updates_per_step
        if ratio <= 0 or self.steps < self.config.loop.update_after:
            return
        deadline = time.monotonic() + LEARNER_WAIT_TIMEOUT_S
        needed = ratio * (self.steps - self.config.loop.update_after)
        while self.status[Slot.LEARNER_UPDATES] < needed and not self._should_stop():
            if time.monotonic() > deadline:
                log.warning("the learner is behind (%d of %d updates); going on", self.status[Slot.LEARNER_UPDATES],
                            needed)
                return
            self.status[Slot.ACTOR_HEARTBEAT_S] = time.monotonic()
            time.sleep(0.01)

    def _overrun(self, period: float, compute: float, t: StepTiming, prev: StepTiming) -> None:
        """Log (at most once a second) the overrun and the largest part of its period: the period
        from the previous write to this one holds that write, its wake-up lateness, its read, the
        observation and bookkeeping, and this step's policy."""
        if t.late_s > self.rt.overrun_tolerance_s and period <= self.env.period_s + self.rt.overrun_tolerance_s:
            cause, part = "late wake-up (for the next command)", t.late_s
        else:
            phases = {"policy": compute, "state read": prev.read_end_s - prev.read_start_s,
                      "command write": prev.write_end_s - prev.write_start_s, "late wake-up": prev.late_s,
                      "observation/reward/bookkeeping": t.write_start_s - prev.read_end_s - compute}
            cause = max(phases, key=phases.get)
            part = phases[cause]
        now = time.monotonic()
        if now - self._last_overrun_log > 1.0:  # at most one line a second
            self._last_overrun_log = now
            log.warning("overrun at step %d: period %.2f ms (target %.2f ms); largest part: %s %.2f ms; "
                        "policy: %s", self.steps, period * 1e3, self.env.period_s * 1e3, cause, part * 1e3,
                        self.rt.overrun_policy)

    def _publish_status(self) -> None:
        s = self.status
        s[Slot.ACTOR_STEPS] = self.steps
        s[Slot.ACTOR_HEARTBEAT_S] = time.monotonic()
        s[Slot.ACTOR_WEIGHT_VERSION] = self.version
        # Percentiles cost 0.1 ms: the parent computes them from the shared timing rows.
        s[Slot.LOOP_PERIOD_ERR_MAX_S] = self.recorder.max_period_error
        s[Slot.LOOP_OVERRUNS] = self.recorder.overruns

    def close(self) -> None:
        self.supervisor.close()
        for part in (self.ring, self.weights, self.status):
            part.close()


def control_loop_main(args: LoopArgs) -> None:
    """Entry point of the control-loop process."""
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    ignore_in_child()  # SIGINT and SIGHUP: the parent decides; see robot_rl/realtime/run.py
    loop = ControlLoop(args)

    def on_term(signum, frame) -> None:
        loop.stop_requested = True

    signal.signal(signal.SIGTERM, on_term)
    state = loop.run()
    loop.close()
    raise SystemExit(0 if state == ActorState.DONE else 1)
