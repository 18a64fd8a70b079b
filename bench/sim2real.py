"""System identification against perturbed "real robots": does ``robot-rl sysid`` find them?

For each robot and seed, a stand-in for a real robot is drawn: virtual hardware (the real
driver over an emulated bus on a pseudo-terminal, stepped in real time) whose plant is the
twin with every servo parameter of every joint and the link masses drawn log-uniformly
between 0.5x and 2x nominal, and a command delay drawn between 0 and 40 ms (the robot
config's ``virtual_plant:``, which the fit never reads). Then, as a user would:

1. ``sysid record`` on it (the excitation run, through the safety stack, in real time);
2. ``sysid fit`` of the nominal twin to that log.

Scored: each parameter the fit reports as identified against the drawn value (target: within
15 %), the delay against the drawn one plus virtual hardware's own delay (the bus and the
read, measured first on an unperturbed robot; target: within 5 ms), and the held-out RMS
joint error of the nominal twin over that of the fitted one (target: at least 5x). Robot
time and computing time per robot are recorded.

    python bench/sim2real.py [--robots so101 dclaw] [--seeds 0 1 2] [--max-iters 40] [--keep DIR]
                             [--transfer [--episodes 50]]

With ``--transfer``, each robot also gets the policy test: the robot's main training config
(``configs/train/so101_reach_sac.yaml``, ``dclaw_turn_sac.yaml``) trains (a) on the nominal
twin, (b) on the nominal twin with domain randomisation over the same ranges the robots were
drawn from (gain, damping, friction and masses 0.5-2x, action latency 0-40 ms), (c) on each
robot's fitted twin; each policy runs ``--episodes`` episodes on the perturbed robot (virtual
hardware) and on its own twin (``robot-rl deploy``). Target: (c) within 5 points of its own
twin's success on every robot.

Prints tables and writes bench/results/sim2real.json (processor and load beside the figures).
One recording, fit or training at a time: each uses every core.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bus_stress import processor  # noqa: E402  (bench/ is the script's folder)

from drivers.config import to_dict  # noqa: E402
from drivers.robot_config import RobotConfig, load_robot_config  # noqa: E402
from robot_rl.sysid.twin_fit import FitResult, FitSettings, fit_twin, start_params  # noqa: E402
from robot_side.robots import make_robot, robot_config_path  # noqa: E402
from robot_side.safety.safe_robot import SafeRobot  # noqa: E402
from robot_side.safety.workspace_guard import WorkspaceGuard  # noqa: E402
from robot_side.sysid.excitation import ExcitationConfig, plan_excitation  # noqa: E402
from robot_side.sysid.log_file import SysidLog  # noqa: E402
from robot_side.sysid.recorder import ExcitationRecorder  # noqa: E402
from sim.twin_model import TwinModel  # noqa: E402
from sim.twin_params import JOINT_FIELDS, TwinParams, save_twin_params  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RATE_HZ = 50.0
SCALE_RANGE = (0.5, 2.0)
DELAY_RANGE_S = (0.0, 0.04)
PARAM_TOLERANCE = 0.15
DELAY_TOLERANCE_S = 0.005
IMPROVEMENT_TARGET = 5.0
TRANSFER_TARGET = 0.05
TRAIN_CONFIGS = {"so101": ROOT / "configs" / "train" / "so101_reach_sac.yaml",
                 "dclaw": ROOT / "configs" / "train" / "dclaw_turn_sac.yaml"}
RANDOMIZATION = {"mass_scale": list(SCALE_RANGE), "friction_scale": list(SCALE_RANGE),
                 "damping_scale": list(SCALE_RANGE), "kp_scale": list(SCALE_RANGE),
                 "action_latency_s": list(DELAY_RANGE_S)}
EVAL_SEED = 777


def draw_real_robot(config: RobotConfig, rng: np.random.Generator) -> TwinParams:
    """Every joint field and the link masses log-uniform in SCALE_RANGE x nominal; the delay uniform."""
    nominal = start_params(TwinModel(config), config.joint_names, 0.0)
    low, high = np.log(SCALE_RANGE)
    joints = {}
    for name, physics in nominal.joints.items():
        scaled = {f: getattr(physics, f) * float(np.exp(rng.uniform(low, high))) for f in JOINT_FIELDS}
        joints[name] = dataclasses.replace(physics, **scaled)
    return TwinParams(joints=joints, delay_s=float(rng.uniform(*DELAY_RANGE_S)),
                      link_mass_scale=float(np.exp(rng.uniform(low, high))))


def with_plant(config: RobotConfig, plant: TwinParams | None, folder: Path, name: str) -> RobotConfig:
    """``config`` on virtual hardware whose plant is ``plant`` (None: the nominal twin)."""
    path = str(save_twin_params(plant, folder / f"{name}.yaml")) if plant is not None else None
    return dataclasses.replace(config, backend="virtual", virtual_plant=path)


def record(config: RobotConfig, joints: list[int] | None = None) -> tuple[SysidLog, float]:
    """The excitation run on ``config`` (virtual hardware), as ``robot-rl sysid record`` does it."""
    excitation = ExcitationConfig()
    plan = plan_excitation(config.spec, config.home_rad, RATE_HZ, joints, excitation)
    robot = SafeRobot(make_robot(config, seed=0), 1 / RATE_HZ, config.safety, WorkspaceGuard.from_config(config))
    started = time.monotonic()
    with robot:
        log = ExcitationRecorder(robot, plan, excitation, "virtual").run()
    return log, time.monotonic() - started


def score(result: FitResult, real: TwinParams, intrinsic_delay_s: float) -> dict[str, Any]:
    """Each identified parameter's relative error against the drawn robot; the delay's error in s."""
    errors, unidentified = {}, []
    for name, value, ok in zip(result.names, result.fitted_values, result.identified):
        if name == "delay_s":
            continue
        truth = real.link_mass_scale if name == "link_mass_scale" else \
            getattr(real.joints[name.split(".")[0]], name.split(".")[1])
        if ok:
            errors[name] = float(value / truth - 1.0)
        else:
            unidentified.append(name)
    fitted_delay = float(result.fitted_values[result.names.index("delay_s")])
    worst = max(errors, key=lambda n: abs(errors[n])) if errors else None
    within = sum(abs(e) <= PARAM_TOLERANCE for e in errors.values())
    return {"identified": len(errors), "unidentified": unidentified, "within_15pct": within,
            "worst_parameter": worst, "worst_error": errors[worst] if worst else None, "errors": errors,
            "delay_true_s": real.delay_s + intrinsic_delay_s, "delay_fitted_s": fitted_delay,
            "delay_error_s": fitted_delay - (real.delay_s + intrinsic_delay_s),
            "rms_nominal_mrad": result.held_out_rms_rad["start"]["all"] * 1e3,
            "rms_fitted_mrad": result.held_out_rms_rad["fitted"]["all"] * 1e3, "improvement": result.improvement}


def intrinsic_delay(config: RobotConfig, folder: Path) -> float:
    """Virtual hardware's own command-to-reading delay: a fit of the delay alone on the nominal plant."""
    log, _ = record(with_plant(config, None, folder, "nominal"), joints=[len(config.joints) - 1])
    result = fit_twin(config, log, FitSettings(fields=(), fit_link_mass=False, use_effort=False), output=None)
    return float(result.fitted_values[result.names.index("delay_s")])


