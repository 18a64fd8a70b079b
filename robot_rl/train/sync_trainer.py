"""Synchronous training: env steps and learner updates in one loop, as fast as possible.

The loop: act (uniform random for ``start_steps``, then the stochastic policy), step the env,
store the transition, update the learner ``updates_per_step`` times (a fraction is carried over:
0.5 updates every second step), and periodically log,
evaluate and checkpoint. Ctrl-C (or any exception) writes a final checkpoint and flushes the
replay before the error propagates, so ``--resume`` continues where it stopped.
"""

from __future__ import annotations

import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from drivers.config import build
from robot_rl.algos.batch import Batch
from robot_rl.replay import ReplayBuffer, ReplayConfig
from robot_rl.replay.human_share import INTERVENTION, POLICY
from robot_rl.train.checkpoint import load_checkpoint, random_states, restore_random_states, save_checkpoint
from robot_rl.train.config import TrainConfig
from robot_rl.train.evaluate import Evaluation, evaluate
from robot_rl.train.human_data import human_metrics, source_columns, start_human_data
from robot_rl.train.learners import make_learner
from robot_rl.train.metrics import MetricsWriter, read_metrics
from robot_rl.train.policy_metadata import policy_metadata
from robot_rl.train.replay_batch import hindsight_relabeler, sample_batch
from robot_rl.train.run_dir import RunDir
from robot_rl.train.update_ratio import updates_due

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the command line shows while training (``on_progress`` gets it every log interval)."""

    step: int
    total_steps: int
    steps_per_s: float
    recent_return: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    evaluation: Evaluation | None = None


def make_env(config: TrainConfig, evaluation: bool = False, render_mode: str | None = None) -> gym.Env:
    import robot_rl  # noqa: F401  (registers the project's ids)

    options = {**config.env.options, **(config.env.eval_options if evaluation else {})}
    if render_mode is not None:
        options["render_mode"] = render_mode
    return gym.make(config.env.id, **options)


def box_bounds(space: gym.Space, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"{what} must be a Box (continuous); got {space}")
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise ValueError(f"{what} must have finite bounds; got {space}")
    return space.low.astype(np.float64), space.high.astype(np.float64)


class SyncTrainer:
    """Train ``config`` into ``run``; ``resume`` continues from the run's last checkpoint."""

    def __init__(self, config: TrainConfig, run: RunDir, *, resume: bool = False, source: str = "<config>",
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.config = config
        self.run = run
        self.on_progress = on_progress
        loop = config.loop
        run.create(config, resume)
        random.seed(loop.seed)
        np.random.seed(loop.seed)
        torch.manual_seed(loop.seed)
        torch.set_num_threads(loop.threads)
        self.env = make_env(config)
        self.eval_env = make_env(config, evaluation=True)
        obs_space = self.env.observation_space
        if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
            raise ValueError(f"{config.env.id}: the observation space must be a flat Box; got {obs_space}")
        self.obs_dim = int(obs_space.shape[0])
        low, high = box_bounds(self.env.action_space, f"{config.env.id} action space")
        self.action_dim = low.shape[0]
        self.policy_metadata = policy_metadata(config, self.env)
        self.learner = make_learner(config, self.obs_dim, low, high, source)
        replay_config = build(ReplayConfig, {"gamma": self.learner.config.gamma, "extra_columns": source_columns(config),
                                             **config.replay}, source, "replay")
        log.info(replay_config.describe(self.obs_dim, self.action_dim))
        # On resume the buffer is built empty and then restored from the run's segments.
        self.replay = ReplayBuffer(replay_config, self.obs_dim, self.action_dim, rng=loop.seed,
                                   run_dir=None if resume else run.root)
        self.relabel = hindsight_relabeler(config, replay_config)
        self.sampler = start_human_data(config, self.replay, self.obs_dim, self.action_dim, self.learner.normalizer,
                                        resume)
        self._policy_extras = {"source": POLICY} if self.sampler is not None else None
        self.human = None
        if config.intervention.leader is not None:
            from robot_rl.human.scripted_interventions import ScriptedInterventions

            self.human = ScriptedInterventions(config.intervention, self.env.unwrapped, seed=loop.seed)
        self.env.action_space.seed(loop.seed)
        self.step = 0
        self.episodes = 0
        self.restored_transitions = 0
        self.lost_transitions = 0
        self.kept_after_checkpoint = 0
        # The ratio's bookkeeping, per session: steps that earned updates, and the updates done.
        self.earning_steps = 0
        self.session_updates = 0
        self.last_evaluation: Evaluation | None = None
        self.best_saved: dict[str, Any] | None = None  # the evaluation behind checkpoints/best.pt
        if resume:
            self._resume()
        self.metrics = MetricsWriter(run.metrics, run.tensorboard)

    # -- checkpoints -----------------------------------------------------------------------------
    def checkpoint(self) -> Path:
        self.replay.flush()
        state = {"learner": self.learner.state_dict(), "step": self.step, "episodes": self.episodes,
                 "replay": self.replay.state_dict(), "random": random_states(),
                 "action_space_rng": self.env.action_space.np_random.bit_generator.state,
                 "algo": self.config.algo.name, "config_hash": self.config.hash(),
                 "config": self.config.to_dict(), "metadata": self.policy_metadata}
        save_checkpoint(self.run.latest_checkpoint, state)
        return self.run.latest_checkpoint

    def save_best(self, evaluation: Evaluation) -> None:
        """Keep the policy (actor and observation normaliser) of ``evaluation`` in
        ``checkpoints/best.pt`` if it beats the one there: the file ``robot-rl export`` reads
        like any checkpoint, with the evaluation and its step beside it."""
        if self.best_saved is not None and evaluation.mean_return <= self.best_saved["mean_return"]:
            return
        normalizer = self.learner.normalizer
        self.best_saved = {"step": self.step, "mean_return": evaluation.mean_return,
                           "success_rate": evaluation.success_rate, "episodes": len(evaluation.returns)}
        save_checkpoint(self.run.best_checkpoint, {
            "learner": {"actor": self.learner.actor.state_dict(),
                        "normalizer": normalizer.state_dict() if normalizer is not None else None},
            "algorithm": self.config.algo.name, "step": self.step, "evaluation": self.best_saved,
            "config": self.config.to_dict(), "metadata": self.policy_metadata})

    def _resume(self) -> None:
        if self.run.best_checkpoint.exists():
            self.best_saved = dict(load_checkpoint(self.run.best_checkpoint)["evaluation"])
        state = load_checkpoint(self.run.latest_checkpoint)
        self.learner.load_state_dict(state["learner"])
        self.step = int(state["step"])
        self.episodes = int(state["episodes"])
        restore_random_states(state["random"])
        if state.get("action_space_rng") is not None:  # absent after an async run
            self.env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        report = self.replay.restore(self.run.root, state=state["replay"])
        for skipped in report.skipped:
            log.warning("replay: skipped damaged file %s", skipped)
        # Transitions flushed after the checkpoint are kept, and their steps are not taken again
        # (each costs robot time): the run goes on from the newest transition on disk, with the
        # checkpoint's learner. Those after the last flush are lost; the metrics log (flushed
        # line by line) shows how far the run had got, which bounds them from below.
        self.kept_after_checkpoint = max(0, report.total - int(state["replay"]["total_added"]))
        self.step += self.kept_after_checkpoint
        self.episodes += self.replay.episode_ends(self.kept_after_checkpoint)
        reached = max((int(row.get("step", 0)) for row in read_metrics(self.run.metrics)), default=0)
        self.restored_transitions = report.restored
        self.lost_transitions = report.lost + max(0, reached - report.total)
        log.info("resumed %s at step %d (learner of step %d, %d transitions flushed after it kept): %d transitions "
                 "restored, %d lost after the last flush", self.run.root, self.step, int(state["step"]),
                 self.kept_after_checkpoint, report.restored, self.lost_transitions)

    # -- the loop --------------------------------------------------------------------------------
    def train(self, stop_at: int | None = None, should_stop: Callable[[], bool] | None = None) -> dict[str, Any]:
        """Train to ``loop.total_steps`` (or to ``stop_at`` steps first: a later call goes on,
        starting a fresh episode; or until ``should_stop()``, asked after every step, says so:
        the summary says ``interrupted``). Writes a checkpoint on the way out, whatever the reason."""
        loop = self.config.loop
        end = loop.total_steps if stop_at is None else min(stop_at, loop.total_steps)
        recent: deque[float] = deque(maxlen=20)
        window_start, window_steps = time.monotonic(), 0
        last_metrics: dict[str, float] = {}
        self.last_evaluation: Evaluation | None = None
        obs, _ = self._reset()
        episode_return, started = 0.0, time.monotonic()
        interrupted = False
        try:
            while self.step < end:
                taken = self.human.action() if self.human is not None else None
                if taken is None:
                    action, extras = self._act(obs), self._policy_extras
                else:  # the operator drives this step: the policy need not act
                    action, extras = taken, {"source": INTERVENTION}
                next_obs, reward, terminated, truncated, info = self.env.step(action)
                self.replay.add(obs, action, float(reward), next_obs, bool(terminated), bool(truncated), extras)
                if self.learner.normalizer is not None:
                    self.learner.normalizer.update(np.asarray(obs, dtype=np.float32)[None])
                episode_return += float(reward)
                obs = next_obs
                self.step += 1
                window_steps += 1
                if terminated or truncated:
                    recent.append(episode_return)
                    self.metrics.write(self.step, {"train/episode_return": episode_return,
                                                   "train/episode_success": float(bool(info.get("success", False)))})
                    self.episodes += 1
                    obs, _ = self._reset()
                    episode_return = 0.0
                if len(self.replay) >= loop.update_after and self.step % loop.update_every_steps == 0:
                    last_metrics = self._update() or last_metrics
                evaluation = None
                if self.step % loop.eval_every_steps == 0 or self.step == loop.total_steps:
                    evaluation = self.last_evaluation = self._evaluate()
                    self.save_best(evaluation)
                if self.step % loop.checkpoint_every_steps == 0:
                    self.checkpoint()
                if self.step % loop.log_every_steps == 0 or evaluation is not None:
                    rate = window_steps / max(time.monotonic() - window_start, 1e-9)
                    window_start, window_steps = time.monotonic(), 0
                    values = {f"learner/{k}": v for k, v in last_metrics.items()}
                    values["time/steps_per_s"] = rate
                    values.update(human_metrics(self.sampler))
                    self.metrics.write(self.step, values)
                    if self.on_progress:
                        self.on_progress(Progress(self.step, loop.total_steps, rate,
                                                  float(np.mean(recent)) if recent else None, last_metrics,
                                                  evaluation))
                if should_stop is not None and should_stop():
                    interrupted = True
                    break
        except KeyboardInterrupt:
            interrupted = True
            raise
        finally:
            try:
                path = self.checkpoint()
                log.info("checkpoint %s", path)
            except Exception as exc:  # never mask the error that stopped training
                log.error("could not write the final checkpoint: %s", exc)
            self.metrics.flush()
        return self._summary(time.monotonic() - started, interrupted)

    def _update(self) -> dict[str, float]:
        """The updates this update time earned (``update_every_steps x updates_per_step``, whole;
        a fraction waits for the next time); their metrics, or {} when there were none."""
        loop = self.config.loop
        self.earning_steps += loop.update_every_steps
        n_updates = updates_due(loop.updates_per_step, self.earning_steps, self.session_updates)
        self.session_updates += n_updates
        if n_updates == 1:
            return self.learner.update(self._batch())
        if n_updates:
            return self.learner.update_many([self._batch() for _ in range(n_updates)])
        return {}

    def _reset(self) -> tuple[np.ndarray, dict]:
        reset = self.env.reset(seed=self.config.loop.seed + self.episodes)
        if self.human is not None:
            self.human.begin_episode()
        return reset

    def _act(self, obs: np.ndarray) -> np.ndarray:
        if self.step < self.config.loop.start_steps:
            return self.env.action_space.sample()
        return self.learner.act(obs, deterministic=False)

    def _batch(self) -> Batch:
        return sample_batch(self.replay, self.learner.config.batch_size, self.learner.device, self.relabel,
                            self.sampler)

    def _evaluate(self) -> Evaluation:
        evaluation = evaluate(self.eval_env, lambda o: self.learner.act(o, deterministic=True),
                              self.config.loop.eval_episodes, seed=10_000 + self.config.loop.seed)
        values = {"eval/mean_return": evaluation.mean_return, "eval/std_return": evaluation.std_return,
                  "eval/mean_length": evaluation.mean_length}
        if evaluation.success_rate is not None:
            values["eval/success_rate"] = evaluation.success_rate
        self.metrics.write(self.step, values)
        return evaluation

    def _summary(self, seconds: float, interrupted: bool) -> dict[str, Any]:
        best = self.best_saved
        return {"run_dir": str(self.run.root), "env": self.config.env.id, "algo": self.config.algo.name,
                "steps": self.step, "episodes": self.episodes, "updates": self.learner.num_updates,
                "wall_time_s": seconds, "interrupted": interrupted,
                "best_eval_return": best["mean_return"] if best else None,
                "best_eval_success_rate": best["success_rate"] if best else None,
                "last_eval_return": self.last_evaluation.mean_return if self.last_evaluation else None,
                "last_eval_success_rate": self.last_evaluation.success_rate if self.last_evaluation else None,
                "restored_transitions": self.restored_transitions, "lost_transitions": self.lost_transitions,
                "kept_after_checkpoint": self.kept_after_checkpoint,
                "checkpoint": str(self.run.latest_checkpoint),
                "best_checkpoint": str(self.run.best_checkpoint) if best else None,
                "best_checkpoint_step": best["step"] if best else None}

    def close(self) -> None:
        self.metrics.close()
        self.replay.close()
        self.env.close()
        self.eval_env.close()
