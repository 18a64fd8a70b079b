"""Checks shared by the learners' ``load_state_dict``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from robot_rl.algos.errors import CheckpointError


class _Loadable(Protocol):
    def load_state_dict(self, state_dict: Any) -> Any: ...


def check_keys(state: Mapping[str, Any], keys: Iterable[str], owner: str) -> None:
    """Raise CheckpointError naming every entry of ``keys`` that ``state`` lacks."""
    missing = [key for key in keys if key not in state]
    if missing:
        raise CheckpointError(f"{owner} state dict lacks {', '.join(missing)}")


def load_part(target: _Loadable, state: Mapping[str, Any], key: str, owner: str) -> None:
    """``target.load_state_dict(state[key])``, with a mismatch raised as CheckpointError."""
    try:
        target.load_state_dict(state[key])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{owner} state dict entry {key!r} does not fit: {exc}") from exc