def robot_rl(*args: str) -> str:
    """Run ``robot-rl ARGS`` as a user would; its stdout (stderr goes to ours)."""
    proc = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], stdout=subprocess.PIPE, text=True,
                          cwd=ROOT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"robot-rl {' '.join(args)} exited with {proc.returncode}")
    return proc.stdout


def write_robot_config(config: RobotConfig, path: Path) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"robot": to_dict(config)}, sort_keys=False))
    return path


def train_policy(robot: str, robot_config: Path, run_dir: Path, *sets: str) -> Path:
    """Train ``robot``'s main config on ``robot_config``'s twin; the exported policy."""
    robot_rl("train", str(TRAIN_CONFIGS[robot]), "--run-dir", str(run_dir), "--no-progress", "--json",
             "--set", f"env.options.robot={robot_config}", *[a for s in sets for a in ("--set", s)])
    policy = run_dir / "policy.onnx"
    robot_rl("export", str(run_dir), "--out", str(policy))
    return policy


def success(policy: Path, robot_config: Path, backend: str, episodes: int) -> float:
    report = json.loads(robot_rl("deploy", str(policy), "--robot", str(robot_config), "--backend", backend,
                                 "--episodes", str(episodes), "--seed", str(EVAL_SEED), "--json"))
    return float(report["success_rate"])


