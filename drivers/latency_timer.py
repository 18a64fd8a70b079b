"""USB serial adapters buffer replies for a *latency timer* (16 ms by default on FTDI chips).

A request/response bus waits that long for every short reply, which caps it near 60 Hz.
Linux exposes the timer in sysfs; we read it and say how to lower it to 1 ms.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

SYSFS_USB_SERIAL = Path("/sys/bus/usb-serial/devices")
RECOMMENDED_MS = 1


def latency_timer_path(port: str, sysfs_root: Path = SYSFS_USB_SERIAL) -> Path | None:
    """The sysfs file of the adapter behind ``port`` (``/dev/ttyUSB0`` or a by-id link)."""
    if "://" in port:
        return None
    name = os.path.basename(os.path.realpath(port))
    path = sysfs_root / name / "latency_timer"
    return path if path.exists() else None


def read_latency_timer_ms(port: str, sysfs_root: Path = SYSFS_USB_SERIAL) -> int | None:
    path = latency_timer_path(port, sysfs_root)
    if path is None:
        return None
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def latency_timer_fix(port: str, sysfs_root: Path = SYSFS_USB_SERIAL) -> str:
    name = os.path.basename(os.path.realpath(port))
    return (f"echo {RECOMMENDED_MS} | sudo tee {sysfs_root / name / 'latency_timer'}   "
            f"(to keep it: a udev rule such as ACTION==\"add\", SUBSYSTEM==\"usb-serial\", "
            f"DRIVER==\"ftdi_sio\", ATTR{{latency_timer}}=\"{RECOMMENDED_MS}\")")


def check_latency_timer(port: str, sysfs_root: Path = SYSFS_USB_SERIAL) -> int | None:
    """Return the adapter's latency timer in ms (None when not a USB adapter); warn when slow."""
    value = read_latency_timer_ms(port, sysfs_root)
    if value is not None and value > RECOMMENDED_MS:
        log.warning("%s: USB latency timer is %d ms, which caps a request/response bus near "
                    "%d Hz. Fix: %s", port, value, int(1000 / value), latency_timer_fix(port, sysfs_root))
    return value
