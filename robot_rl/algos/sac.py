"""Soft Actor-Critic learner, with the REDQ and DroQ critic variants as options.

The learner never touches an environment: ``update`` turns a ``Batch`` into parameter
updates and ``act`` turns observations into actions. Haarnoja et al. 2018 (SAC with
automatic temperature), Chen et al. 2021 (REDQ: ``N`` critics, target minimum over a
random subset of ``m``), Hiraoka et al. 2022 (DroQ: dropout and LayerNorm in the critics).

An update is written functionally: the parameters are plain tensors, gradients come from
``robot_rl.algos.gradients`` and go to a functional Adam, so the whole update is one
function of tensors that ``torch.compile`` can turn into one graph (``SACConfig.compile``).
The maths lives in the small pure functions below and in ``squashed_gaussian``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from robot_rl.algos.adam import Adam
from robot_rl.algos.batch import Batch
from robot_rl.algos.batch_renorm import renorm_limits
from robot_rl.algos.checkpoint import check_keys, load_part
from robot_rl.algos.compile import CompiledStep
from robot_rl.algos.errors import CheckpointError
from robot_rl.algos.gradients import grad_and_value
from robot_rl.algos.learner_configs import SACConfig
from robot_rl.algos.networks import CriticEnsemble, SquashedGaussianActor
from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.precision import hidden_matmul_dtype
from robot_rl.algos.rounds import update_in_rounds
from robot_rl.algos.squashed_gaussian import squashed_sample
from robot_rl.algos.target_networks import frozen_copy, polyak_update

__all__ = ["ROUND_UPDATES", "SAC", "SACConfig", "polyak_update", "soft_target", "temperature_loss"]

ROUND_UPDATES = 2
"""Updates per round of ``SAC.update_many``: one compiled graph runs them one after the other."""


def soft_target(
    next_q: torch.Tensor,
    next_log_prob: torch.Tensor,
    reward: torch.Tensor,
    done: torch.Tensor,
    discount: torch.Tensor,
    alpha: torch.Tensor | float,
    subset: torch.Tensor | None = None,
) -> torch.Tensor:
    """The soft Bellman target ``r + discount (1 - done) (min_i Q_i(s', a') - alpha log pi(a'|s'))``.

    next_q: ``(N, B)`` target-critic values at the next observation and a fresh policy action.
    subset: optional indices into the ``N`` critics; the minimum is over those only (REDQ).
    next_log_prob, reward, done, discount: ``(B,)``; ``discount`` is ``gamma ** n``.
    Returns ``(B,)``; treat it as a constant (no gradient should flow through it).
    """
    if subset is not None:
        next_q = next_q.index_select(0, subset)
    soft_value = next_q.amin(dim=0) - alpha * next_log_prob
    return torch.addcmul(reward, discount * (1.0 - done), soft_value)


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    """``-log_alpha * mean(log_prob + target_entropy)``.

    Its gradient in ``log_alpha`` is ``entropy - target_entropy`` with ``entropy = -mean(log_prob)``,
    so descent raises alpha when the policy's entropy is below the target and lowers it
    above. log_prob is treated as a constant. Returns a scalar.
    """
    return -log_alpha * (log_prob.detach().mean() + target_entropy)


def ensemble_mse(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``sum_i 0.5 * mean_b (q[i, b] - target[b])^2``: each critic regresses on the same target."""
    return 0.5 * (q - target).square().mean(dim=1).sum()


