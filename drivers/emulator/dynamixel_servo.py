"""An emulated Dynamixel X-series servo (Protocol 2.0 semantics of its control table).

- Every accepted EEPROM write is persisted; EEPROM writes while torque is on are refused
  with ACCESS, as are writes to read-only or undefined addresses and reads past the table.
- A write must cover whole registers (else DATA_LENGTH); a raw value outside the register's
  range is DATA_RANGE; a goal beyond its limit register (position limits in position mode,
  velocity / current / PWM limits) is DATA_LIMIT. A refused write changes nothing.
- Hardware Error Status (70) holds injected errors; while it is non-zero every status packet
  has the ALERT bit (0x80). Errors in the Shutdown mask (63) switch torque off and keep it
  off until REBOOT.
- Positions: present = actual + homing offset. Operating modes 3 (position), 4 (extended
  position) and 5 (current-based position) move to the goal; other modes hold the shaft.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from drivers.dynamixel.protocol import ALERT_BIT, StatusCode
from drivers.emulator.layout import Span
from drivers.emulator.servo import VirtualServo
from drivers.registers import Access, Area

POSITION_MODES = frozenset({3, 4, 5})
PWM_FULL_SCALE = 885
IN_POSITION_TICKS = 20  # moving status "in position" band

# Goal registers whose magnitude may not exceed a limit register: goal name -> limit name.
_GOAL_LIMITS = {"goal_velocity": "velocity_limit", "goal_current": "current_limit", "goal_pwm": "pwm_limit"}


class DynamixelServo(VirtualServo):
    present_registers = ("present_position", "present_velocity", "present_current", "present_load",
                         "present_pwm", "present_input_voltage", "present_temperature", "moving",
                         "moving_status", "realtime_tick", "velocity_trajectory", "position_trajectory")
    persist_always = True

    def prepare(self) -> None:
        table = self.table
        self._velocity_unit = table["present_velocity"].scale
        self._current_unit = table["present_current"].scale if "present_current" in table else 1.0

    def make_hooks(self) -> dict[str, Callable[[], None]]:
        hooks = super().make_hooks()
        for name in ("operating_mode", "min_position_limit", "max_position_limit"):
            hooks[name] = self.load_goal
        for name in ("profile_velocity", "profile_acceleration", "velocity_limit", "current_limit",
                     "pwm_limit", "drive_mode"):
            hooks[name] = self.load_command
        return hooks

    # -- checks ----------------------------------------------------------------------------------
    def read_error(self, span: Span) -> int:
        return StatusCode.ACCESS if span.out_of_range else 0

    def write_error(self, span: Span, address: int, data: bytes) -> int:
        if span.out_of_range or span.undefined:
            return StatusCode.ACCESS
        if span.partial:
            return StatusCode.DATA_LENGTH
        for reg in span.registers:
            if reg.access is Access.R or (reg.area is Area.EEPROM and self.torque_on):
                return StatusCode.ACCESS
            raw = reg.decode(data[reg.address - address:reg.address - address + reg.size])
            lo, hi = self.layout.limits[reg.name]
            if not lo <= raw <= hi:
                return StatusCode.DATA_RANGE
            if self._beyond_limit(reg.name, raw):
                return StatusCode.DATA_LIMIT
        return 0

    def _beyond_limit(self, name: str, raw: int) -> bool:
        if name == "goal_position":
            if self.value("operating_mode") != 3:
                return False
            return not self.value("min_position_limit") <= raw <= self.value("max_position_limit")
        limit = _GOAL_LIMITS.get(name)
        if limit is None or limit not in self.table:
            return False
        return abs(raw) > self.value(limit)

    # -- status and errors -----------------------------------------------------------------------
    def status_error(self) -> int:
        return ALERT_BIT if self.hardware_error else 0

    def shutdown_mask(self) -> int:
        return self.value("shutdown")

    def publish_hardware_error(self) -> None:
        self._store("hardware_error_status", self.hardware_error)

    # -- command ---------------------------------------------------------------------------------
    def load_goal(self) -> None:
        i = self.index
        if self.value("operating_mode") in POSITION_MODES:
            ticks = self.value("goal_position") - self.value("homing_offset")
            self.command.goal_position_rad[i] = ticks * self.rad_per_tick
        else:
            self.command.goal_position_rad[i] = self.shafts.position_rad[i]

    def load_command(self) -> None:
        self.load_goal()
        i, table = self.index, self.table
        v_limit = table["velocity_limit"].to_si(self.value("velocity_limit"))
        profile_v = self.value("profile_velocity")
        v_max = min(v_limit, table["profile_velocity"].to_si(profile_v)) if profile_v else v_limit
        self.command.max_velocity_rad_s[i] = v_max if v_max > 0 else math.inf
        profile_a = self.value("profile_acceleration")
        self.command.max_acceleration_rad_s2[i] = (
            table["profile_acceleration"].to_si(profile_a) if profile_a else math.inf)
        if "current_limit" in table:
            limit_a = table["current_limit"].to_si(self.value("current_limit"))
            self.command.effort_limit[i] = min(1.0, limit_a / self.params.stall_current_a)
        else:
            self.command.effort_limit[i] = self.value("pwm_limit") / PWM_FULL_SCALE

    # -- present values --------------------------------------------------------------------------
    def write_present(self, position_rad: float, velocity_rad_s: float, torque_nm: float,
                      current_a: float, now_s: float, names: frozenset[str] | set[str]) -> None:
        put, p, values = self.put, self.params, self._values
        present = round(position_rad / self.rad_per_tick) + values["homing_offset"]
        if "present_position" in names:
            put("present_position", present)
        velocity_raw = round(velocity_rad_s / self._velocity_unit)
        if "present_velocity" in names:
            put("present_velocity", velocity_raw)
        if "velocity_trajectory" in names:
            put("velocity_trajectory", velocity_raw)
        if "present_current" in names:
            put("present_current", round(current_a / self._current_unit))
        if "present_load" in names:
            put("present_load", round(1000 * torque_nm / p.stall_torque_nm))
        if "present_pwm" in names:
            effort = velocity_rad_s / p.max_velocity_rad_s + torque_nm / p.stall_torque_nm
            put("present_pwm", round(max(-1.0, min(1.0, effort)) * PWM_FULL_SCALE) if self.torque_on else 0)
        if "present_input_voltage" in names:
            put("present_input_voltage", round(10 * (p.supply_voltage_v - 0.1 * abs(current_a))))
        if "present_temperature" in names:
            put("present_temperature", round(self.temperature_c))
        moving = abs(velocity_raw) > values["moving_threshold"]
        if "moving" in names:
            put("moving", int(moving))
        goal = values["goal_position"] if self.torque_on else present
        if "moving_status" in names:
            put("moving_status", int(abs(goal - present) <= IN_POSITION_TICKS) | (int(moving) << 1))
        if "position_trajectory" in names:
            put("position_trajectory", goal)
        if "realtime_tick" in names:
            put("realtime_tick", int(now_s * 1000) % 32768)
