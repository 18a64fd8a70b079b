"""Adam that takes gradients as arguments, so a whole update can be one compiled function.

``torch.optim.Adam`` reads ``param.grad``; the learners compute gradients functionally
(``robot_rl.algos.gradients``) and pass them here. The arithmetic is ``torch.optim.Adam``'s
(without weight decay or amsgrad), rearranged; the tests check the two agree step for step.
Each step is a handful of multi-tensor (``_foreach``) operations whatever the number of
tensors; the step's scalar factors reach them as 0-d tensors, so ``torch.compile`` does not
recompile as the step count grows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from robot_rl.algos.errors import CheckpointError, LearnerConfigError


class Adam:
    """Adam state for a fixed list of tensors, which ``step`` (or ``advance`` + ``apply``) updates in place.

    params: the tensors to optimise (not requiring grad: they are changed in place).
    lr: learning rate; betas: decay rates of the first and second moment; eps: added to
    the root of the second moment. slots: how many steps may be set up ahead (``advance``)
    before they are applied, each in its own slot: a compiled graph of several consecutive
    updates applies them one after the other.
    """

    def __init__(self, params: Sequence[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, slots: int = 1):
        if not lr > 0.0:
            raise LearnerConfigError(f"Adam learning rate must be positive, got {lr}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise LearnerConfigError(f"Adam betas must be in [0, 1), got {betas}")
        self.params = list(params)
        if not self.params:
            raise LearnerConfigError("Adam needs at least one tensor to optimise")
        self.lr = float(lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = float(eps)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = 0
        # float32: under torch.compile (2.13) a float64 scalar tensor in the _foreach
        # arithmetic on float32 tensors computes wrong values.
        if slots < 1:
            raise LearnerConfigError(f"Adam needs at least one slot, got {slots}")
        zeros = [torch.zeros((), dtype=torch.float32, device=self.params[0].device) for _ in range(2 * slots)]
        self._step_sizes, self._eps_hats = zeros[:slots], zeros[slots:]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """One update, ``advance()`` then ``apply(grads)``."""
        self.advance()
        self.apply(grads)

    @torch.no_grad()
    def advance(self, slot: int = 0) -> None:
        """Count a step and set its scalar factors, computed in Python floats (as
        ``torch.optim.Adam`` computes its bias corrections) and written into the 0-d tensors
        of ``slot``, for the ``apply`` of that slot.

        Kept apart from ``apply`` on purpose: compiled into the same kernel as the element
        loop, ``beta ** step`` would be recomputed for every element (the step tensor may
        alias the outputs, so the C++ compiler cannot hoist it), which tripled the cost. And
        on the host it takes three small writes instead of a dozen tensor operations.
        """
        beta1, beta2 = self.betas
        self.steps += 1
        root_bias_correction2 = math.sqrt(1.0 - beta2 ** self.steps)
        # lr * sqrt(1 - beta2^t) / (1 - beta1^t), negated for the final add.
        self._step_sizes[slot].fill_(-self.lr * root_bias_correction2 / (1.0 - beta1 ** self.steps))
        self._eps_hats[slot].fill_(root_bias_correction2 * self.eps)

    @torch.no_grad()
    def apply(self, grads: Sequence[torch.Tensor], slot: int = 0) -> None:
        """Update the moments and the parameters with the factors of the last ``advance`` of ``slot``.

        ``p += step_size * m / (sqrt(v) + eps_hat)``, which is torch's
        ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`` multiplied out.
        grads: one gradient per parameter, same order and shapes.
        """
        beta1, beta2 = self.betas
        grads = list(grads)
        torch._foreach_lerp_(self.exp_avg, grads, 1.0 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1.0 - beta2)
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_add_(denom, self._eps_hats[slot])
        update = torch._foreach_div(self.exp_avg, denom)
        torch._foreach_mul_(update, self._step_sizes[slot])
        torch._foreach_add_(self.params, update)

    @property
    def step_count(self) -> torch.Tensor:
        """The number of steps taken, as the 0-d float32 tensor ``torch.optim.Adam`` keeps."""
        return torch.tensor(float(self.steps))

    def state_dict(self) -> dict[str, Any]:
        """Moments and step count (copies), for checkpoints."""
        return {
            "step": self.step_count,
            "exp_avg": [t.clone() for t in self.exp_avg],
            "exp_avg_sq": [t.clone() for t in self.exp_avg_sq],
        }

    @torch.no_grad()
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy a ``state_dict`` into this state (in place). Raises CheckpointError if it does not fit."""
        try:
            exp_avg, exp_avg_sq = list(state["exp_avg"]), list(state["exp_avg_sq"])
            if len(exp_avg) != len(self.params) or len(exp_avg_sq) != len(self.params):
                raise ValueError(f"{len(exp_avg)} moments for {len(self.params)} tensors")
            for target, source in zip(self.exp_avg + self.exp_avg_sq, exp_avg + exp_avg_sq):
                if target.shape != source.shape:
                    raise ValueError(f"moment of shape {tuple(source.shape)} for a tensor of {tuple(target.shape)}")
                target.copy_(source)
            self.steps = int(state["step"])
            for factor in self._step_sizes + self._eps_hats:
                factor.zero_()  # recomputed by the next advance()
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise CheckpointError(f"Adam state does not fit: {exc}") from exc
