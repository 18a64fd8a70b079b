"""The policy as plain numpy arrays: what the learner publishes and the control loop runs.

A snapshot is a flat float32 vector plus a fixed layout (names and shapes) made once at
start. The control loop runs it with numpy matmuls (about 10 us for a 17-256-256-6 MLP, no
torch in the loop process, no thread pool to fight the learner's). Stochastic actions for
exploration follow the learner's own definition: SAC samples its squashed Gaussian, TD3 adds
clipped Gaussian noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SnapshotLayout:
    """kind: ``sac`` or ``td3``. arrays: (name, shape) in the order of the flat vector.
    constants: scalars the policy needs (log-std range, exploration noise, normaliser clip)."""

    kind: str
    arrays: tuple[tuple[str, tuple[int, ...]], ...]
    constants: dict[str, float]

    @property
    def size(self) -> int:
        return int(sum(np.prod(shape) for _, shape in self.arrays))


def snapshot(learner: Any) -> tuple[SnapshotLayout, np.ndarray]:
    """Layout and flat weights of a SAC or TD3 learner's actor (and normaliser)."""
    import torch  # the learner side only

    from robot_rl.algos.sac import SAC

    kind = "sac" if isinstance(learner, SAC) else "td3"
    actor = learner.actor
    pieces: list[tuple[str, np.ndarray]] = []
    with torch.no_grad():
        for k, (w, b) in enumerate(zip(actor.net.weights, actor.net.biases)):
            pieces += [(f"w{k}", w.detach().cpu().numpy()), (f"b{k}", b.detach().cpu().numpy())]
        pieces += [("action_scale", actor.action_scale.cpu().numpy()), ("action_bias", actor.action_bias.cpu().numpy())]
        constants: dict[str, float] = {}
        if learner.normalizer is not None:
            norm = learner.normalizer
            pieces += [("obs_shift", norm.shift.cpu().numpy()), ("obs_inv_scale", norm.inv_scale.cpu().numpy())]
            constants["obs_clip"] = float(norm.clip)
    if kind == "sac":
        constants["log_std_min"] = actor.log_std_min
        constants["log_std_max"] = actor.log_std_max
    else:
        constants["exploration_noise"] = float(learner.config.exploration_noise)
    layout = SnapshotLayout(kind, tuple((name, tuple(a.shape)) for name, a in pieces), constants)
    flat = np.concatenate([a.astype(np.float32).ravel() for _, a in pieces])
    return layout, flat


class NumpyPolicy:
    """Runs a snapshot. ``load(flat)`` copies weights in (views into one array, no reallocation);
    ``swap(buffer)`` adopts a float32 buffer of the layout's size instead, without copying."""

    def __init__(self, layout: SnapshotLayout, seed: int = 0) -> None:
        self.layout = layout
        self.flat = np.zeros(layout.size, dtype=np.float32)
        self.views: dict[str, np.ndarray] = {}
        self._make_views()
        self.n_layers = sum(1 for name, _ in layout.arrays if name.startswith("w"))
        self.rng = np.random.default_rng(seed)
        self.normalize = "obs_shift" in self.views

    def _make_views(self) -> None:
        offset = 0
        for name, shape in self.layout.arrays:
            n = int(np.prod(shape))
            self.views[name] = self.flat[offset:offset + n].reshape(shape)
            offset += n

    def load(self, flat: np.ndarray) -> None:
        self.flat[:] = flat

    def swap(self, buffer: np.ndarray) -> np.ndarray:
        """Run on ``buffer`` (float32, ``layout.size``) from now on; returns the previous weights'
        buffer for reuse. Saves the control loop a copy of the weights at each new version."""
        if buffer.dtype != np.float32 or buffer.shape != self.flat.shape:
            raise ValueError(f"expected a float32 buffer of shape {self.flat.shape}, got {buffer.dtype} {buffer.shape}")
        previous, self.flat = self.flat, buffer
        self._make_views()
        return previous

    def _net(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if self.normalize:
            c = self.layout.constants
            x = np.clip((x - self.views["obs_shift"]) * self.views["obs_inv_scale"], -c["obs_clip"], c["obs_clip"])
        for k in range(self.n_layers):
            x = x @ self.views[f"w{k}"] + self.views[f"b{k}"]
            if k < self.n_layers - 1:
                np.maximum(x, 0.0, out=x)
        return x

    def __call__(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action (A,) in the env's units for one observation."""
        out = self._net(obs)
        scale, bias = self.views["action_scale"], self.views["action_bias"]
        if self.layout.kind == "sac":
            a = scale.shape[0]
            mean = out[:a]
            if deterministic:
                return scale * np.tanh(mean) + bias
            c = self.layout.constants
            half = 0.5 * (c["log_std_max"] - c["log_std_min"])
            log_std = np.tanh(out[a:]) * half + (c["log_std_min"] + half)
            u = mean + np.exp(log_std) * self.rng.standard_normal(a).astype(np.float32)
            return scale * np.tanh(u) + bias
        action = scale * np.tanh(out) + bias
        if deterministic:
            return action
        noise = self.rng.standard_normal(action.shape[0]).astype(np.float32)
        noise *= self.layout.constants["exploration_noise"] * scale
        return np.clip(action + noise, bias - scale, bias + scale)
