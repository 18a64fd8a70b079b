"""bench/sample_efficiency.py without training: how a recipe is laid over an env's config, what
the bench sets, how the 90 % step and the early stop are read, and that every recipe file
makes a valid config on every env."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_sample_efficiency", ROOT / "bench/sample_efficiency.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


bench = _load_bench()
BASE = {"name": "base", "env": {"id": "robot_rl/SO101Reach-v0"},
        "algo": {"name": "sac", "sac": {"gamma": 0.95, "hidden_sizes": [64], "compile": True}},
        "loop": {"total_steps": 50_000, "start_steps": 2_000, "update_after": 1_000, "updates_per_step": 1}}


def test_recipe_algo_replaces_the_base_one_but_for_gamma_and_its_loop_keys_replace_the_base_ones() -> None:
    recipe = {"algo": {"name": "sac", "sac": {"hidden_sizes": [256, 256]}}, "loop": {"updates_per_step": 5}}
    merged = bench.merge_recipe(BASE, recipe)
    assert merged["algo"] == {"name": "sac", "sac": {"hidden_sizes": [256, 256], "gamma": 0.95}}
    assert merged["loop"] == {**BASE["loop"], "updates_per_step": 5}
    assert BASE["algo"]["sac"]["hidden_sizes"] == [64] and "gamma" not in recipe["algo"]["sac"]  # inputs unchanged


def test_a_recipe_gamma_wins_and_a_recipe_without_algo_keeps_the_base_algo() -> None:
    assert bench.merge_recipe(BASE, {"algo": {"sac": {"gamma": 0.9}}})["algo"]["sac"] == {"gamma": 0.9}
    assert bench.merge_recipe(BASE, {"loop": {"updates_per_step": 2}})["algo"] == BASE["algo"]


def test_bench_config_trains_past_the_last_budget_without_the_trainers_own_evaluations() -> None:
    config = bench.bench_config(BASE, "b", [100, 400], seed=3, warmup_scale=0.1)
    loop = config["loop"]
    assert loop["total_steps"] == 401 and loop["seed"] == 3
    assert min(loop["eval_every_steps"], loop["checkpoint_every_steps"], loop["log_every_steps"]) > 401
    assert (loop["start_steps"], loop["update_after"]) == (200, 100)
    assert config["replay"]["flush_interval_steps"] <= config["replay"]["capacity"]


def test_first_at_target_and_the_early_stop() -> None:
    assert bench.first_at([10, 20, 30], [0.5, 0.9, 0.8]) == 20
    assert bench.first_at([10, 20], [0.5, 0.89]) is None
    assert not bench.held([0.95, 0.5, 0.95], 0.9)
    assert bench.held([0.5, 0.9, 0.95], 0.9)
    assert bench.scaled_budgets((2_500, 5_000, 7_500), 0.0001) == [1]


def test_a_recipe_with_other_sections_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("algo: {name: sac}\nreplay: {capacity: 10}\n")
    with pytest.raises(bench.BenchError, match="replay"):
        bench.load_recipe(path)


def test_every_recipe_makes_a_valid_config_on_every_env() -> None:
    recipes = sorted(p.stem for p in bench.RECIPES.glob("*.yaml"))
    jobs = bench.plan(list(bench.ENVS), [*recipes, bench.PEER], [0], 0.05, 1, None)
    assert len(jobs) == len(bench.ENVS) * (len(recipes) + 1)


def test_earlier_results_made_at_another_scale_are_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"budgets_scale": 0.5, "eval_episodes": 50, "stop_at_success": None, "rows": []}))
    settings = {"budgets_scale": 1.0, "eval_episodes": 50, "stop_at_success": None}
    with pytest.raises(bench.BenchError, match="budgets_scale"):
        bench.kept_rows([path], settings, [])
