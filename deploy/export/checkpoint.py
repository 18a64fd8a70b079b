"""Rebuild ``(actor, normalizer, metadata)`` from a learner checkpoint file. Imports torch lazily.

Written against the present ``SAC.state_dict()`` / ``TD3.state_dict()`` layout; the file may
hold that dict itself or wrap it as ``{"learner": state_dict, ...}`` with optional
``"algorithm"``, ``"metadata"`` (keys of ``deploy.metadata.GIVEN_KEYS``; others are ignored)
and ``"config"`` (hashed into ``config_hash``). Sizes come from the weights' shapes, so no
config is needed to rebuild the actor. A run directory's checkpoint is
``RUN_DIR/checkpoints/latest.pt``.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deploy.errors import ExportError
from deploy.metadata import GIVEN_KEYS, config_hash, file_sha256

if TYPE_CHECKING:
    from torch import nn

    from robot_rl.algos.normalizer import ObservationNormalizer

RUN_CHECKPOINT = Path("checkpoints") / "latest.pt"
_WEIGHT_KEY = re.compile(r"net\.weights\.(\d+)\Z")


@dataclass(frozen=True)
class LoadedPolicy:
    """What an export needs: the actor, its normaliser (or None) and metadata for ``export_onnx``."""

    actor: nn.Module
    normalizer: ObservationNormalizer | None
    metadata: dict[str, Any]
    checkpoint_path: Path


def checkpoint_path(source: str | Path) -> Path:
    """``source`` itself if it is a file, ``source/checkpoints/latest.pt`` if it is a run directory.

    Raises ExportError if neither exists.
    """
    source = Path(source)
    path = source / RUN_CHECKPOINT if source.is_dir() else source
    if not path.is_file():
        raise ExportError(f"no checkpoint at {path}" + (" (a run directory keeps it in checkpoints/latest.pt)"
                                                         if source.is_dir() else ""))
    return path


def load_policy_from_checkpoint(source: str | Path) -> LoadedPolicy:
    """Load the actor and normaliser of a SAC or TD3 checkpoint (file or run directory) on the CPU.

    metadata gets ``checkpoint_sha256`` (of the file), ``algorithm``, ``config_hash`` when the
    file has a config, and the file's own metadata entries. Raises ExportError if the file
    cannot be read or does not have the expected layout.
    """
    import torch

    path = checkpoint_path(source)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise ExportError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ExportError(f"checkpoint {path} holds a {type(data).__name__}, not a dict")
    state = data.get("learner", data)
    if not isinstance(state, Mapping) or "actor" not in state:
        raise ExportError(f"checkpoint {path} has no 'actor' entry (keys: {sorted(data)[:12]})")
    algorithm = str(data.get("algorithm") or _guess_algorithm(state))
    actor = _rebuild_actor(state["actor"], algorithm, path)
    normalizer = _rebuild_normalizer(state.get("normalizer"), path)
    metadata: dict[str, Any] = {k: v for k, v in dict(data.get("metadata") or {}).items() if k in GIVEN_KEYS}
    metadata.update(checkpoint_sha256=file_sha256(path), algorithm=algorithm)
    if isinstance(data.get("config"), Mapping):
        metadata.setdefault("config_hash", config_hash(data["config"]))
    return LoadedPolicy(actor, normalizer, metadata, path)


def _guess_algorithm(state: Mapping[str, Any]) -> str:
    if "log_alpha" in state:
        return "sac"
    if "actor_target" in state:
        return "td3"
    raise ExportError("cannot tell SAC from TD3: the state has neither 'log_alpha' nor 'actor_target'")


def _rebuild_actor(actor_state: Mapping[str, Any], algorithm: str, path: Path) -> nn.Module:
    from robot_rl.algos.networks import DeterministicActor, SquashedGaussianActor

    layers = sorted(int(m.group(1)) for key in actor_state if (m := _WEIGHT_KEY.match(key)))
    if not layers or layers != list(range(len(layers))) or "action_scale" not in actor_state:
        raise ExportError(f"checkpoint {path}: the actor state has no ReluMLP weights and action bounds")
    weights = [actor_state[f"net.weights.{k}"] for k in layers]
    scale, bias = actor_state["action_scale"].double(), actor_state["action_bias"].double()
    obs_dim, hidden = int(weights[0].shape[0]), [int(w.shape[1]) for w in weights[:-1]]
    low, high = (bias - scale).numpy(), (bias + scale).numpy()
    if algorithm == "sac":
        actor = SquashedGaussianActor(obs_dim, low, high, hidden)
    elif algorithm == "td3":
        actor = DeterministicActor(obs_dim, low, high, hidden)
    else:
        raise ExportError(f"checkpoint {path}: unknown algorithm {algorithm!r} (expected 'sac' or 'td3')")
    try:
        actor.load_state_dict(actor_state)  # restores the exact float32 bounds too
    except RuntimeError as exc:
        raise ExportError(f"checkpoint {path}: the actor weights do not fit a {algorithm} actor: {exc}") from exc
    return actor.eval()


def _rebuild_normalizer(norm_state: Mapping[str, Any] | None, path: Path) -> ObservationNormalizer | None:
    if norm_state is None:
        return None
    from robot_rl.algos.normalizer import ObservationNormalizer

    # clip and eps are not in the state dict: the defaults are assumed (see docs/deploy.md).
    normalizer = ObservationNormalizer(int(norm_state["shift"].shape[0]))
    try:
        normalizer.load_state_dict(norm_state)
    except RuntimeError as exc:
        raise ExportError(f"checkpoint {path}: the normaliser state does not fit: {exc}") from exc
    return normalizer.eval()
