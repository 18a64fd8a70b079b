"""Every training config the project ships loads and passes the checks a run makes at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from robot_rl.train.config import load_train_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs" / "train").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_a_shipped_config_loads(path: Path) -> None:
    config = load_train_config(path)
    assert config.name == path.stem
    assert config.loop.total_steps > config.loop.update_after
