"""``BusRobot``: the ``Robot`` interface on a motor bus, for real and virtual hardware."""

from __future__ import annotations

import logging
import math
import time
from types import TracebackType

import numpy as np

from drivers.bus import MotorBus
from drivers.bus_factory import make_bus
from drivers.calibration import (Calibration, CalibrationMismatchError, joint_rad_to_ticks, load_calibration,
                                 ticks_to_joint_rad)
from drivers.clock import sleep_until
from drivers.errors import ConfigurationError, DriverError
from drivers.motor import Motor
from drivers.registers import Area
from drivers.robot import JointState
from drivers.robot_config import RobotConfig
from drivers.safety import CommandLimiter
from drivers.transport import SerialTransport

log = logging.getLogger(__name__)


class BusRobot:
    """A robot of serial-bus servos.

    Opening checks every motor's model and calibration, programs the servo's own position
    limits, holds the present pose and turns torque on; ``close`` turns torque off (where the
    bus still answers), and so does an error while opening. ``write`` clips to the joint range;
    the per-step limits, the retry policy for failed reads and torque off on a driver error
    are the safety stack's (``robot_side.safety.SafeRobot``), which drives this robot.
    """

    simulated = False

    def __init__(self, config: RobotConfig, *, port: str | None = None,
                 calibration: Calibration | None = None, bus: MotorBus | None = None,
                 read_only: bool = False) -> None:
        self.config = config
        # read_only (a dry run): open checks and reads, write computes the limited command,
        # but nothing is ever written to the motors, torque included.
        self.read_only = read_only
        port = port or config.port
        if bus is None and not port:
            raise ConfigurationError(f"robot {config.name}: no serial port given")
        self.motors = [Motor(j.name, j.id, j.model) for j in config.joints]
        self.sensors = [Motor(s.name, s.id, s.model) for s in config.sensors]
        if bus is None and config.poll_replies and isinstance(port, str):
            port = SerialTransport(port, config.baud, spin_s=math.inf)
        self.bus = bus or make_bus(config.protocol, port, self.motors + self.sensors, baud=config.baud,
                                   retries=config.retries,
                                   return_delay_s=config.return_delay_s,
                                   **({"fast_sync_read": config.fast_sync_read} if config.protocol == "dynamixel" else {}))
        if calibration is None and config.calibration:
            calibration = load_calibration(config.calibration)
        self.calibration = calibration
        names = list(config.joint_names)
        if calibration is not None:
            self.direction, self.homing_offsets = calibration.arrays(names)
            self._check_limits_within_calibrated_range(calibration)
        else:
            self.direction, self.homing_offsets = np.ones(len(names)), None
        self.sensor_direction = np.array([s.direction for s in config.sensors], dtype=np.float64)
        self.spec = config.spec
        self.range = CommandLimiter.range_only(self.spec)
        table = self.bus.tables[names[0]]
        self._effort_register = "present_current" if "present_current" in table else "present_load"
        self._state_registers = ("present_position", "present_velocity", self._effort_register)
        self.torque_on = False
        self._joint_names = [m.name for m in self.motors]

    def _check_limits_within_calibrated_range(self, calibration: Calibration) -> None:
        for joint in self.config.joints:
            cal = calibration.motors[joint.name]
            if joint.position_min_rad < cal.range_min_rad - 1e-6 or joint.position_max_rad > cal.range_max_rad + 1e-6:
                raise ConfigurationError(
                    f"joint {joint.name}: limits [{joint.position_min_rad:.3f}, {joint.position_max_rad:.3f}] rad "
                    f"exceed the calibrated range [{cal.range_min_rad:.3f}, {cal.range_max_rad:.3f}] rad")

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> "BusRobot":
        self.bus.open()
        if self.read_only:
            try:
                self._check_models()
                self._check_calibration()
                self.range.reset(self.read().position_rad)
            except BaseException:
                self.bus.close()
                raise
            return self
        try:
            self._check_models()
            self._check_calibration()
            self._program_limits()
            self.range.reset(self.read().position_rad)
            self._send(self.range.last)
            if self.sensors:
                self.bus.write_raw("torque_enable", np.zeros(len(self.sensors), dtype=np.int64),
                                   [m.name for m in self.sensors])
            self.set_torque(True)
        except BaseException:
            self._safe_stop()
            self.bus.close()
            raise
        return self

    def close(self) -> None:
        self._safe_stop()
        self.bus.close()

    def __enter__(self) -> "BusRobot":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- Robot interface ---------------------------------------------------------------------
    def read(self) -> JointState:
        n = len(self.motors)
        raw = self.bus.read_block(self.motors + self.sensors, self._state_registers)
        table = self.bus.tables[self.motors[0].name]
        direction = np.concatenate([self.direction, self.sensor_direction])
        position = ticks_to_joint_rad(raw["present_position"], direction)
        velocity = direction * table["present_velocity"].to_si(raw["present_velocity"])
        effort = self.direction * table[self._effort_register].to_si(raw[self._effort_register][:n])
        return JointState(time.monotonic(), position[:n], velocity[:n], effort, self._faults(),
                          position[n:], velocity[n:])

    def now_s(self) -> float:
        return time.monotonic()

    def sleep_until(self, t_s: float) -> float:
        return sleep_until(t_s)

    def write(self, position_rad: np.ndarray) -> np.ndarray:
        """Send ``position_rad`` clipped to the joint range; returns what was sent. Raises
        ``ValueError`` for a wrong shape or a non-finite entry (nothing is sent)."""
        command = self.range(position_rad)
        if not self.read_only:
            self._send(command)
        return command

    # -- helpers -----------------------------------------------------------------------------
    def set_torque(self, on: bool) -> None:
        self.bus.write_raw("torque_enable", np.full(len(self.motors), int(on)), self._joint_names)
        self.torque_on = on

    def _send(self, command_rad: np.ndarray) -> None:
        self.bus.write_raw("goal_position", joint_rad_to_ticks(command_rad, self.direction), self._joint_names)

    def _faults(self) -> tuple[tuple[str, ...], ...]:
        bits = self.bus.fault_bits
        if not any(bits.get(m.id, 0) for m in self.motors):
            return tuple(() for _ in self.motors)
        faults = []
        for motor in self.motors:
            if not bits.get(motor.id, 0):
                faults.append(())
            elif hasattr(self.bus, "hardware_errors"):
                faults.append(self.bus.hardware_errors(motor.id, motor.model) or ("ALERT",))
            else:
                faults.append(self.bus.fault_flags(motor.id))
        return tuple(faults)

    def hold(self) -> np.ndarray:
        """Command every joint to stay where it is (the watchdog's first stage); returns that command."""
        self.range.reset(self.read().position_rad)
        if not self.read_only:
            self._send(self.range.last)
        return self.range.last

    def torque_off(self) -> None:
        """Torque off on every motor that answers (the watchdog's second stage); never raises."""
        self._safe_stop()

    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray | None = None,
                  rng: np.random.Generator | None = None) -> None:
        raise NotImplementedError(f"robot {self.config.name} is hardware: it cannot be put in a state, "
                                  f"only moved there")

    def render(self, markers: dict[str, np.ndarray] | None = None) -> np.ndarray:
        raise NotImplementedError(f"robot {self.config.name} is hardware: only the twin renders")

    def _safe_stop(self) -> None:
        """Torque off on every motor that still answers; never raises."""
        if self.read_only:
            return
        try:
            self.bus.write_raw("torque_enable", np.zeros(len(self.motors), dtype=np.int64), self._joint_names)
            self.torque_on = False
        except (DriverError, OSError) as exc:
            log.error("robot %s: could not turn torque off: %s", self.config.name, exc)

    def _check_models(self) -> None:
        for motor in self.motors + self.sensors:
            result = self.bus.ping(motor.id)
            expected = self.bus.tables[motor.name].model_number
            if result.model_number != expected:
                raise ConfigurationError(
                    f"motor {motor.name!r} (id {motor.id}) is a {result.model or 'unknown model'} "
                    f"(model number {result.model_number}); the config says {motor.model} ({expected})")

    def _check_calibration(self) -> None:
        if self.homing_offsets is None:
            return
        held = self.bus.read_raw("homing_offset", self._joint_names)
        bad = [(m, int(h), int(c)) for m, h, c in zip(self.motors, held, self.homing_offsets) if h != c]
        if bad:
            details = "; ".join(f"{m.name} (id {m.id}) holds {h}, calibration says {c}" for m, h, c in bad)
            raise CalibrationMismatchError(
                f"motor homing offsets differ from {self.config.calibration}: {details}. "
                f"Recalibrate with robot-rl motors calibrate, or use the matching calibration file")

    def _program_limits(self) -> None:
        """Program the servo's own position and effort limits (layer 2 of the safety design).
        Only registers that differ are written (EEPROM wears), with torque off."""
        low = np.clip(joint_rad_to_ticks(self.spec.position_min_rad, self.direction), 0, 4095)
        high = np.clip(joint_rad_to_ticks(self.spec.position_max_rad, self.direction), 0, 4095)
        wanted = {"min_position_limit": np.minimum(low, high), "max_position_limit": np.maximum(low, high)}
        table = self.bus.tables[self.motors[0].name]
        effort_register = "current_limit" if "current_limit" in table else (
            "torque_limit" if "torque_limit" in table else None)
        efforts = [j.effort_max for j in self.config.joints]
        if effort_register and all(e is not None for e in efforts):
            wanted[effort_register] = table[effort_register].from_si(np.array(efforts, dtype=np.float64))
        held = self.bus.read_block(self.motors, list(wanted))
        for i, motor in enumerate(self.motors):
            for register, values in wanted.items():
                if held[register][i] != values[i]:
                    if self.bus.tables[motor.name][register].area is Area.EEPROM:
                        self.bus.write_register_one(motor.id, motor.model, "torque_enable", 0)
                    self.bus.write_register_one(motor.id, motor.model, register, int(values[i]))
