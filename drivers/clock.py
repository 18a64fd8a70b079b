"""Precise waiting on the monotonic clock: sleep most of the way, spin the rest.

``time.sleep`` overshoots by 50-250 us on a loaded Linux box; sleeping until ``spin_s``
before the deadline and then spinning brings the error to a few microseconds at the price of
that much CPU per period.
"""

from __future__ import annotations

import time

DEFAULT_SPIN_S = 200e-6


def sleep_until(deadline_s: float, spin_s: float = DEFAULT_SPIN_S) -> float:
    """Return at ``deadline_s`` (``time.monotonic()`` seconds); returns the lateness in s
    (0 or more; positive when the deadline had already passed)."""
    now = time.monotonic()
    remaining = deadline_s - now - spin_s
    if remaining > 0:
        time.sleep(remaining)
    while True:
        now = time.monotonic()
        if now >= deadline_s:
            return now - deadline_s
