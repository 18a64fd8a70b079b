"""The run directory every training job writes (see docs/training.md for the layout)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from drivers.atomic_file import atomic_write
from robot_rl.errors import TrainingError
from robot_rl.train.config import TrainConfig


class RunDirError(TrainingError):
    """The run directory cannot be created or resumed; the message says why."""


@dataclass(frozen=True)
class RunDir:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def latest_checkpoint(self) -> Path:
        return self.checkpoints / "latest.pt"

    @property
    def best_checkpoint(self) -> Path:
        """The policy of the best periodic evaluation so far (synchronous mode)."""
        return self.checkpoints / "best.pt"

    @property
    def replay(self) -> Path:
        return self.root / "replay"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def exports(self) -> Path:
        return self.root / "export"

    def create(self, config: TrainConfig, resume: bool) -> None:
        """New run: refuse to overwrite an existing one. Resume: require a checkpoint."""
        if resume:
            if not self.latest_checkpoint.exists():
                raise RunDirError(f"cannot resume {self.root}: no checkpoint at {self.latest_checkpoint}")
            return
        if self.latest_checkpoint.exists() or self.metrics.exists():
            raise RunDirError(f"{self.root} already holds a run; pass --resume to continue it or choose "
                              f"another --run-dir")
        for folder in (self.root, self.checkpoints, self.plots):
            folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.config, yaml.safe_dump(config.to_dict(), sort_keys=False))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` so that a crash leaves either the old file or the new one."""
    with atomic_write(path) as f:
        f.write(text)
