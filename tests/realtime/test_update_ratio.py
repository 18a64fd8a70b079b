"""The update-to-data ratio ``loop.updates_per_step``: its arithmetic, the config checks around
it, a fractional ratio in the synchronous trainer, and the asynchronous learner keeping to it
(reaching it, never going beyond it, reporting what it achieved)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.config import ConfigError
from robot_rl.train.config import load_train_config
from robot_rl.train.update_ratio import achieved_ratio, shortfall_advice, updates_due

ROOT = Path(__file__).resolve().parents[2]
ASYNC_CONFIG = ROOT / "configs/train/so101_reach_async.yaml"


@pytest.mark.parametrize("ratio,earning_steps,done,due", [
    (1, 0, 0, 0), (1, 5, 3, 2), (0.5, 1, 0, 0), (0.5, 2, 0, 1), (0.5, 7, 3, 0), (2, 3, 0, 6), (2, 3, 6, 0),
    (2, 3, 9, 0),  # ahead (a resumed count): nothing due, never negative
    (0.29, 100, 0, 29),  # 0.29 x 100 is 28.999999999999996 in floating point
    (0, 10_000, 0, 0), (3, -5, 0, 0),
])
def test_updates_due(ratio: float, earning_steps: int, done: int, due: int) -> None:
    assert updates_due(ratio, earning_steps, done) == due


def test_a_fractional_ratio_earns_its_updates_step_by_step() -> None:
    done = 0
    for step in range(1, 1001):
        done += updates_due(0.3, step, done)
        assert done == int(0.3 * step + 1e-9), step  # never ahead of the data, never a step late
    assert done == 300 and achieved_ratio(done, 1000) == 0.3 and achieved_ratio(0, 0) == 0.0


def test_a_shortfall_over_ten_percent_says_what_to_do() -> None:
    assert shortfall_advice(2.0, 1.85) is None and shortfall_advice(0.0, 0.0) is None
    advice = shortfall_advice(2.0, 1.7)
    assert advice is not None and "could not keep up" in advice and "15% short" in advice
    assert "smaller network" in advice and "compile: true" in advice and "lower loop.updates_per_step" in advice


def test_the_removed_max_updates_per_step_names_its_replacement() -> None:
    with pytest.raises(ConfigError) as error:
        load_train_config(ASYNC_CONFIG, ["realtime.max_updates_per_step=4"])
    message = str(error.value)
    assert "so101_reach_async.yaml" in message and "'realtime.max_updates_per_step' was removed" in message
    assert "set loop.updates_per_step" in message and "min_updates_per_step" not in message
    result = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "train", str(ASYNC_CONFIG), "--set",
                             "realtime.max_updates_per_step=4"], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "set loop.updates_per_step" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("overrides,message", [
    (["loop.updates_per_step=-1"], "updates_per_step must be a number >= 0, got -1"),
    (["loop.updates_per_step=.inf"], "updates_per_step must be a number >= 0, got inf"),
    (["loop.updates_per_step=0.5", "realtime.min_updates_per_step=1"],
     "realtime.min_updates_per_step (1.0) is above loop.updates_per_step (0.5)"),
])
def test_a_ratio_that_cannot_work_is_a_config_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_train_config(ASYNC_CONFIG, overrides)
    assert message in str(error.value)


def test_the_ratio_keeps_its_type() -> None:
    """An integer stays one (the config's hash and the synchronous trainer are as before); any number is taken."""
    assert load_train_config(ASYNC_CONFIG, ["loop.updates_per_step=2"]).loop.updates_per_step.__class__ is int
    assert load_train_config(ASYNC_CONFIG, ["loop.updates_per_step=0.5"]).loop.updates_per_step == 0.5
    assert load_train_config(ASYNC_CONFIG).loop.updates_per_step == 1


@pytest.mark.parametrize("ratio", [0.5, 1.5])
def test_a_fractional_ratio_in_the_synchronous_trainer(tmp_path: Path, ratio: float) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "robot_rl.cli.main", "train", str(ROOT / "configs/train/pendulum_sac.yaml"),
         "--run-dir", str(tmp_path / "run"), "--json", "--no-progress",
         *[part for s in ("loop.total_steps=400", "loop.start_steps=100", "loop.update_after=100",
                          "loop.eval_every_steps=400", "loop.eval_episodes=1", "loop.checkpoint_every_steps=400",
                          "algo.sac.hidden_sizes=[16,16]", "algo.sac.batch_size=32", f"loop.updates_per_step={ratio}")
           for part in ("--set", s)]],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    # Steps 100 to 400 (the replay holds update_after transitions from step 100 on) earn updates: 301 x ratio.
    assert abs(json.loads(result.stdout)["updates"] - 301 * ratio) <= 1, result.stdout


def metrics_rows(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("ratio", [2, 0.5])
def test_the_async_learner_keeps_to_the_ratio_and_reports_it(tmp_path: Path, start_run, ratio: float) -> None:
    """At 2 the learner keeps up (small networks, 50 Hz); at 0.5 it could do far more (the same
    learner, idle half the time) and does not."""
    run_dir = tmp_path / "run"
    run = start_run(run_dir, loop__total_steps=300, loop__updates_per_step=ratio)
    code, summary = run.finish(timeout_s=120)
    assert code == 0 and summary["reason"] == "finished", run.stderr
    earned = ratio * (300 - 40)  # updates are earned from update_after (40) on
    assert summary["updates"] <= earned, summary  # never more
    assert summary["updates_per_step_target"] == ratio
    assert abs(summary["updates_per_step_achieved"] - ratio) <= 0.1 * ratio, summary
    assert summary["updates_per_step_achieved"] == pytest.approx(summary["updates"] / (300 - 40))
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["updates_per_step_target"] == ratio
    assert on_disk["updates_per_step_achieved"] == summary["updates_per_step_achieved"]
    logged = [r for r in metrics_rows(run_dir) if "learner/updates_per_step" in r]
    assert len(logged) >= 10 and all(r["learner/updates_behind"] >= 0 for r in logged)
    assert logged[-1]["learner/updates_per_step"] <= ratio + 1e-9 and logged[-1]["learner/updates_per_step"] > 0
    final = run.stderr.strip().splitlines()[-1]
    assert re.search(rf"learner: {summary['updates_per_step_achieved']:.2f} updates per step achieved of "
                     rf"{ratio:.2f} configured", final), final
    assert "could not keep up" not in run.stderr


def test_a_learner_that_cannot_keep_up_says_so(tmp_path: Path, start_run) -> None:
    run_dir = tmp_path / "run"
    run = start_run(run_dir, loop__total_steps=150, loop__updates_per_step=1000)
    code, summary = run.finish(timeout_s=120)
    assert code == 0 and summary["updates_per_step_target"] == 1000, run.stderr
    assert 0 < summary["updates_per_step_achieved"] < 900 and summary["updates"] < 1000 * (150 - 40), summary
    assert "WARNING" in run.stderr and "could not keep up" in run.stderr and "smaller network" in run.stderr
    behind = [r["learner/updates_behind"] for r in metrics_rows(run_dir) if "learner/updates_behind" in r]
    assert behind and behind[-1] > 1000, behind
