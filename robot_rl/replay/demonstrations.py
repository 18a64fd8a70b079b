"""Demonstration folders: what ``robot-rl record-demos`` writes and training loads.

A demonstration folder is a run directory's replay (``replay/`` segments and manifest, the
format of ``robot_rl.replay.segment_files``, readable with numpy alone) plus
``demonstrations.json``: the env id, robot, observation and action sizes, control rate,
episodes, successes and transitions. Its transitions carry two extra columns: ``source``
(:data:`~robot_rl.replay.human_share.DEMONSTRATION`) and ``episode``.

Training takes a folder with ``loop.demos: PATH``: its transitions join the replay at the
start of a run (not again on ``--resume``: they are in the run's own replay by then), flagged
as demonstrations, and :class:`~robot_rl.replay.human_share.HumanShare` gives them their
share of every batch.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivers.atomic_file import atomic_write
from robot_rl.replay.buffer import ReplayBuffer
from robot_rl.replay.config import ColumnSpec, ReplayConfig
from robot_rl.replay.errors import ReplayError
from robot_rl.replay.human_share import DEMONSTRATION, SOURCE_COLUMN

META_NAME = "demonstrations.json"
FORMAT = "robot_rl.demonstrations/1"
DEMO_COLUMNS = (ColumnSpec(**SOURCE_COLUMN), ColumnSpec("episode", "int64"))


class DemonstrationError(ReplayError):
    """A demonstration folder that cannot be used (missing, damaged, another env's)."""


def demo_replay_config(capacity: int = 1_000_000) -> ReplayConfig:
    """The replay a recording writes: every transition kept, flushed at each episode's end."""
    return ReplayConfig(capacity=capacity, flush_interval_steps=capacity, segment_steps=min(capacity, 10_000),
                        extra_columns=DEMO_COLUMNS)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    """``demonstrations.json`` in ``folder``, written atomically (rewritten after each episode)."""
    meta = {"format": FORMAT, **meta,
            "updated_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with atomic_write(folder / META_NAME) as f:
        f.write(json.dumps(meta, indent=2))


@dataclass(frozen=True)
class Demonstrations:
    """The transitions of a demonstration folder, in recorded order."""

    meta: dict[str, Any]
    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode: np.ndarray

    def __len__(self) -> int:
        return len(self.reward)


def load_demonstrations(folder: str | Path, env_id: str | None = None, obs_dim: int | None = None,
                        action_dim: int | None = None) -> Demonstrations:
    """Read ``folder``; with ``env_id`` / ``obs_dim`` / ``action_dim`` given, check that the
    demonstrations were recorded on that env with those sizes. Raises
    :class:`DemonstrationError` naming the folder and what does not fit."""
    folder = Path(folder)
    meta_path = folder / META_NAME
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError:
        raise DemonstrationError(f"{folder}: no {META_NAME}; record demonstrations with `robot-rl record-demos`") \
            from None
    except (OSError, ValueError) as exc:
        raise DemonstrationError(f"{meta_path}: not readable as JSON ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise DemonstrationError(f"{meta_path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    for key, want in (("env_id", env_id), ("obs_dim", obs_dim), ("action_dim", action_dim)):
        if want is not None and meta.get(key) != want:
            raise DemonstrationError(f"{meta_path}: {key} is {meta.get(key)!r}, this run's is {want!r}")
    total = int(meta.get("transitions", 0))
    if total < 1:
        raise DemonstrationError(f"{meta_path}: holds no transitions")
    replay, report = ReplayBuffer.load(folder, demo_replay_config(total), int(meta["obs_dim"]),
                                       int(meta["action_dim"]), expected_total=total, persist=False)
    n = len(replay)
    if n < total:
        raise DemonstrationError(f"{folder}: {META_NAME} lists {total} transitions, the replay holds {n}")
    store = replay.storage
    return Demonstrations(meta=meta, obs=store.obs[:n].copy(), action=store.action[:n].copy(),
                          reward=store.reward[:n].copy(), next_obs=store.next_obs[:n].copy(),
                          terminated=store.terminated[:n].copy(), truncated=store.truncated[:n].copy(),
                          episode=store.extras["episode"][:n].copy())


def add_demonstrations(replay: ReplayBuffer, demos: Demonstrations) -> int:
    """Append ``demos`` to a training replay, flagged as demonstrations; the replay's other
    extra columns get -1 (no policy version, loop or training episode made them). Returns how
    many were added."""
    n = len(demos)
    extras: dict[str, np.ndarray] = {}
    for name, column in replay.storage.extras.items():
        if name == "source":
            extras[name] = np.full(n, DEMONSTRATION, dtype=column.dtype)
        elif name == "episode":
            extras[name] = -1 - demos.episode.astype(column.dtype)  # told apart from training episodes
        else:
            extras[name] = np.full(n, -1, dtype=column.dtype)
    if "source" not in extras:
        raise DemonstrationError("the training replay has no 'source' column to flag demonstrations in")
    replay.add_batch(demos.obs, demos.action, demos.reward, demos.next_obs, demos.terminated, demos.truncated,
                     extras=extras)
    return n
