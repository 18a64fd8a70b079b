"""The learners' hyper-parameters (``SACConfig``, ``TD3Config``): plain dataclasses without torch,
so a training config is checked key by key, whichever algorithm it selects, before anything
heavy is imported (``robot_rl.train.config``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from robot_rl.algos.config_checks import check

Precision = Literal["fp32", "bf16"]
"""``fp32``: float32 throughout. ``bf16``: the hidden-to-hidden matmuls of every network
(most of the arithmetic) read bfloat16 copies of their inputs and weights and accumulate in
float32; weights, gradients, optimiser state, the first and last layers and all the loss
arithmetic stay float32. On CPUs with AMX tiles the bfloat16 products are several times faster."""


@dataclass(frozen=True)
class SACConfig:
    """Hyper-parameters of ``SAC``. The update-to-data ratio is the caller's: it calls ``update`` that often."""

    gamma: float = 0.99
    """One-step discount. The learner reads each sample's ``gamma ** n`` from
    ``Batch.discount``; the replay uses this value to build it."""
    tau: float = 0.005
    """Polyak rate of the target critics: ``target <- (1 - tau) target + tau critic``."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    alpha_lr: float = 3e-4
    """Adam learning rate of ``log(alpha)`` (used only with ``auto_alpha``)."""
    batch_size: int = 256
    """Transitions per update (the replay sampler's batch size)."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    target_entropy: float | None = None
    """Entropy the temperature is tuned towards, in nats; None means ``-action_dim``."""
    init_alpha: float = 1.0
    """Initial temperature ``alpha`` (> 0)."""
    auto_alpha: bool = True
    """Tune ``alpha`` by gradient descent on the temperature loss; otherwise keep ``init_alpha``."""
    n_critics: int = 2
    """Critics in the ensemble: 2 for SAC and DroQ, e.g. 10 for REDQ."""
    critic_subset: int | None = None
    """REDQ's ``m``: the target takes the minimum over this many target critics, drawn
    afresh each update (only those are evaluated). None: the minimum over all ``n_critics``."""
    actor_q_reduction: Literal["min", "mean"] = "min"
    """How the actor loss combines the critics: ``min`` (SAC, DroQ) or ``mean`` (REDQ)."""
    critic_dropout: float = 0.0
    """Dropout rate in each critic hidden layer (DroQ: 0.01; 0 disables)."""
    critic_layer_norm: bool = False
    """LayerNorm after each critic hidden layer (DroQ: True)."""
    critic_batch_renorm: bool = False
    """Batch renormalisation after each critic hidden layer (CrossQ: True; see
    ``robot_rl.algos.batch_renorm``): training batches are normalised by their own statistics,
    the actor's loss and the targets' by the running ones."""
    batch_renorm_momentum: float = 0.01
    """How far each training batch moves the running statistics (CrossQ: 0.01)."""
    batch_renorm_warmup_updates: int = 100_000
    """Plain batch normalisation for this many updates, then renormalisation's corrections."""
    target_networks: bool = True
    """Polyak-averaged target critics. False (CrossQ): none; ``(s, a)`` and ``(s', a')`` go
    through the critics as one batch, in training mode, and the target is taken from the
    second half of that pass (without gradient)."""
    adam_beta1: float = 0.9
    """Adam's first-moment decay for every optimiser (CrossQ: 0.5)."""
    actor_update_interval: int = 1
    """Update the actor and temperature once every this many critic updates (REDQ: the UTD ratio)."""
    target_update_interval: int = 1
    """Polyak-update the target critics once every this many critic updates."""
    log_std_min: float = -5.0
    """Lower end of the policy's log standard deviation (pre-squash units)."""
    log_std_max: float = 2.0
    """Upper end of the policy's log standard deviation."""
    precision: Precision = "fp32"
    """``fp32`` or ``bf16`` hidden matmuls (see ``robot_rl.algos.precision``)."""
    compile: bool = False
    """Run each update as one ``torch.compile`` d graph: 1.5-1.8x the updates per second of
    eager mode for 256-wide networks on CPU (bench/learner.py), after a first update that
    compiles for 10-30 s (again for each new batch size). Needs a C++ compiler at run time;
    without one the learner logs a warning and runs eagerly. Off by default so that tests
    and short runs do not pay the compilation; training configs should turn it on."""
    device: str = "cpu"
    """Torch device of the networks and of the batches given to ``update``."""
    seed: int = 0
    """Seed of the initial weights and of the learner's random generators (policy noise, REDQ
    subsets). DroQ dropout masks come from torch's global generator."""

    def __post_init__(self) -> None:
        check(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        check(0.0 < self.tau <= 1.0, "tau", self.tau, "in (0, 1]")
        for name in ("actor_lr", "critic_lr", "alpha_lr", "init_alpha"):
            check(getattr(self, name) > 0.0, name, getattr(self, name), "positive")
        check(self.batch_size >= 1, "batch_size", self.batch_size, "at least 1")
        check(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
              "hidden_sizes", self.hidden_sizes, "one or more positive widths")
        check(self.n_critics >= 1, "n_critics", self.n_critics, "at least 1")
        if self.critic_subset is not None:
            check(1 <= self.critic_subset <= self.n_critics, "critic_subset", self.critic_subset,
                  f"between 1 and n_critics={self.n_critics}")
        check(self.actor_q_reduction in ("min", "mean"), "actor_q_reduction", self.actor_q_reduction,
              "'min' or 'mean'")
        check(0.0 <= self.critic_dropout < 1.0, "critic_dropout", self.critic_dropout, "in [0, 1)")
        check(self.actor_update_interval >= 1, "actor_update_interval", self.actor_update_interval, "at least 1")
        check(self.target_update_interval >= 1, "target_update_interval", self.target_update_interval,
              "at least 1")
        check(self.log_std_min < self.log_std_max, "log_std_min", self.log_std_min,
              f"below log_std_max={self.log_std_max}")
        check(self.precision in ("fp32", "bf16"), "precision", self.precision, "'fp32' or 'bf16'")
        check(not (self.critic_layer_norm and self.critic_batch_renorm), "critic_batch_renorm",
              self.critic_batch_renorm, "false with critic_layer_norm (one normalisation per layer)")
        check(0.0 < self.batch_renorm_momentum <= 1.0, "batch_renorm_momentum", self.batch_renorm_momentum,
              "in (0, 1]")
        check(self.batch_renorm_warmup_updates >= 0, "batch_renorm_warmup_updates",
              self.batch_renorm_warmup_updates, ">= 0")
        check(self.target_networks or self.critic_subset is None, "critic_subset", self.critic_subset,
              "null without target networks (the joint pass evaluates every critic)")
        check(0.0 <= self.adam_beta1 < 1.0, "adam_beta1", self.adam_beta1, "in [0, 1)")


@dataclass(frozen=True)
class TD3Config:
    """Hyper-parameters of ``TD3``. Noise scales are fractions of the action half-range ``(high - low) / 2``."""

    gamma: float = 0.99
    """One-step discount; the replay uses it to build ``Batch.discount = gamma ** n``."""
    tau: float = 0.005
    """Polyak rate of the target actor and critics."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    batch_size: int = 256
    """Transitions per update (the replay sampler's batch size)."""
    hidden_sizes: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the actor and of each critic."""
    policy_noise: float = 0.2
    """Standard deviation of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """The smoothing noise is clipped to ``+-noise_clip``."""
    exploration_noise: float = 0.1
    """Standard deviation of the Gaussian noise ``act(..., deterministic=False)`` adds."""
    policy_delay: int = 2
    """Update the actor and the targets once every this many critic updates."""
    n_critics: int = 2
    """Critics; the target takes the minimum over all of them, the actor follows the first."""
    precision: Precision = "fp32"
    """``fp32`` or ``bf16`` hidden matmuls (see ``robot_rl.algos.precision``)."""
    compile: bool = False
    """Run each update as one ``torch.compile`` d graph (see ``SACConfig.compile``)."""
    device: str = "cpu"
    """Torch device of the networks and of the batches given to ``update``."""
    seed: int = 0
    """Seed of the initial weights and of the learner's random generators (smoothing, exploration noise)."""

    def __post_init__(self) -> None:
        check(0.0 <= self.gamma <= 1.0, "gamma", self.gamma, "in [0, 1]")
        check(0.0 < self.tau <= 1.0, "tau", self.tau, "in (0, 1]")
        for name in ("actor_lr", "critic_lr"):
            check(getattr(self, name) > 0.0, name, getattr(self, name), "positive")
        for name in ("policy_noise", "noise_clip", "exploration_noise"):
            check(getattr(self, name) >= 0.0, name, getattr(self, name), "non-negative")
        check(self.batch_size >= 1, "batch_size", self.batch_size, "at least 1")
        check(len(self.hidden_sizes) >= 1 and all(h >= 1 for h in self.hidden_sizes),
              "hidden_sizes", self.hidden_sizes, "one or more positive widths")
        check(self.policy_delay >= 1, "policy_delay", self.policy_delay, "at least 1")
        check(self.n_critics >= 1, "n_critics", self.n_critics, "at least 1")
        check(self.precision in ("fp32", "bf16"), "precision", self.precision, "'fp32' or 'bf16'")
