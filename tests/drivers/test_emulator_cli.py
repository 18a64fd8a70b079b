"""``robot-rl virtual-bus`` as a real process: port on the first line, answers the vendor SDKs,
clean exit 0 on SIGTERM or SIGINT with the link removed."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import dynamixel_sdk as dxl_sdk
import pytest
import scservo_sdk as scs

from drivers.feetech import protocol as ft

ROOT = Path(__file__).resolve().parents[2]


def _start(*args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "robot_rl.cli.main", "virtual-bus", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 20.0)
    if not ready:
        proc.kill()
        pytest.fail("virtual-bus printed nothing within 20 s")
    first_line = proc.stdout.readline().strip()
    if not first_line:
        proc.wait(5)
        pytest.fail(f"virtual-bus exited with {proc.returncode}: {proc.stderr.read()}")
    return proc, first_line


def _stop(proc: subprocess.Popen, sig: signal.Signals) -> int:
    proc.send_signal(sig)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def test_dynamixel_bus_answers_the_sdk_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    link = tmp_path / "ttyDXL"
    proc, port_path = _start("--protocol", "dynamixel", "--model", "XM430-W350", "--ids", "1-3",
                             "--baud", "1000000", "--link", str(link))
    try:
        assert port_path.startswith("/dev/") and os.readlink(link) == port_path
        port = dxl_sdk.PortHandler(str(link))
        assert port.openPort() and port.setBaudRate(1_000_000)
        handler = dxl_sdk.PacketHandler(2.0)
        assert [handler.ping(port, i)[:2] for i in (1, 2, 3)] == [(1020, dxl_sdk.COMM_SUCCESS)] * 3
        assert handler.ping(port, 4)[1] == dxl_sdk.COMM_RX_TIMEOUT
        port.closePort()
    finally:
        returncode = _stop(proc, signal.SIGTERM)
    assert returncode == 0, proc.stderr.read()
    assert not link.is_symlink()


def test_feetech_bus_exits_cleanly_on_sigint(tmp_path: Path) -> None:
    link = tmp_path / "ttySTS"
    proc, port_path = _start("--protocol", "feetech", "--ids", "1,2", "--link", str(link))
    try:
        port = scs.PortHandler(port_path)
        assert port.openPort() and port.setBaudRate(1_000_000)
        assert scs.PacketHandler(0).ping(port, 2)[:2] == (777, scs.COMM_SUCCESS)
        port.closePort()
    finally:
        returncode = _stop(proc, signal.SIGINT)
    assert returncode == 0, proc.stderr.read()
    assert not link.is_symlink()


def test_injected_disconnect_ends_the_process(tmp_path: Path) -> None:
    proc, port_path = _start("--protocol", "feetech", "--ids", "1", "--disconnect-after", "2")
    port = scs.PortHandler(port_path)
    assert port.openPort() and port.setBaudRate(1_000_000)
    assert scs.PacketHandler(0).ping(port, 1)[1] == scs.COMM_SUCCESS  # 2 packets: ping, read model
    port.writePort(ft.ping(1))  # the third request unplugs the port
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        port.closePort()
        if proc.poll() is None:
            proc.kill()
    assert "disconnect" in proc.stderr.read()
