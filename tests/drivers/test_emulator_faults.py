"""Fault injection of the emulated bus: rates, determinism, late replies, a lost port."""

from __future__ import annotations

import math
import time

import pytest
import serial

from drivers.dynamixel import protocol as dxl
from drivers.emulator import FaultConfig, ServoSpec, VirtualBus
from drivers.emulator.faults import FaultInjector
from drivers.errors import ChecksumError, ConfigurationError, MalformedReplyError, PortLostError
from drivers.transport import SerialTransport

BAUD = 1_000_000
PING_REPLY_SIZE = 14


def _ping_outcomes(bus: VirtualBus, n: int) -> list[str]:
    """Ping servo 1 ``n`` times; per ping "ok", "corrupt" or "missing"."""
    outcomes = []
    with serial.Serial(bus.port, BAUD, timeout=0.005) as port:
        request = dxl.ping(1)
        for i in range(n):
            port.write(request)
            assert bus.wait_idle(requests=i + 1)
            reply = port.read(PING_REPLY_SIZE)  # the pty may take a moment to pass it on
            if not reply:
                outcomes.append("missing")
                continue
            assert len(reply) == PING_REPLY_SIZE
            try:
                dxl.decode(reply)
                outcomes.append("ok")
            except (ChecksumError, MalformedReplyError):
                outcomes.append("corrupt")
    return outcomes


def _within(count: int, n: int, p: float, sigmas: float = 4.0) -> bool:
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p)) + 1


def test_corrupted_and_dropped_replies_happen_at_the_configured_rates() -> None:
    n, p_drop, p_corrupt = 400, 0.2, 0.1
    faults = FaultConfig(drop_probability=p_drop, corrupt_probability=p_corrupt, seed=3)
    with VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350", return_delay_s=0.0)], baud=BAUD,
                    faults=faults) as bus:
        outcomes = _ping_outcomes(bus, n)
        stats = bus.stats
    missing, corrupt = outcomes.count("missing"), outcomes.count("corrupt")
    assert (stats.requests, stats.dropped, stats.corrupted) == (n, missing, corrupt)
    assert stats.replies == n - missing
    assert _within(missing, n, p_drop)
    assert _within(corrupt, n - missing, p_corrupt)
    assert corrupt > 0 and missing > 0


def test_the_same_seed_gives_the_same_faults() -> None:
    faults = FaultConfig(drop_probability=0.3, corrupt_probability=0.3, seed=11)
    runs = []
    for _ in range(2):
        with VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350", return_delay_s=0.0)], baud=BAUD,
                        faults=faults) as bus:
            runs.append(_ping_outcomes(bus, 60))
    assert runs[0] == runs[1]
    assert len(set(runs[0])) == 3


def test_no_faults_by_default() -> None:
    with VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350", return_delay_s=0.0)], baud=BAUD) as bus:
        assert _ping_outcomes(bus, 50) == ["ok"] * 50


def test_injector_flips_exactly_one_byte() -> None:
    injector = FaultInjector(FaultConfig(corrupt_probability=1.0, seed=5))
    packet = dxl.status(1, 0, b"\x00\x08\x00\x00")
    for _ in range(50):
        corrupted = injector.apply(packet)
        assert corrupted is not None and len(corrupted) == len(packet)
        assert sum(a != b for a, b in zip(corrupted, packet)) == 1


@pytest.mark.parametrize("kwargs", [{"drop_probability": 1.5}, {"corrupt_probability": -0.1},
                                    {"extra_delay_s": -1.0}, {"disconnect_after_packets": -2}])
def test_fault_config_is_checked(kwargs: dict) -> None:
    with pytest.raises(ConfigurationError):
        FaultConfig(**kwargs)


def test_extra_delay_makes_every_reply_late() -> None:
    faults = FaultConfig(extra_delay_s=0.015)
    with VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350", return_delay_s=0.0)], baud=BAUD,
                    faults=faults) as bus, serial.Serial(bus.port, BAUD, timeout=0.5) as port:
        for _ in range(3):
            start = time.monotonic()
            port.write(dxl.ping(1))
            assert len(port.read(PING_REPLY_SIZE)) == PING_REPLY_SIZE
            assert 0.015 <= time.monotonic() - start < 1.0  # the delay happened; no hang


def test_disconnect_after_packets_loses_the_port() -> None:
    faults = FaultConfig(disconnect_after_packets=3)
    with VirtualBus("dynamixel", [ServoSpec(1, "XM430-W350", return_delay_s=0.0)], baud=BAUD,
                    faults=faults) as bus, SerialTransport(bus.port, BAUD) as transport:
        for _ in range(3):
            transport.write(dxl.ping(1))
            assert len(transport.read_exactly(PING_REPLY_SIZE, 0.5)) == PING_REPLY_SIZE
        transport.write(dxl.ping(1))
        with pytest.raises(PortLostError):
            transport.read_exactly(PING_REPLY_SIZE, 0.5)
        assert bus.wait(1.0) and bus.disconnected


def test_disconnect_api_loses_the_port() -> None:
    with VirtualBus("feetech", [ServoSpec(1, "STS3215")]) as bus, SerialTransport(bus.port, BAUD) as transport:
        bus.disconnect()
        assert not bus.running
        with pytest.raises(PortLostError):
            transport.write(b"\xff\xff\x01\x02\x01\xfb")
            transport.read_exactly(6, 0.5)
