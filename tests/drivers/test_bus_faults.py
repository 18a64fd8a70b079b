"""Fault tolerance: noise on the line never yields a wrong value; a pulled port is loud."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from drivers.bus_factory import make_bus
from drivers.emulator import FaultConfig, ServoSpec, VirtualBus
from drivers.errors import (BusTimeoutError, ChecksumError, DriverError, MalformedReplyError, PortLostError,
                            TransientBusError)
from drivers.motor import Motor

CASES = {"dynamixel": "XM430-W350", "feetech": "STS3215"}
TRANSACTIONS = 10_000


@pytest.mark.parametrize("protocol,fast", [("dynamixel", False), ("dynamixel", True), ("feetech", False)],
                         ids=["dynamixel", "dynamixel-fast-sync-read", "feetech"])
def test_ten_thousand_noisy_transactions_never_return_a_corrupted_value(protocol: str, fast: bool) -> None:
    model = CASES[protocol]
    ids = (1, 2, 3)
    # Distinct known positions, torque off, so the true values never change.
    specs = [ServoSpec(id=i, model=model, initial_position_rad=0.5 * i + 1.0, return_delay_s=0.0) for i in ids]
    motors = [Motor(f"m{i}", i, model) for i in ids]
    faults = FaultConfig(corrupt_probability=0.01, drop_probability=0.01, seed=7)
    outcomes: collections.Counter[str] = collections.Counter()
    with VirtualBus(protocol, specs, faults=faults) as virtual:
        truth = np.array([virtual.read_register(i, "present_position") for i in ids])
        extra = {"fast_sync_read": True} if fast else {}
        with make_bus(protocol, virtual.port, motors, retries=2, return_delay_s=0.0, timeout_margin_s=0.005,
                      **extra) as bus:
            for _ in range(TRANSACTIONS):
                try:
                    values = bus.read_raw("present_position")
                except TransientBusError as exc:
                    outcomes[type(exc).__name__] += 1
                    continue
                assert np.array_equal(values, truth), f"corrupted value returned as valid: {values} != {truth}"
                outcomes["ok"] += 1
            stats = dict(bus.stats)
        emulated = virtual.stats
    print(f"\n{protocol}: {TRANSACTIONS} {'fast ' if fast else ''}sync reads of 3 motors; emulator corrupted {emulated.corrupted} and "
          f"dropped {emulated.dropped} replies; bus: {stats}; outcomes: {dict(outcomes)}")
    assert emulated.corrupted > 50 and emulated.dropped > 50  # the faults really happened (about 1 % of replies)
    assert outcomes["ok"] + sum(v for k, v in outcomes.items() if k != "ok") == TRANSACTIONS
    assert stats["retries"] >= emulated.dropped  # each drop cost a retry (or a failure)
    assert outcomes["ok"] >= 0.97 * TRANSACTIONS  # retries cure nearly everything (a loaded machine adds timeouts)
    assert set(outcomes) <= {"ok", BusTimeoutError.__name__, ChecksumError.__name__, MalformedReplyError.__name__}


@pytest.mark.parametrize("protocol", sorted(CASES))
def test_pulled_port_is_a_clear_error(protocol: str) -> None:
    model = CASES[protocol]
    with VirtualBus(protocol, [ServoSpec(id=1, model=model, return_delay_s=0.0)]) as virtual:
        with make_bus(protocol, virtual.port, [Motor("a", 1, model)], return_delay_s=0.0) as bus:
            bus.read("present_position")
            virtual.disconnect()
            with pytest.raises(DriverError) as info:
                for _ in range(5):
                    bus.read("present_position")
            assert isinstance(info.value, (PortLostError, BusTimeoutError))
            assert "port lost" in str(info.value) or "no complete reply" in str(info.value)