def transfer(robot: str, config: RobotConfig, reals: dict[int, tuple[TwinParams, TwinParams]], folder: Path,
             episodes: int) -> list[dict[str, Any]]:
    """Policies (a) nominal, (b) randomised, (c) fitted, each on every perturbed robot and on its own twin."""
    nominal = write_robot_config(dataclasses.replace(config, backend="sim"), folder / f"{robot}-nominal-robot.yaml")
    say = lambda s: print(f"{robot} transfer: {s}", file=sys.stderr, flush=True)  # noqa: E731
    say("training on the nominal twin")
    shared = {"nominal": train_policy(robot, nominal, folder / f"{robot}-run-nominal")}
    say("training on the nominal twin with domain randomisation")
    shared["randomised"] = train_policy(robot, nominal, folder / f"{robot}-run-randomised",
                                        f"env.options.sim={{randomization: {json.dumps(RANDOMIZATION)}}}")
    own = {name: success(policy, nominal, "sim", episodes) for name, policy in shared.items()}
    rows = []
    for seed, (real, fitted) in reals.items():
        real_robot = write_robot_config(with_plant(config, real, folder, f"{robot}-{seed}-plant"),
                                        folder / f"{robot}-{seed}-real-robot.yaml")
        fitted_twin = write_robot_config(dataclasses.replace(
            config, backend="sim", twin_params=str(save_twin_params(fitted, folder / f"{robot}-{seed}-fitted.yaml"))),
            folder / f"{robot}-{seed}-fitted-robot.yaml")
        say(f"seed {seed}: training on the fitted twin")
        policies = {**shared, "fitted": train_policy(robot, fitted_twin, folder / f"{robot}-run-fitted-{seed}")}
        row: dict[str, Any] = {"robot": robot, "seed": seed}
        for name, policy in policies.items():
            row[f"{name}_real"] = success(policy, real_robot, "virtual", episodes)
            row[f"{name}_own_twin"] = own[name] if name in own else success(policy, fitted_twin, "sim", episodes)
            say(f"seed {seed}: {name}: {row[f'{name}_real']:.0%} on the robot, {row[f'{name}_own_twin']:.0%} on its twin")
        rows.append(row)
    return rows


