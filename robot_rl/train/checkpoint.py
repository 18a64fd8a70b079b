"""Checkpoints: learner (networks, optimisers, temperature), counters, random states and
the replay pointer, written atomically so a crash mid-write keeps the previous one."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from drivers.atomic_file import atomic_write
from robot_rl.errors import TrainingError

FORMAT_VERSION = 1


class CheckpointFileError(TrainingError):
    """A checkpoint is missing, unreadable or of another format; the message names the file."""


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    with atomic_write(path, "wb") as f:
        torch.save({"format_version": FORMAT_VERSION, **state}, f)


def load_checkpoint(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointFileError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise CheckpointFileError(f"cannot read checkpoint {path}: {exc}") from exc
    if not isinstance(state, dict) or state.get("format_version") != FORMAT_VERSION:
        raise CheckpointFileError(f"{path} is not a robot_rl checkpoint of format {FORMAT_VERSION}")
    return state


def random_states() -> dict[str, Any]:
    """Global random states as plain types and tensors, so that the checkpoint loads with
    ``torch.load(weights_only=True)`` (no pickled numpy objects)."""
    kind, key, pos, has_gauss, gauss = np.random.get_state()
    return {"python": random.getstate(), "numpy": [kind, key.tolist(), int(pos), int(has_gauss), float(gauss)],
            "torch": torch.get_rng_state()}


def restore_random_states(states: dict[str, Any]) -> None:
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, key, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(key, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
