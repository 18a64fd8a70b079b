"""Motors safe after the control loop died without its own safe stop.

The loop turns torque off on every exit path it lives through; ``kill -9`` or a crash inside a
C extension it does not. Its supervisor (``robot_rl.realtime.run``, or a fleet's robot actor)
then opens the robot's port itself and turns torque off on every motor. Only the serial
backend needs this: the twin has no motors, and virtual hardware's emulated bus belonged to
the dead process.
"""

from __future__ import annotations

import logging

from drivers.errors import DriverError
from drivers.robot_config import RobotConfig, load_robot_config
from robot_rl.train.config import TrainConfig

log = logging.getLogger("robot_rl.async")


def serial_robot_config(config: TrainConfig) -> RobotConfig | None:
    """The robot config of a run on a real port (None for the twin, virtual hardware or an env
    that is not the project's)."""
    if not config.env.id.startswith("robot_rl/"):
        return None
    import gymnasium as gym

    import robot_side  # noqa: F401  (registers the ids)
    from robot_side.robots import robot_config_path

    options = config.env.options
    robot = options.get("robot") or gym.spec(config.env.id).kwargs["robot"]
    robot_config = load_robot_config(robot_config_path(robot), backend=options.get("backend"), port=options.get("port"))
    return robot_config if robot_config.backend == "serial" else None


def cut_torque_after_crash(config: TrainConfig, why: str) -> bool:
    """Turn torque off on the run's real robot, if it has one; logs what it did. Returns
    whether torque was cut."""
    robot = serial_robot_config(config)
    if robot is None:
        return False
    from drivers.emergency_stop import torque_off_all

    try:
        torque_off_all(robot)
    except DriverError as exc:
        log.error("%s and torque could not be turned off from here (%s: %s): SWITCH THE ROBOT'S POWER OFF",
                  why, type(exc).__name__, exc)
        return False
    log.error("%s without its safe stop: torque turned off on every motor of %s through %s", why, robot.name,
              robot.port)
    return True
