"""Serial transport on a real pseudo-terminal: deadlines, stale input, typed errors."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from drivers.errors import BusTimeoutError, PortLostError, PortNotFoundError
from drivers.latency_timer import check_latency_timer
from drivers.transport import SerialTransport, wire_time_s


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_round_trip_and_stale_input_dropped(pty_pair) -> None:
    master, path = pty_pair
    with SerialTransport(path, 1_000_000) as t:
        os.write(master, b"stale")
        time.sleep(0.01)
        t.discard_input()
        t.write(b"\x01\x02")
        assert os.read(master, 2) == b"\x01\x02"
        os.write(master, b"abc")
        assert t.read_exactly(3, 0.2) == b"abc"


def test_timeout_says_how_many_bytes(pty_pair) -> None:
    master, path = pty_pair
    with SerialTransport(path, 1_000_000) as t:
        os.write(master, b"ab")
        start = time.monotonic()
        with pytest.raises(BusTimeoutError, match="got 2 of 5 bytes"):
            t.read_exactly(5, 0.05)
        assert 0.04 < time.monotonic() - start < 2.0  # waited for the deadline, then gave up


def test_missing_port() -> None:
    with pytest.raises(PortNotFoundError, match="does not exist"):
        SerialTransport("/dev/does-not-exist-robot-rl", 57600).open()


def test_port_lost_when_other_end_closes(pty_pair) -> None:
    master, path = pty_pair
    t = SerialTransport(path, 1_000_000).open()
    os.close(master)
    with pytest.raises(PortLostError):
        for _ in range(3):
            t.write(b"x" * 10)
            t.read(1, 0.05)
    t.close()


def test_wire_time() -> None:
    assert wire_time_s(100, 1_000_000) == pytest.approx(1e-3)


def test_latency_timer_warning(tmp_path: Path, caplog) -> None:
    device = tmp_path / "ttyUSB7"
    (tmp_path / "sys" / "ttyUSB7").mkdir(parents=True)
    (tmp_path / "sys" / "ttyUSB7" / "latency_timer").write_text("16\n")
    device.touch()
    with caplog.at_level("WARNING"):
        assert check_latency_timer(str(device), tmp_path / "sys") == 16
    assert "latency timer is 16 ms" in caplog.text and "echo 1 | sudo tee" in caplog.text
    (tmp_path / "sys" / "ttyUSB7" / "latency_timer").write_text("1\n")
    caplog.clear()
    assert check_latency_timer(str(device), tmp_path / "sys") == 1
    assert caplog.text == ""
