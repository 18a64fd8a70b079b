"""When each command goes out, relative to the tick at which the state it answers was read.

Sent as soon as the policy is done, a command leaves at a moment that moves with the work
before it (state read, observation, policy): the period jitters by that work's variation.
Held back to a fixed lead after the tick, it leaves at the same phase every period (a few
microseconds of jitter) at the price of a constant latency of about the lead.

``realtime.command_lead_s``: a number of seconds; None (as soon as ready); or ``auto``: the
lead becomes 1.25 times the 99th percentile of how long the last 10,000 steps took to be
ready, rounded up to 0.1 ms, at most half a period. Not a higher percentile: the machine's
own pauses (a virtual CPU descheduled for milliseconds, about one step in a thousand here)
would then set the lead, making every command late by them; the steps they hit are late
anyway. It is estimated after the first 50 steps (sent as soon as ready until then), then
every 500, in a few microseconds that the wait for the lead absorbs; a higher estimate is
taken at once, a lower one only when 0.2 ms lower. The lead in force moves towards a new
estimate by at most 10 us a step, so that no single period is stretched or shortened by the
change. A step not ready by its lead sends at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from drivers.clock import sleep_until

AUTO_MARGIN = 1.25
AUTO_QUANTILE = 0.99
AUTO_FIRST = 50  # steps before the first estimate
AUTO_EVERY = 500  # steps between estimates
AUTO_LOWER_BY = 2e-4 - 1e-9  # a smaller drop is not worth the longer latency's change (float slack)
RESOLUTION_S = 1e-4
SLEW_S = 1e-5  # the most the lead in force changes in one step


def auto_lead_s(ready_s: np.ndarray, period_s: float) -> float:
    """The lead for ready times ``ready_s`` (s after the tick): 1.25 x their 99th percentile
    (nearest rank, by partition: microseconds, not the 0.1 ms of ``np.percentile``), rounded up
    to 0.1 ms, at most half the period."""
    k = max(int(np.ceil(AUTO_QUANTILE * ready_s.shape[0])) - 1, 0)
    steps = float(np.partition(ready_s, k)[k]) * AUTO_MARGIN / RESOLUTION_S
    lead = math.ceil(steps - 1e-9) * RESOLUTION_S  # 5.000000001 steps of 0.1 ms are 5, not 6
    return min(max(lead, RESOLUTION_S), period_s / 2)


class CommandLead:
    """setting: seconds, ``"auto"`` or None (see the module). ``lead_s``: the lead in force;
    ``target_s``: where ``auto`` is taking it. window: the steps ``auto`` estimates from.
    clock / sleep: ``time.monotonic`` and ``drivers.clock.sleep_until`` (replaceable in tests)."""

    def __init__(self, setting: float | str | None, period_s: float, window: int = 10_000,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = sleep_until) -> None:
        self.auto = setting == "auto"
        self.period_s = period_s
        self.lead_s: float | None = None if self.auto or setting is None else float(setting)
        self.target_s = self.lead_s
        self._clock, self._sleep = clock, sleep
        self._ready = np.zeros(window)
        self._n = 0

    def wait(self, tick_s: float) -> None:
        """Note how long after the tick (``time.monotonic`` seconds) the command is ready, and wait
        until the lead if one is in force."""
        ready = self._clock() - tick_s
        self._ready[self._n % self._ready.shape[0]] = ready
        self._n += 1
        if self.auto and (self._n == AUTO_FIRST or self._n % AUTO_EVERY == 0):
            self._estimate(ready)
        if self.lead_s != self.target_s:
            self.lead_s += min(max(self.target_s - self.lead_s, -SLEW_S), SLEW_S)
        if self.lead_s is not None:
            self._sleep(tick_s + self.lead_s)

    def _estimate(self, ready_now: float) -> None:
        lead = auto_lead_s(self._ready[:min(self._n, self._ready.shape[0])], self.period_s)
        if self.target_s is None or lead > self.target_s or lead <= self.target_s - AUTO_LOWER_BY:
            self.target_s = lead
        if self.lead_s is None:
            self.lead_s = ready_now  # start from where the commands go out now, then move