class SAC:
    """SAC learner: a squashed-Gaussian actor, an ensemble of critics and their targets.

    obs_dim: observation size; action_low/high: ``(A,)`` finite bounds of the env's actions.
    normalizer: optional observation normaliser applied to every observation the learner
        sees (the caller updates its statistics); saved in ``state_dict``.
    The networks' parameters do not require grad: updates change them in place.
    """

    def __init__(
        self,
        obs_dim: int,
        action_low: Sequence[float] | np.ndarray,
        action_high: Sequence[float] | np.ndarray,
        config: SACConfig = SACConfig(),
        normalizer: ObservationNormalizer | None = None,
    ):
        self.config = config
        self.device = torch.device(config.device)
        with torch.random.fork_rng(devices=[]):  # initial weights from config.seed, global generator untouched
            torch.manual_seed(config.seed)
            self.actor = SquashedGaussianActor(obs_dim, action_low, action_high, config.hidden_sizes,
                                               config.log_std_min, config.log_std_max).to(self.device)
            self.action_dim = self.actor.action_dim
            self.critic = CriticEnsemble(obs_dim, self.action_dim, config.hidden_sizes, config.n_critics,
                                         config.critic_dropout, config.critic_layer_norm, config.critic_batch_renorm,
                                         config.batch_renorm_momentum).to(self.device)
        self.critic_target = frozen_copy(self.critic) if config.target_networks else None
        for module in (self.actor, self.critic):
            module.requires_grad_(False)
        self.normalizer = normalizer.to(self.device) if normalizer is not None else None
        self.target_entropy = float(-self.action_dim if config.target_entropy is None else config.target_entropy)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device)
        self._actor_params = dict(self.actor.named_parameters())
        self._critic_params = self.critic.trained_parameters()
        self._critic_param_list = list(self._critic_params.values())
        self._target_params = list(self.critic_target.trained_parameters().values()) \
            if self.critic_target is not None else []
        # One slot per update of a round (update_many): a round's graph applies them in turn.
        betas = (config.adam_beta1, 0.999)
        self.actor_optimizer = Adam(list(self._actor_params.values()), config.actor_lr, betas, slots=ROUND_UPDATES)
        self.critic_optimizer = Adam(list(self._critic_params.values()), config.critic_lr, betas, slots=ROUND_UPDATES)
        self.alpha_optimizer = Adam([self.log_alpha], config.alpha_lr, betas, slots=ROUND_UPDATES) \
            if config.auto_alpha else None
        self.num_updates = 0
        self.num_actor_updates = 0
        self._generator = torch.Generator(self.device).manual_seed(config.seed)
        self._act_generator = torch.Generator(self.device).manual_seed(config.seed + 1)
        self._hidden_dtype = hidden_matmul_dtype(config.precision)
        self._step = CompiledStep(self._step_eager, config.compile)
        self._round = CompiledStep(self._round_eager, config.compile)

    @property
    def alpha(self) -> float:
        """The current temperature."""
        return float(self.log_alpha.exp())

    def update(self, batch: Batch) -> dict[str, float]:
        """One critic update, plus an actor and temperature update every ``actor_update_interval``.

        Returns metrics: ``critic_loss`` and ``q_mean`` (mean over critics and batch) always;
        ``actor_loss``, ``alpha`` (the value used in this update), ``entropy`` (``-mean log_prob``)
        and, with ``auto_alpha``, ``alpha_loss`` when the actor was updated.
        """
        names, inputs = self._prepare(batch, 0)
        values = self._step(*inputs)
        self._count(names)
        # One conversion for all metrics rather than one .item() each.
        return dict(zip(names, values.tolist()))

    def update_many(self, batches: Sequence[Batch]) -> dict[str, float]:
        """``update`` on each batch in turn; returns each metric averaged over the updates that reported it.

        The updates run in rounds of ``ROUND_UPDATES``: one (compiled) graph for the round.
        Same arithmetic, same random numbers, same order as one ``update`` each; a round pays
        the per-call cost (Python, guards, the graph's entry) once (docs/training.md, Speed).
        """
        return update_in_rounds(batches, ROUND_UPDATES, lambda: True, self.update, self._update_round)

    def _prepare(self, batch: Batch, slot: int) -> tuple[list[str], tuple[Any, ...]]:
        """The metric names and the ``_step_eager`` arguments of the update ``slot`` places after
        the ones done so far: observations normalised, the noise and critic subset drawn from
        the learner's generator and the optimisers advanced into ``slot``, all outside any
        compiled graph."""
        cfg = self.config
        index = self.num_updates + slot
        obs, action, reward, next_obs, done, discount = batch
        if self.normalizer is not None:
            obs, next_obs = self.normalizer(obs), self.normalizer(next_obs)
        update_actor = index % cfg.actor_update_interval == 0
        update_target = self.critic_target is not None and index % cfg.target_update_interval == 0
        next_noise = self._noise(len(next_obs))
        noise = self._noise(len(obs)) if update_actor else None
        for optimizer in self._optimizers(update_actor):
            optimizer.advance(slot)  # outside the (compiled) step: see Adam.advance
        names = ["critic_loss", "q_mean"]
        if update_actor:
            names += ["actor_loss", "alpha", "entropy"] + (["alpha_loss"] if cfg.auto_alpha else [])
        return names, (obs, action, reward, next_obs, done, discount, next_noise, noise, self.sample_critic_subset(),
                       update_actor, update_target, self._renorm_limits(index), slot)

    def _count(self, names: list[str]) -> None:
        self.num_updates += 1
        self.num_actor_updates += int("actor_loss" in names)

    def _update_round(self, batches: Sequence[Batch]) -> list[dict[str, float]]:
        """Consecutive updates as one call of the round graph."""
        prepared = [self._prepare(batch, slot) for slot, batch in enumerate(batches)]
        values = self._round(tuple(inputs for _, inputs in prepared)).tolist()
        results = []
        for names, _ in prepared:
            results.append(dict(zip(names, values[:len(names)])))
            values = values[len(names):]
            self._count(names)
        return results

    def _round_eager(self, inputs: tuple[tuple[Any, ...], ...]) -> torch.Tensor:
        """``_step_eager`` for each update of a round in turn (what ``compile`` compiles);
        returns all their metrics in one tensor."""
        return torch.cat([self._step_eager(*step_inputs) for step_inputs in inputs])

    def _optimizers(self, update_actor: bool) -> list[Adam]:
        if not update_actor:
            return [self.critic_optimizer]
        return [self.critic_optimizer, self.actor_optimizer] + ([self.alpha_optimizer] if self.alpha_optimizer else [])

    def sample_critic_subset(self) -> torch.Tensor | None:
        """Indices of ``critic_subset`` distinct critics drawn uniformly, or None to use all."""
        m = self.config.critic_subset
        if m is None or m == self.config.n_critics:
            return None
        return torch.randperm(self.config.n_critics, generator=self._generator, device=self.device)[:m]

    def _noise(self, batch_size: int) -> torch.Tensor:
        return torch.randn((batch_size, self.action_dim), generator=self._generator, device=self.device)

    def compute_target(self, next_obs: torch.Tensor, reward: torch.Tensor, done: torch.Tensor,
                       discount: torch.Tensor, next_noise: torch.Tensor, members: torch.Tensor | None
                       ) -> torch.Tensor:
        """The soft target ``(B,)``: a fresh action from ``next_noise`` and the minimum over the
        target critics in ``members`` (all if None), which are the only ones evaluated."""
        next_action, next_log_prob = self.actor.sample(next_obs, next_noise, hidden_dtype=self._hidden_dtype)
        next_q = self.critic_target(next_obs, next_action, members=members, hidden_dtype=self._hidden_dtype)
        return soft_target(next_q, next_log_prob, reward, done, discount, self.log_alpha.exp())

    def _critic_loss(self, params: dict[str, torch.Tensor], obs: torch.Tensor, action: torch.Tensor,
                     target: torch.Tensor, renorm: tuple[torch.Tensor, torch.Tensor] | None
                     ) -> tuple[torch.Tensor, tuple[Any, ...]]:
        q, moments = self._critic_forward(params, obs, action, renorm)
        return ensemble_mse(q, target), (q.mean(), moments)

    def _joint_critic_loss(self, params: dict[str, torch.Tensor], obs: torch.Tensor, action: torch.Tensor,
                           next_obs: torch.Tensor, next_action: torch.Tensor, next_log_prob: torch.Tensor,
                           reward: torch.Tensor, done: torch.Tensor, discount: torch.Tensor,
                           renorm: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, tuple[Any, ...]]:
        """CrossQ's critic loss: ``(s, a)`` and ``(s', a')`` through the critics as one batch (so a
        batch-normalised layer sees the statistics of both), the target from the second half
        without gradient, the loss on the first."""
        batch = obs.shape[0]
        q_all, moments = self._critic_forward(params, torch.cat((obs, next_obs)), torch.cat((action, next_action)),
                                              renorm)
        q, next_q = q_all[:, :batch], q_all[:, batch:].detach()
        target = soft_target(next_q, next_log_prob, reward, done, discount, self.log_alpha.exp())
        return ensemble_mse(q, target), (q.mean(), moments)

    def _critic_forward(self, params: dict[str, torch.Tensor], obs: torch.Tensor, action: torch.Tensor,
                        renorm: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, list]:
        """The critics while they learn: with batch renormalisation, on this batch's statistics
        with the corrections ``renorm``, which come back for the running statistics."""
        if renorm is None:
            return functional_call(self.critic, params, (obs, action), {"hidden_dtype": self._hidden_dtype}), []
        return functional_call(self.critic, params, (obs, action),
                               {"hidden_dtype": self._hidden_dtype, "batch_stats": True, "renorm": renorm})

    def _renorm_limits(self, index: int) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``(r_max, d_max)`` of update ``index`` as tensors (inputs of a compiled update, which
        then never recompiles as they change), or None without batch renormalisation."""
        if not self.config.critic_batch_renorm:
            return None
        limits = renorm_limits(index, self.config.batch_renorm_warmup_updates)
        return torch.tensor(limits[0], device=self.device), torch.tensor(limits[1], device=self.device)

    def _step_eager(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor,
                    done: torch.Tensor, discount: torch.Tensor, next_noise: torch.Tensor, noise: torch.Tensor | None,
                    members: torch.Tensor | None, update_actor: bool, update_target: bool,
                    renorm: tuple[torch.Tensor, torch.Tensor] | None = None, slot: int = 0) -> torch.Tensor:
        """The whole update as one function of tensors (what ``compile`` compiles); returns the
        metrics stacked. ``slot``: the optimisers' slot (see ``Adam``) this update applies."""
        if self.critic_target is None:  # CrossQ: the target from the critics' own joint pass
            next_action, next_log_prob = self.actor.sample(next_obs, next_noise, hidden_dtype=self._hidden_dtype)
            grads, (loss, (q_mean, moments)) = grad_and_value(
                self._joint_critic_loss, self._critic_params, obs, action, next_obs, next_action, next_log_prob,
                reward, done, discount, renorm)
        else:
            target = self.compute_target(next_obs, reward, done, discount, next_noise, members)
            grads, (loss, (q_mean, moments)) = grad_and_value(self._critic_loss, self._critic_params, obs, action,
                                                              target, renorm)
        self.critic_optimizer.apply(list(grads.values()), slot)
        if moments:
            self.critic.update_running_stats(moments)
        metrics = [loss, q_mean]
        if update_actor and noise is not None:
            metrics += self._actor_step(obs, noise, slot)
        if update_target:
            polyak_update(self._target_params, self._critic_param_list, self.config.tau)
        return torch.stack(metrics)

    def _actor_loss(self, params: dict[str, torch.Tensor], obs: torch.Tensor, noise: torch.Tensor,
                    alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = functional_call(self.actor, params, (obs,), {"hidden_dtype": self._hidden_dtype})
        action, log_prob = squashed_sample(mean, log_std, noise, self.actor.action_scale, self.actor.action_bias)
        q = self.critic(obs, action, hidden_dtype=self._hidden_dtype)
        q = q.amin(dim=0) if self.config.actor_q_reduction == "min" else q.mean(dim=0)
        return (alpha * log_prob - q).mean(), log_prob

    def _actor_step(self, obs: torch.Tensor, noise: torch.Tensor, slot: int) -> list[torch.Tensor]:
        alpha = self.log_alpha.exp()
        grads, (loss, log_prob) = grad_and_value(self._actor_loss, self._actor_params, obs, noise, alpha)
        self.actor_optimizer.apply(list(grads.values()), slot)
        metrics = [loss, alpha, -log_prob.mean()]
        if self.alpha_optimizer is not None:
            alpha_grads, (alpha_loss, _) = grad_and_value(self._temperature_loss, {"log_alpha": self.log_alpha},
                                                          log_prob)
            self.alpha_optimizer.apply([alpha_grads["log_alpha"]], slot)
            metrics.append(alpha_loss)
        return metrics

    def _temperature_loss(self, params: dict[str, torch.Tensor], log_prob: torch.Tensor
                          ) -> tuple[torch.Tensor, tuple[()]]:
        return temperature_loss(params["log_alpha"], log_prob, self.target_entropy), ()

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action(s) for observation(s) ``(obs_dim,)`` or ``(B, obs_dim)``, as float32 numpy.

        deterministic: ``scale * tanh(mean) + bias`` (evaluation, deployment); otherwise a draw
        from the policy (exploration). Always float32, whatever ``precision``.
        """
        with torch.inference_mode():
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            single = obs_t.ndim == 1
            if single:
                obs_t = obs_t.unsqueeze(0)
            if self.normalizer is not None:
                obs_t = self.normalizer(obs_t)
            if deterministic:
                action = self.actor.deterministic(obs_t)
            else:
                action, _ = self.actor.sample(obs_t, generator=self._act_generator)
            return (action[0] if single else action).cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly: networks, targets, optimisers,
        temperature, counters, random generator states and the normaliser."""
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict() if self.critic_target is not None else None,
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "log_alpha": self.log_alpha.clone(),
            "alpha_optimizer": self.alpha_optimizer.state_dict() if self.alpha_optimizer else None,
            "num_updates": self.num_updates,
            "num_actor_updates": self.num_actor_updates,
            "generator": self._generator.get_state(),
            "act_generator": self._act_generator.get_state(),
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict`` in place. Raises CheckpointError if an entry is missing or does not fit."""
        check_keys(state, ("actor", "critic", "critic_target", "actor_optimizer", "critic_optimizer",
                           "log_alpha", "alpha_optimizer", "num_updates", "num_actor_updates",
                           "generator", "act_generator", "normalizer"), "SAC")
        if (self.normalizer is None) != (state["normalizer"] is None):
            raise CheckpointError("SAC state dict and learner disagree on having an observation normaliser")
        if (self.alpha_optimizer is None) != (state["alpha_optimizer"] is None):
            raise CheckpointError("SAC state dict and learner disagree on auto_alpha")
        if (self.critic_target is None) != (state["critic_target"] is None):
            raise CheckpointError("SAC state dict and learner disagree on target_networks")
        for key in ("actor", "critic", "actor_optimizer", "critic_optimizer") + (
                ("critic_target",) if self.critic_target is not None else ()):
            load_part(getattr(self, key), state, key, "SAC")
        if self.alpha_optimizer is not None:
            load_part(self.alpha_optimizer, state, "alpha_optimizer", "SAC")
        if self.normalizer is not None:
            load_part(self.normalizer, state, "normalizer", "SAC")
        self.log_alpha.copy_(state["log_alpha"])
        self.num_updates = int(state["num_updates"])
        self.num_actor_updates = int(state["num_actor_updates"])
        self._generator.set_state(state["generator"])
        self._act_generator.set_state(state["act_generator"])
