"""Replaying a log on the twin: the delayed goals, and agreement with the twin that recorded it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mujoco")

from drivers.robot_config import RobotConfig, load_robot_config  # noqa: E402
from robot_rl.sysid.log_rollout import LogRollout, split_windows  # noqa: E402
from robot_side.robots import robot_config_path  # noqa: E402
from robot_side.safety.safe_robot import SafeRobot  # noqa: E402
from robot_side.sysid.excitation import ExcitationConfig, plan_excitation  # noqa: E402
from robot_side.sysid.log_file import SysidLog  # noqa: E402
from robot_side.sysid.recorder import ExcitationRecorder  # noqa: E402
from sim.sim_config import SimConfig  # noqa: E402
from sim.sim_robot import SimRobot  # noqa: E402
from sim.twin_model import TwinModel  # noqa: E402
from sim.twin_params import TwinParams, save_twin_params  # noqa: E402

SHORT = ExcitationConfig(amplitude_rad=0.4, move_s=0.5, settle_s=0.3, chirp_s=2.0, step_hold_s=0.4, rest_s=0.1)


@pytest.fixture(scope="module")
def so101() -> RobotConfig:
    return load_robot_config(robot_config_path("so101"))


def record(config: RobotConfig, joint: str) -> SysidLog:
    plan = plan_excitation(config.spec, config.home_rad, 50.0, [config.joint_names.index(joint)], SHORT)
    robot = SafeRobot(SimRobot(config, SimConfig(quantize=False)), 1 / 50.0, config.safety)
    with robot:
        return ExcitationRecorder(robot, plan, SHORT, "sim").run()


def test_goals_are_the_commands_delayed_and_averaged_over_each_step(so101: RobotConfig) -> None:
    log = record(so101, "wrist_flex")
    replay = LogRollout(TwinModel(so101, force_sensors=True), log, split_windows(log, 0.0))
    j, dt = so101.joint_names.index("wrist_flex"), replay.timestep_s
    start = log.read_time_s[replay.windows[0].rows[0]]
    command = np.rint(log.command_rad[:, j] * 4096 / (2 * np.pi)) * (2 * np.pi / 4096)

    def held(t: float) -> float:  # the command in force at t (the first before the first write)
        k = np.searchsorted(log.command_time_s, t, side="right") - 1
        return command[max(k, 0)]

    for delay in (0.0, 0.012, 0.0253):
        goals = replay.controls(delay)[0][:, replay.twin.actuator[j]]
        for step in (3, 400, 777):
            a = start + step * dt - delay
            samples = [held(a + f * dt) for f in np.linspace(0, 1, 2001)[:-1]]
            assert goals[step] == pytest.approx(np.mean(samples), abs=2e-4)
    # Continuous in the delay: a 0.1 ms change moves no goal by more than the command's slope allows.
    change = np.abs(replay.controls(0.0251) - replay.controls(0.0250)).max()
    assert change < 0.02


def test_replay_of_the_recording_twin_follows_the_log(so101: RobotConfig, tmp_path: Path) -> None:
    """The twin that recorded the log, replayed open loop from each window's first reading,
    stays within 0.4 mrad RMS of what it read (no noise, no quantisation; each window starts
    from a reading, not the exact state); without the delay it does not."""
    real = TwinParams(delay_s=0.02)
    config = dataclasses.replace(so101, twin_params=str(save_twin_params(real, tmp_path / "p.yaml")))
    log = record(config, "elbow_flex")
    windows = split_windows(log, 0.25)
    replay = LogRollout(TwinModel(so101, force_sensors=True), log, windows)
    (right, wrong) = replay.simulate([real, TwinParams()])
    for sims, bound in ((right, 0.0004), (wrong, None)):
        error = np.concatenate([angles - log.position_rad[w.rows] for (angles, _), w in zip(sims, windows)])
        rms = float(np.sqrt(np.mean(error**2)))
        if bound is not None:
            assert rms < bound, rms
        else:
            assert rms > 0.004, rms  # the same twin without the delay does not follow it