def print_transfer(rows: list[dict[str, Any]]) -> None:
    print(f"{'robot':<7} {'seed':>4} | {'success on the perturbed robot (own twin)':^52}")
    print(f"{'':<7} {'':>4} | {'(a) nominal':>16} {'(b) randomised':>16} {'(c) fitted':>16}")
    for r in rows:
        cells = [f"{r[f'{n}_real']:.0%} ({r[f'{n}_own_twin']:.0%})" for n in ("nominal", "randomised", "fitted")]
        print(f"{r['robot']:<7} {r['seed']:>4} | {cells[0]:>16} {cells[1]:>16} {cells[2]:>16}")


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'robot':<7} {'seed':>4} {'delay (true/fit, ms)':>21} {'params within 15 %':>19} "
          f"{'worst':>26} {'RMS nominal/fitted (mrad)':>26} {'ratio':>7} {'robot s':>8} {'fit s':>6}")
    for r in rows:
        worst = f"{r['worst_parameter']} {r['worst_error'] * 100:+.0f} %" if r["worst_parameter"] else "-"
        print(f"{r['robot']:<7} {r['seed']:>4} {r['delay_true_s'] * 1e3:9.1f} / {r['delay_fitted_s'] * 1e3:5.1f}   "
              f"{r['within_15pct']:>8} of {r['identified']:<8} {worst:>26} "
              f"{r['rms_nominal_mrad']:12.2f} / {r['rms_fitted_mrad']:<10.2f} {r['improvement']:6.1f}x "
              f"{r['robot_s']:8.0f} {r['fit_s']:6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--robots", nargs="+", default=["so101", "dclaw"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-iters", type=int, default=40)
    parser.add_argument("--transfer", action="store_true", help="also train and run the policies (a), (b), (c)")
    parser.add_argument("--episodes", type=int, default=50, help="episodes per policy and robot (default 50)")
    parser.add_argument("--json", type=Path, default=RESULTS / "sim2real.json")
    parser.add_argument("--keep", type=Path, help="keep the logs, drawn robots and fitted twins in this folder")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    transfer_rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sim2real-") as tmp:
        folder = Path(tmp) if args.keep is None else args.keep
        folder.mkdir(parents=True, exist_ok=True)
        for robot in args.robots:
            config = load_robot_config(robot_config_path(robot))
            intrinsic = intrinsic_delay(config, folder)
            print(f"{robot}: virtual hardware's own delay {intrinsic * 1e3:.1f} ms", file=sys.stderr, flush=True)
            reals: dict[int, tuple[TwinParams, TwinParams]] = {}
            for seed in args.seeds:
                real = draw_real_robot(config, np.random.default_rng(seed))
                log, robot_s = record(with_plant(config, real, folder, f"{robot}-{seed}"))
                log.save(folder / f"{robot}-{seed}-log.npz")
                started = time.perf_counter()
                prefix = f"{robot} seed {seed}"
                result = fit_twin(config, log, FitSettings(max_iters=args.max_iters), output=None,
                                  say=lambda s, prefix=prefix: print(f"{prefix}: {s}", file=sys.stderr, flush=True))
                row = {"robot": robot, "seed": seed, "robot_s": robot_s, "fit_s": time.perf_counter() - started,
                       "intrinsic_delay_s": intrinsic, "period_error_ms_p99": log.meta["period_error_ms_p99"],
                       "stale_rows": int(log.stale.sum()), **score(result, real, intrinsic),
                       "real": dataclasses.asdict(real)}
                rows.append(row)
                reals[seed] = (real, result.fitted)
                save_twin_params(result.fitted, folder / f"{robot}-{seed}-fitted.yaml")
                print_table([row])
            if args.transfer:
                transfer_rows += transfer(robot, config, reals, folder, args.episodes)
                print_transfer(transfer_rows)
    print()
    print_table(rows)
    if transfer_rows:
        print()
        print_transfer(transfer_rows)
        met = [abs(r["fitted_real"] - r["fitted_own_twin"]) <= TRANSFER_TARGET for r in transfer_rows]
        print(f"transfer target ((c) within {TRANSFER_TARGET * 100:g} points of its own twin): "
              f"{sum(met)} of {len(met)} robots")
    ok = [r["within_15pct"] == r["identified"] and abs(r["delay_error_s"]) <= DELAY_TOLERANCE_S
          and r["improvement"] >= IMPROVEMENT_TARGET for r in rows]
    print(f"targets (identified within 15 %, delay within 5 ms, held-out error cut {IMPROVEMENT_TARGET:g}x): "
          f"{sum(ok)} of {len(rows)} robots")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"processor": processor(), "load_average": os.getloadavg(),
                                     "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d"),
                                     "targets": {"parameter": PARAM_TOLERANCE, "delay_s": DELAY_TOLERANCE_S,
                                                 "improvement": IMPROVEMENT_TARGET, "transfer": TRANSFER_TARGET},
                                     "rows": rows, "transfer": transfer_rows}, indent=2, default=float))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
