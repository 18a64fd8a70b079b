"""The command lead: commands at a fixed phase after the tick, fixed or measured (auto)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from robot_rl.realtime.command_lead import CommandLead, auto_lead_s

PERIOD = 0.01


def test_auto_lead_is_a_margin_over_the_slowest_steps_rounded_and_capped() -> None:
    ready = np.full(1000, 200e-6)
    ready[-11:] = 400e-6  # 11 slow steps in 1000: the p99 (the 990th smallest) is theirs
    assert auto_lead_s(ready, PERIOD) == pytest.approx(5e-4)  # 1.25 x 0.4 ms
    ready[-11:] = 410e-6
    assert auto_lead_s(ready, PERIOD) == pytest.approx(6e-4)  # rounded up to 0.1 ms
    ready[-10:] = 5e-3  # ten pauses of the machine in a thousand steps do not set it
    assert auto_lead_s(ready, PERIOD) == pytest.approx(6e-4)
    assert auto_lead_s(np.full(100, 1e-6), PERIOD) == pytest.approx(1e-4)  # never under 0.1 ms
    assert auto_lead_s(np.full(100, 9e-3), PERIOD) == PERIOD / 2  # never over half a period


def test_fixed_lead_waits_until_the_phase() -> None:
    lead = CommandLead(0.003, PERIOD)
    tick = time.monotonic()
    lead.wait(tick)
    assert time.monotonic() - tick >= 0.003
    late_tick = time.monotonic() - 0.01  # not ready by the lead: no wait at all
    start = time.monotonic()
    lead.wait(late_tick)
    assert time.monotonic() - start < 0.003
    assert lead.lead_s == lead.target_s == 0.003


def test_no_lead_sends_at_once_and_auto_measures_one() -> None:
    now = CommandLead(None, PERIOD)
    start = time.monotonic()
    now.wait(start - 0.001)
    assert time.monotonic() - start < 0.001 and now.lead_s is None
    auto = CommandLead("auto", PERIOD)
    for k in range(60):
        tick = time.monotonic() - 0.0002  # each command ready about 0.2 ms after its tick
        auto.wait(tick)
        if k < 48:
            assert auto.lead_s is None  # none before the first estimate (after 50 steps)
    assert auto.target_s is not None and 3e-4 <= auto.target_s <= PERIOD / 2
    assert auto.lead_s is not None and 0.0002 <= auto.lead_s <= auto.target_s


class FakeTime:
    """Ticks every PERIOD; each command is ready ``ready_s`` after its tick; records the phase at
    which each command would go out."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sent: list[float] = []

    def sleep(self, until: float) -> None:
        self.sent.append(max(until, self.now) % PERIOD)


def test_auto_raises_at_once_and_lowers_only_by_a_margin() -> None:
    fake = FakeTime()
    auto = CommandLead("auto", PERIOD, window=2000, clock=lambda: fake.now, sleep=fake.sleep)

    def steps(n: int, ready_s: float) -> None:
        for _ in range(n):
            tick = (round(fake.now / PERIOD) + 1) * PERIOD
            fake.now = tick + ready_s
            auto.wait(tick)

    steps(500, 400e-6)
    assert auto.target_s == pytest.approx(5e-4)
    steps(2000, 350e-6)  # estimate 0.44 ms -> 0.5 ms: unchanged
    assert auto.target_s == pytest.approx(5e-4)
    steps(2000, 200e-6)  # estimate 0.25 -> 0.3 ms: lowered
    assert auto.target_s == pytest.approx(3e-4)
    steps(500, 600e-6)  # slower steps: raised at the next estimate
    assert auto.target_s == pytest.approx(8e-4)
    steps(2000, 350e-6)  # 0.44 -> 0.5 ms: 0.3 ms lower, lowered
    assert auto.target_s == pytest.approx(5e-4)
    steps(100, 350e-6)  # the lead in force follows (10 us a step)
    assert auto.lead_s == pytest.approx(auto.target_s)


def test_the_lead_moves_by_at_most_10_us_a_step() -> None:
    fake = FakeTime()
    auto = CommandLead("auto", PERIOD, window=2000, clock=lambda: fake.now, sleep=fake.sleep)
    for k in range(3000):
        tick = (k + 1) * PERIOD
        fake.now = tick + (900e-6 if k < 500 else 200e-6)  # faster from step 500 on
        auto.wait(tick)
    assert auto.target_s == pytest.approx(3e-4)  # lowered once the slow steps left the window
    phase = np.array(fake.sent)
    assert np.abs(np.diff(phase[600:])).max() <= 10e-6 + 1e-12  # every command waited for its lead
    assert phase[-1] == pytest.approx(3e-4)
