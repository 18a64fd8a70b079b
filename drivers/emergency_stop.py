"""Torque off on every motor of a robot, from a fresh connection.

For the moment after the process that commanded the robot died without its own safe stop
(``kill -9``, a crash inside a C extension): a supervisor opens the port once more and turns
torque off on every joint and sensor with one SYNC_WRITE, which needs no reply, so it works
even when some motors no longer answer. Nothing is read first and nothing is checked: this is
the one write that must go out whatever state the robot is in.
"""

from __future__ import annotations

import numpy as np

from drivers.bus_factory import make_bus
from drivers.motor import Motor
from drivers.robot_config import RobotConfig

ATTEMPTS = 3  # the write is repeated: a packet lost on a noisy line must not leave a motor on


def torque_off_all(config: RobotConfig, port: str | None = None) -> None:
    """Torque off on every motor of ``config`` through ``port`` (default: the config's).
    Raises the drivers' typed errors (port missing, busy, lost) for the caller to report."""
    motors = [Motor(j.name, j.id, j.model) for j in config.joints] + \
        [Motor(s.name, s.id, s.model) for s in config.sensors]
    bus = make_bus(config.protocol, port or config.port, motors, baud=config.baud, retries=config.retries)
    models: dict[str, list[str]] = {}  # one SYNC_WRITE per model (the register's address may differ)
    for motor in motors:
        models.setdefault(motor.model, []).append(motor.name)
    with bus:
        for _ in range(ATTEMPTS):
            for names in models.values():
                bus.write_raw("torque_enable", np.zeros(len(names), dtype=np.int64), names)
