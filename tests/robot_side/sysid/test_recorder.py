"""The excitation run through the safety stack on a real serial line (an emulated bus on a
pseudo-terminal): what it logs, that nothing sent leaves a tiny range, and that a lost motor
or a lost port ends it with torque off and the rows so far kept."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from drivers.bus_robot import BusRobot
from drivers.emulator import ServoSpec, VirtualBus
from drivers.emulator.faults import FaultConfig
from drivers.robot_config import JointConfig, RobotConfig, SafetyConfig
from robot_side.errors import BusFaultPersistsError
from robot_side.safety.safe_robot import SafeRobot
from robot_side.sysid.excitation import REST, ExcitationConfig, plan_excitation
from robot_side.sysid.log_file import FORMAT, SysidLogError, load_log
from robot_side.sysid.recorder import ExcitationRecorder

RATE_HZ = 50.0
SHORT = ExcitationConfig(amplitude_rad=0.3, move_s=0.2, settle_s=0.1, chirp_s=0.6, step_hold_s=0.1, rest_s=0.1)
LOW, HIGH = -0.06, 0.09  # a tiny range: the margins leave 0.025 rad of amplitude


def tiny_config(port: str) -> RobotConfig:
    joints = tuple(JointConfig(f"j{i}", i, "STS3215", LOW, HIGH, velocity_max_rad_s=5.0) for i in (1, 2))
    return RobotConfig("tiny", "feetech", joints, backend="serial", port=port, control_rate_hz=RATE_HZ,
                       max_step_rad=0.25, safety=SafetyConfig(max_missed_reads=3))


def servos() -> list[ServoSpec]:
    # Powered on far outside the tiny range: the first command must bring the joints in.
    return [ServoSpec(id=i, model="STS3215", return_delay_s=0.0, initial_position_rad=np.pi + 0.5) for i in (1, 2)]


def torque(virtual: VirtualBus, ids: tuple[int, ...], value: int, timeout_s: float = 2.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        virtual.wait_idle()
        values = [virtual.read_register(i, "torque_enable") for i in ids]
        if values == [value] * len(ids) or time.monotonic() > deadline:
            return values
        time.sleep(0.01)


def test_the_log_holds_every_period_and_nothing_sent_leaves_a_tiny_range(tmp_path: Path) -> None:
    with VirtualBus("feetech", servos()) as virtual:
        config = tiny_config(virtual.port)
        plan = plan_excitation(config.spec, config.home_rad, RATE_HZ, config=SHORT)
        robot = SafeRobot(BusRobot(config), 1 / RATE_HZ, config.safety)
        recorder = ExcitationRecorder(robot, plan, SHORT, "serial")
        with robot:
            log = recorder.run()
        assert torque(virtual, (1, 2), 0) == [0, 0]
    path = log.save(tmp_path / "run")
    assert path.suffix == ".npz"
    loaded = load_log(path)
    assert loaded.meta["complete"] and loaded.meta["format"] == FORMAT and loaded.joint_names == ["j1", "j2"]
    assert len(loaded) > len(plan.segment)  # the plan, after the move in from outside the range
    # Everything sent and everything planned is inside the range, though the joints started outside it.
    for name in ("command_rad", "planned_rad"):
        values = getattr(loaded, name)
        assert np.all(values >= LOW - 1e-9) and np.all(values <= HIGH + 1e-9), name
    assert loaded.position_rad[0, 0] > HIGH  # the first reading: where the servos powered on
    np.testing.assert_allclose(loaded.meta["amplitude_rad"], 0.025)
    assert np.all(np.diff(loaded.read_time_s) > 0) and np.all(loaded.command_time_s >= loaded.read_time_s)
    assert set(np.unique(loaded.segment)) == {REST, 0, 1}
    # The joint being excited follows its commands (the servo model moves the shaft).
    rows = loaded.segment == 0
    assert np.ptp(loaded.position_rad[rows, 0]) > 0.03


def test_a_motor_lost_mid_run_ends_it_with_torque_off_and_keeps_the_rows() -> None:
    with VirtualBus("feetech", servos()) as virtual:
        config = tiny_config(virtual.port)
        plan = plan_excitation(config.spec, config.home_rad, RATE_HZ, config=SHORT)
        bus_robot = BusRobot(config)
        robot = SafeRobot(bus_robot, 1 / RATE_HZ, config.safety)
        recorder = ExcitationRecorder(robot, plan, SHORT, "serial")

        def unplug(k: int, n: int) -> None:
            if k == 40:
                bus_robot.bus.transport.margin_s = 0.03
                virtual.write_register(2, "id", 9)  # motor 2's cable breaks

        with robot, pytest.raises(BusFaultPersistsError, match="motor 2"):
            recorder.run(on_progress=unplug)
        assert torque(virtual, (1,), 0) == [0]  # the motor still reachable was made safe
        log = recorder.log()
        assert not log.meta["complete"] and "BusFaultPersistsError" in log.meta["stopped_by"]
        assert 40 <= len(log) < 40 + config.safety.max_missed_reads + 1


def test_record_command_keeps_the_rows_when_the_port_is_lost(tmp_path: Path) -> None:
    """``robot-rl sysid record`` on a port that closes mid-run: exit status 2 with the error,
    and the rows before the loss saved in the log, marked incomplete."""
    with VirtualBus("feetech", servos(), faults=FaultConfig(disconnect_after_packets=120)) as virtual:
        config_file = tmp_path / "tiny.yaml"
        joints = [{"name": f"j{i}", "id": i, "model": "STS3215", "position_min_rad": LOW, "position_max_rad": HIGH,
                   "velocity_max_rad_s": 5.0} for i in (1, 2)]
        config_file.write_text(yaml.safe_dump({"robot": {"name": "tiny", "protocol": "feetech", "backend": "serial",
                                                         "port": virtual.port, "control_rate_hz": 50,
                                                         "joints": joints}}))
        out = tmp_path / "lost.npz"
        proc = subprocess.run([sys.executable, "-m", "robot_rl.cli.main", "sysid", "record", "--robot",
                               str(config_file), "--out", str(out), "--json", "--amplitude-rad", "0.3",
                               "--chirp-s", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "robot-rl sysid: error:" in proc.stderr and "port lost" in proc.stderr
    assert "torque off" in proc.stderr  # tried on the way out (the port was gone)
    summary = json.loads(proc.stdout)
    assert summary["complete"] is False and summary["rows"] > 10
    log = load_log(out)
    assert len(log) == summary["rows"] and not log.meta["complete"] and log.meta["stopped_by"]


def test_a_file_that_is_not_a_log_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros(3))
    with pytest.raises(SysidLogError, match=f"{bad}: not a system-identification log: no array 'read_time_s'"):
        load_log(bad)
    with pytest.raises(SysidLogError, match="no such log file"):
        load_log(tmp_path / "missing.npz")
