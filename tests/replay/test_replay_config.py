"""ReplayConfig: checked values, and a memory statement that matches what is allocated."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drivers.config import ConfigError
from robot_rl.replay import (ColumnSpec, ReplayBuffer, ReplayConfig, ReplayConfigError, ReplayShapeError,
                             ReplayStorage, load_replay_config)
from robot_rl.replay.config import human_bytes


def test_describe_matches_the_issue_example() -> None:
    config = ReplayConfig(capacity=1_000_000)
    # (2 * 17 obs + 6 act + 1 reward) * 4 bytes + 2 flag bytes = 166 bytes per transition
    assert config.bytes_per_transition(17, 6) == 166
    assert config.memory_bytes(17, 6) == 166_000_000
    assert config.describe(17, 6) == "replay: 1,000,000 transitions x (17 obs, 6 act) float32 = 166 MB"


def test_describe_names_extra_columns() -> None:
    config = ReplayConfig(capacity=2_000, segment_steps=1_000,
                          extra_columns=(ColumnSpec("weight_version"), ColumnSpec("episode", "int32")))
    assert config.describe(3, 2) == ("replay: 2,000 transitions x (3 obs, 2 act, weight_version int64, "
                                     "episode int32) float32 = 100 kB")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("obs_dim", "action_dim"), [(1, 1), (17, 6), (24, 9)])
@pytest.mark.parametrize("extras", [(), (ColumnSpec("weight_version"), ColumnSpec("flag", "bool"),
                                        ColumnSpec("t", "float32"))])
def test_memory_statement_equals_allocated_nbytes(dtype: str, obs_dim: int, action_dim: int,
                                                  extras: tuple[ColumnSpec, ...]) -> None:
    config = ReplayConfig(capacity=1_001, dtype=dtype, extra_columns=extras,  # type: ignore[arg-type]
                          flush_interval_steps=10, segment_steps=100)
    buffer = ReplayBuffer(config, obs_dim, action_dim)
    arrays = buffer.storage.columns()
    assert config.memory_bytes(obs_dim, action_dim) == sum(a.nbytes for a in arrays.values())
    assert buffer.storage.nbytes == config.memory_bytes(obs_dim, action_dim)
    layout = config.column_layout(obs_dim, action_dim)
    assert {name: (a.shape, a.dtype) for name, a in arrays.items()} == layout


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"capacity": 0}, r"capacity must be an integer > 0, got 0"),
    ({"capacity": -5}, r"capacity must be an integer > 0, got -5"),
    ({"capacity": 10.0}, r"capacity must be an integer > 0, got 10.0"),
    ({"n_step": 0}, r"n_step must be an integer >= 1, got 0"),
    ({"gamma": 0.0}, r"gamma must be in \(0, 1\], got 0.0"),
    ({"gamma": 1.5}, r"gamma must be in \(0, 1\], got 1.5"),
    ({"dtype": "float16"}, r"dtype must be 'float32' or 'float64', got 'float16'"),
    ({"capacity": 100, "flush_interval_steps": 101, "segment_steps": 50},
     r"flush_interval_steps must be <= capacity \(100\), got 101"),
    ({"capacity": 100, "flush_interval_steps": 10}, r"segment_steps must be <= capacity \(100\), got 10000"),
    ({"flush_interval_steps": 0}, r"flush_interval_steps must be an integer > 0, got 0"),
    ({"extra_columns": (ColumnSpec("a"), ColumnSpec("a"))}, r"extra_columns must be free of duplicate names"),
])
def test_bad_values_name_the_field_and_value(kwargs: dict, message: str) -> None:
    with pytest.raises(ReplayConfigError, match=message):
        ReplayConfig(**kwargs)


@pytest.mark.parametrize(("name", "message"), [("obs", "is a core column"), ("Weight", "must match"),
                                                ("_x", "must match")])
def test_bad_column_names(name: str, message: str) -> None:
    with pytest.raises(ReplayConfigError, match=message):
        ColumnSpec(name)


def test_bad_dims_are_named() -> None:
    with pytest.raises(ReplayConfigError, match="obs_dim must be an integer > 0, got 0"):
        ReplayConfig().memory_bytes(0, 6)


def test_yaml_loading_is_strict(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("replay:\n  capacity: 5000\n  n_step: 3\n  segment_steps: 1000\n"
                    "  extra_columns:\n    - {name: weight_version, dtype: int64}\n")
    config = load_replay_config(path)
    assert config == ReplayConfig(capacity=5000, n_step=3, segment_steps=1000,
                                  extra_columns=(ColumnSpec("weight_version", "int64"),))
    path.write_text("replay:\n  capacty: 5000\n")
    with pytest.raises(ConfigError, match=r"unknown key 'capacty'; did you mean 'capacity'"):
        load_replay_config(path)
    path.write_text("replay:\n  capacity: 0\n")
    with pytest.raises(ConfigError, match=r"train.yaml.*capacity must be an integer > 0, got 0"):
        load_replay_config(path)


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (0, 999, 1_000, 88_000, 166_000_000, 1_660_000_000, 999_999)] == \
        ["0 B", "999 B", "1 kB", "88 kB", "166 MB", "1.66 GB", "1 MB"]


def test_storage_rejects_wrong_arrays() -> None:
    config = ReplayConfig(capacity=10, flush_interval_steps=5, segment_steps=5)
    arrays = {name: np.zeros(shape, dtype) for name, (shape, dtype) in config.column_layout(3, 2).items()}
    arrays["obs"] = np.zeros((10, 4), np.float32)
    with pytest.raises(ReplayShapeError, match=r"storage column 'obs' must be \(10, 3\) float32, got \(10, 4\)"):
        ReplayStorage.from_arrays(config, 3, 2, arrays)
    del arrays["obs"]
    with pytest.raises(ReplayShapeError, match=r"missing \['obs'\]"):
        ReplayStorage.from_arrays(config, 3, 2, arrays)
