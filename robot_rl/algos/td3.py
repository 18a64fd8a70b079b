"""Twin Delayed DDPG (Fujimoto et al. 2018): clipped double Q, target policy smoothing,
delayed actor and target updates. Same interface as ``SAC``; written the same functional
way, so each step can be compiled (``TD3Config.compile``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.func import functional_call

from robot_rl.algos.adam import Adam
from robot_rl.algos.batch import Batch
from robot_rl.algos.checkpoint import check_keys, load_part
from robot_rl.algos.compile import CompiledStep
from robot_rl.algos.errors import CheckpointError
from robot_rl.algos.gradients import grad_and_value
from robot_rl.algos.learner_configs import TD3Config
from robot_rl.algos.networks import CriticEnsemble, DeterministicActor
from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.precision import hidden_matmul_dtype
from robot_rl.algos.rounds import update_in_rounds
from robot_rl.algos.target_networks import frozen_copy, polyak_update

__all__ = ["TD3", "TD3Config", "clipped_double_q_target", "smoothed_target_action"]


def smoothed_target_action(
    target_action: torch.Tensor,
    noise: torch.Tensor,
    noise_clip: torch.Tensor | float,
    action_low: torch.Tensor,
    action_high: torch.Tensor,
) -> torch.Tensor:
    """``clip(target_action + clip(noise, -noise_clip, noise_clip), low, high)``.

    All in action units: target_action and noise ``(B, A)``; noise_clip a scalar or ``(A,)``;
    bounds ``(A,)``. Returns ``(B, A)``.
    """
    clip = torch.as_tensor(noise_clip, dtype=noise.dtype, device=noise.device)
    noise = torch.clamp(noise, -clip, clip)
    return torch.clamp(target_action + noise, action_low, action_high)


def clipped_double_q_target(next_q: torch.Tensor, reward: torch.Tensor, done: torch.Tensor,
                            discount: torch.Tensor) -> torch.Tensor:
    """``r + discount (1 - done) min_i Q_i(s', a')``. next_q ``(N, B)``; the rest ``(B,)``; returns ``(B,)``."""
    return torch.addcmul(reward, discount * (1.0 - done), next_q.amin(dim=0))


class TD3:
    """TD3 learner: a deterministic actor, an ensemble of critics, and targets of both.

    Arguments as for ``SAC``. The networks' parameters do not require grad: updates change
    them in place.
    """

    def __init__(
        self,
        obs_dim: int,
        action_low: Sequence[float] | np.ndarray,
        action_high: Sequence[float] | np.ndarray,
        config: TD3Config = TD3Config(),
        normalizer: ObservationNormalizer | None = None,
    ):
        self.config = config
        self.device = torch.device(config.device)
        with torch.random.fork_rng(devices=[]):  # initial weights from config.seed, global generator untouched
            torch.manual_seed(config.seed)
            self.actor = DeterministicActor(obs_dim, action_low, action_high, config.hidden_sizes).to(self.device)
            self.action_dim = self.actor.action_dim
            self.critic = CriticEnsemble(obs_dim, self.action_dim, config.hidden_sizes, config.n_critics).to(self.device)
        self.actor_target = frozen_copy(self.actor)
        self.critic_target = frozen_copy(self.critic)
        for module in (self.actor, self.critic):
            module.requires_grad_(False)
        self.normalizer = normalizer.to(self.device) if normalizer is not None else None
        self._action_low = torch.empty_like(self.actor.action_scale)
        self._action_high = torch.empty_like(self.actor.action_scale)
        self._policy_noise_std = torch.empty_like(self.actor.action_scale)
        self._noise_clip = torch.empty_like(self.actor.action_scale)
        self._derive_from_bounds()
        self._actor_params = dict(self.actor.named_parameters())
        self._critic_params = dict(self.critic.named_parameters())
        self._polyak_pairs = (list(self.critic_target.parameters()) + list(self.actor_target.parameters()),
                              list(self.critic.parameters()) + list(self.actor.parameters()))
        self.actor_optimizer = Adam(list(self._actor_params.values()), config.actor_lr)
        # One slot per critic update of a round (update_many): a round's graph applies them in turn.
        self.critic_optimizer = Adam(list(self._critic_params.values()), config.critic_lr, slots=config.policy_delay)
        self.num_updates = 0
        self.num_actor_updates = 0
        self._generator = torch.Generator(self.device).manual_seed(config.seed)
        self._act_generator = torch.Generator(self.device).manual_seed(config.seed + 1)
        self._hidden_dtype = hidden_matmul_dtype(config.precision)
        self._step = CompiledStep(self._step_eager, config.compile)
        self._round = CompiledStep(self._round_eager, config.compile)

    @torch.no_grad()
    def _derive_from_bounds(self) -> None:
        # In place: compiled steps hold on to these tensors.
        scale, bias = self.actor.action_scale, self.actor.action_bias
        torch.sub(bias, scale, out=self._action_low)
        torch.add(bias, scale, out=self._action_high)
        torch.mul(scale, self.config.policy_noise, out=self._policy_noise_std)
        torch.mul(scale, self.config.noise_clip, out=self._noise_clip)

    def update(self, batch: Batch) -> dict[str, float]:
        """One critic update; every ``policy_delay`` updates also an actor update and Polyak
        updates of both targets.

        Returns metrics: ``critic_loss`` and ``q_mean`` always, ``actor_loss`` when the actor was updated.
        """
        update_actor = self.num_updates % self.config.policy_delay == 0
        self.critic_optimizer.advance()  # outside the (compiled) step: see Adam.advance
        if update_actor:
            self.actor_optimizer.advance()
        values = self._step(*self._step_inputs(batch), update_actor)
        self.num_updates += 1
        self.num_actor_updates += int(update_actor)
        names = ["critic_loss", "q_mean"] + (["actor_loss"] if update_actor else [])
        return dict(zip(names, values.tolist()))

    def update_many(self, batches: Sequence[Batch]) -> dict[str, float]:
        """``update`` on each batch in turn; returns each metric averaged over the updates that reported it.

        Where ``policy_delay`` consecutive updates start with an actor update, they run as one
        round: one (compiled) graph for the actor update and the critic updates up to the
        next one. Same arithmetic, same random numbers, same order as one ``update`` each; a
        round pays the per-call cost (Python, guards, the graph's entry) once, not each time
        (TD3 updates/s +12 % in rounds of 2; docs/training.md, Speed).
        """
        delay = self.config.policy_delay
        return update_in_rounds(batches, delay, lambda: self.num_updates % delay == 0, self.update,
                                self._update_round)

    def _step_inputs(self, batch: Batch) -> tuple[torch.Tensor, ...]:
        """What ``_step_eager`` takes for one update: the batch (observations normalised) and its
        smoothing noise, drawn here, outside any compiled graph, from the learner's generator."""
        obs, action, reward, next_obs, done, discount = batch
        if self.normalizer is not None:
            obs, next_obs = self.normalizer(obs), self.normalizer(next_obs)
        noise = torch.randn((len(next_obs), self.action_dim), generator=self._generator, device=self.device)
        return obs, action, reward, next_obs, done, discount, noise

    def _update_round(self, batches: Sequence[Batch]) -> list[dict[str, float]]:
        """``policy_delay`` updates, the first with the actor, as one call of the round graph."""
        inputs = tuple(self._step_inputs(batch) for batch in batches)
        for slot in range(len(batches)):
            self.critic_optimizer.advance(slot)
        self.actor_optimizer.advance()
        values = self._round(inputs).tolist()
        self.num_updates += len(batches)
        self.num_actor_updates += 1
        results = [dict(zip(("critic_loss", "q_mean", "actor_loss"), values[:3]))]
        results += [dict(zip(("critic_loss", "q_mean"), values[k:k + 2])) for k in range(3, len(values), 2)]
        return results

    def _round_eager(self, inputs: tuple[tuple[torch.Tensor, ...], ...]) -> torch.Tensor:
        """``_step_eager`` for each update of a round in turn (what ``compile`` compiles);
        the first updates the actor too. Returns all their metrics in one tensor."""
        return torch.cat([self._step_eager(*step_inputs, slot == 0, slot) for slot, step_inputs in enumerate(inputs)])

    def compute_target(self, next_obs: torch.Tensor, reward: torch.Tensor, done: torch.Tensor,
                       discount: torch.Tensor, smoothing_noise: torch.Tensor) -> torch.Tensor:
        """The clipped double-Q target ``(B,)`` with the smoothed target action.

        smoothing_noise: ``(B, A)`` in action units, before clipping to ``noise_clip``.
        """
        next_action = smoothed_target_action(self.actor_target(next_obs, self._hidden_dtype), smoothing_noise,
                                             self._noise_clip, self._action_low, self._action_high)
        next_q = self.critic_target(next_obs, next_action, hidden_dtype=self._hidden_dtype)
        return clipped_double_q_target(next_q, reward, done, discount)

    def _critic_loss(self, params: dict[str, torch.Tensor], obs: torch.Tensor, action: torch.Tensor,
                     target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = functional_call(self.critic, params, (obs, action), {"hidden_dtype": self._hidden_dtype})
        return 0.5 * (q - target).square().mean(dim=1).sum(), q.mean()

    def _step_eager(self, obs: torch.Tensor, action: torch.Tensor, reward: torch.Tensor, next_obs: torch.Tensor,
                    done: torch.Tensor, discount: torch.Tensor, standard_noise: torch.Tensor, update_actor: bool,
                    slot: int = 0) -> torch.Tensor:
        """The whole update as one function of tensors (what ``compile`` compiles); returns the
        metrics stacked. ``slot``: the critic optimiser's slot (see ``Adam``) this update applies."""
        smoothing_noise = standard_noise * self._policy_noise_std
        target = self.compute_target(next_obs, reward, done, discount, smoothing_noise)
        grads, (loss, q_mean) = grad_and_value(self._critic_loss, self._critic_params, obs, action, target)
        self.critic_optimizer.apply(list(grads.values()), slot)
        metrics = [loss, q_mean]
        if update_actor:
            actor_grads, (actor_loss, _) = grad_and_value(self._actor_loss, self._actor_params, obs)
            self.actor_optimizer.apply(list(actor_grads.values()))
            polyak_update(*self._polyak_pairs, self.config.tau)
            metrics.append(actor_loss)
        return torch.stack(metrics)

    def _actor_loss(self, params: dict[str, torch.Tensor], obs: torch.Tensor) -> tuple[torch.Tensor, tuple[()]]:
        action = functional_call(self.actor, params, (obs,), {"hidden_dtype": self._hidden_dtype})
        return -self.critic(obs, action, members=slice(0, 1), hidden_dtype=self._hidden_dtype).mean(), ()

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action(s) for observation(s) ``(obs_dim,)`` or ``(B, obs_dim)``, as float32 numpy.

        deterministic: the policy's action; otherwise that plus Gaussian noise of standard
        deviation ``exploration_noise`` half-ranges, clipped to the bounds.
        """
        with torch.inference_mode():
            obs_t = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            single = obs_t.ndim == 1
            if single:
                obs_t = obs_t.unsqueeze(0)
            if self.normalizer is not None:
                obs_t = self.normalizer(obs_t)
            action = self.actor(obs_t)
            if not deterministic:
                noise = torch.randn(action.shape, generator=self._act_generator, device=self.device)
                noise = noise * (self.config.exploration_noise * self.actor.action_scale)
                action = torch.clamp(action + noise, self._action_low, self._action_high)
            return (action[0] if single else action).cpu().numpy()

    def state_dict(self) -> dict[str, Any]:
        """Networks, targets, optimisers, counters, random generator states and the normaliser."""
        return {
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "actor_target": self.actor_target.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "actor_optimizer": self.actor_optimizer.state_dict(),
            "critic_optimizer": self.critic_optimizer.state_dict(),
            "num_updates": self.num_updates,
            "num_actor_updates": self.num_actor_updates,
            "generator": self._generator.get_state(),
            "act_generator": self._act_generator.get_state(),
            "normalizer": self.normalizer.state_dict() if self.normalizer is not None else None,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a ``state_dict`` in place. Raises CheckpointError if an entry is missing or does not fit."""
        parts = ("actor", "critic", "actor_target", "critic_target", "actor_optimizer", "critic_optimizer")
        check_keys(state, (*parts, "num_updates", "num_actor_updates", "generator", "act_generator",
                           "normalizer"), "TD3")
        if (self.normalizer is None) != (state["normalizer"] is None):
            raise CheckpointError("TD3 state dict and learner disagree on having an observation normaliser")
        for key in parts:
            load_part(getattr(self, key), state, key, "TD3")
        if self.normalizer is not None:
            load_part(self.normalizer, state, "normalizer", "TD3")
        self._derive_from_bounds()
        self.num_updates = int(state["num_updates"])
        self.num_actor_updates = int(state["num_actor_updates"])
        self._generator.set_state(state["generator"])
        self._act_generator.set_state(state["act_generator"])
