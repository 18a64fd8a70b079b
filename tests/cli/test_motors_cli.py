"""``robot-rl motors ...`` as a user runs it: real processes against the emulated bus."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drivers.emulator import ServoSpec, VirtualBus


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robot_rl.cli.main", *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def feetech_bus():
    specs = [ServoSpec(id=i, model="STS3215", initial_position_rad=math.pi + 0.1 * i) for i in (1, 2, 3)]
    with VirtualBus("feetech", specs, baud=1_000_000) as virtual:
        yield virtual


def test_scan_json_finds_every_motor_at_its_baud() -> None:
    specs = [ServoSpec(id=i, model="XM430-W350") for i in (3, 7)]
    with VirtualBus("dynamixel", specs, baud=57_600) as virtual:
        result = run("motors", "scan", "--port", virtual.port, "--protocol", "dynamixel", "--baud", "1000000",
                     "57600", "--ids", "0-10", "--timeout-ms", "3", "--json")
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert [(m["id"], m["baud"], m["model"], m["model_number"]) for m in found] == \
        [(3, 57600, "XM430-W350", 1020), (7, 57600, "XM430-W350", 1020)]
    assert all(m["firmware"] for m in found)


def test_scan_nothing_found_exit_1(feetech_bus) -> None:
    result = run("motors", "scan", "--port", feetech_bus.port, "--protocol", "feetech", "--baud", "500000",
                 "--ids", "1-3", "--timeout-ms", "3")
    assert result.returncode == 1 and "no motors found" in result.stdout


def test_read_write_torque(feetech_bus) -> None:
    port = ["--port", feetech_bus.port, "--protocol", "feetech"]
    result = run("motors", "read", *port, "--ids", "1-3", "--register", "present_position", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["value"] for r in rows] == pytest.approx([math.pi + 0.1 * i for i in (1, 2, 3)], abs=2e-3)
    assert run("motors", "torque", "on", *port, "--ids", "2").returncode == 0
    assert feetech_bus.read_register(2, "torque_enable") == 1
    result = run("motors", "write", *port, "--ids", "2", "--register", "goal_position", "--value", "3.0")
    assert result.returncode == 0, result.stderr
    assert feetech_bus.read_register(2, "goal_position") == round(3.0 / (2 * math.pi / 4096))


@pytest.mark.parametrize("args,message", [
    (["--register", "present_postion"], "no register 'present_postion'"),
    (["--register", "goal_position", "--value", "99"], "fits register goal_position of no feetech model"),
    (["--register", "goal_position", "--value", "99", "--model", "STS3215"],
     "value 64538 is outside register goal_position: allowed -32767..32767"),
    (["--register", "goal_position", "--value", "nan"], "expected a finite number, got 'nan'"),
    (["--register", "goal_position", "--value", "1", "--model", "STS9999"], "unknown feetech model 'STS9999'"),
])
def test_bad_input_is_a_clear_error(feetech_bus, args, message) -> None:
    verb = "write" if "--value" in args else "read"
    before = feetech_bus.stats.requests
    result = run("motors", verb, "--port", feetech_bus.port, "--protocol", "feetech", "--ids", "1", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr and "Warning" not in result.stderr
    if verb == "write":
        assert feetech_bus.stats.requests == before  # refused before a byte was sent (no ping, no model read)


def test_bad_ids_rejected_by_parser(feetech_bus) -> None:
    result = run("motors", "read", "--port", feetech_bus.port, "--protocol", "feetech", "--ids", "1,400",
                 "--register", "id")
    assert result.returncode == 2 and "out of range 0..252" in result.stderr


def test_set_id(feetech_bus) -> None:
    port = ["--port", feetech_bus.port, "--protocol", "feetech"]
    result = run("motors", "set-id", *port, "--id", "3", "--new-id", "9", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["new_id"] == 9 and 9 in feetech_bus.ids
    taken = run("motors", "set-id", *port, "--id", "1", "--new-id", "2")
    assert taken.returncode == 2 and "already taken" in taken.stderr


def test_missing_port_is_clear() -> None:
    result = run("motors", "read", "--port", "/dev/nope-robot-rl", "--protocol", "feetech", "--ids", "1",
                 "--register", "id")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_calibrate_writes_offsets_and_ranges(feetech_bus, tmp_path: Path) -> None:
    config = {"robot": {"name": "arm", "protocol": "feetech", "backend": "serial", "port": feetech_bus.port,
                        "calibration": "arm_calibration.yaml",
                        "joints": [{"name": f"j{i}", "id": i, "model": "STS3215", "position_min_rad": -0.5,
                                    "position_max_rad": 0.5} for i in (1, 2, 3)]}}
    path = tmp_path / "arm.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run("motors", "calibrate", "--robot", str(path), "--json", stdin="\n\n")
    assert result.returncode == 0, result.stderr
    written = yaml.safe_load((tmp_path / "arm_calibration.yaml").read_text())["motors"]
    for i in (1, 2, 3):
        # The zero pose was where the servo stood (tick 2048 + 0.1 i rad): after calibration it reads 2048.
        assert written[f"j{i}"]["homing_offset_ticks"] == feetech_bus.read_register(i, "homing_offset")
        assert abs(feetech_bus.read_register(i, "present_position") - 2048) <= 1
    assert "Put every joint at its zero pose" in result.stderr
