"""An emulated Feetech STS servo (STS3215 memory table semantics).

- The status error byte carries only protection bits (voltage, angle sensor, overheat,
  overcurrent, overload); there are no instruction error codes. A write the servo cannot
  take (read-only register, value outside the register's range, past the memory) is ignored
  and still answered.
- EEPROM writes are accepted whatever the torque. With Lock (55) = 0 they are persisted; with
  Lock = 1 (the power-on value) they take effect now but a power cycle reverts them.
- Injected protection bits show in the Status register (65) and every status packet; bits in
  the Unloading Condition mask (19) switch torque off and keep it off until cleared.
- Positions: present = actual - homing offset, wrapped to 0..4095; the goal is clamped to
  the position limits when max > min. Torque Enable = 128 sets the homing offset so that the
  present position reads 2048 (the "middle position" calibration).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from drivers.emulator.layout import Span
from drivers.emulator.servo import VirtualServo
from drivers.registers import Access

MEMORY_SIZE = 256  # addresses are one byte; unlisted bytes read as stored (zero at power-on)
REFUSED = 1  # private code: the write is ignored (Feetech has no error code for it)
CALIBRATE_MIDDLE = 128
MIDDLE_TICKS = 2048
MOVING_STEPS_S = 10
CURRENT_A_PER_UNIT = 6.5e-3


class FeetechServo(VirtualServo):
    present_registers = ("present_position", "present_velocity", "present_load", "present_voltage",
                         "present_temperature", "moving", "present_current")
    persist_always = False

    def make_hooks(self) -> dict[str, Callable[[], None]]:
        hooks = super().make_hooks()
        hooks["torque_enable"] = self._torque_written
        for name in ("min_position_limit", "max_position_limit", "operating_mode"):
            hooks[name] = self.load_goal
        for name in ("goal_velocity", "acceleration", "torque_limit"):
            hooks[name] = self.load_command
        return hooks

    def persists_eeprom(self) -> bool:
        return self.value("lock") == 0

    def power_on(self) -> None:
        super().power_on()
        self._store("torque_limit", self.value("max_torque_limit"))
        self.load_command()

    # -- checks ------------------------------------------------------------------------------------
    def read(self, address: int, length: int) -> tuple[int, bytes]:
        if length <= 0:
            return REFUSED, b""
        self.refresh(address, length)
        data = bytes(self.memory[address:address + length])
        return 0, data + bytes(length - len(data))

    def read_error(self, span: Span) -> int:
        return 0

    def write_error(self, span: Span, address: int, data: bytes) -> int:
        if span.out_of_range:
            return REFUSED
        for reg in span.registers:
            if reg.access is Access.R:
                return REFUSED
            if reg.address >= address and reg.address + reg.size <= address + len(data):
                raw = reg.decode(data[reg.address - address:reg.address - address + reg.size])
                lo, hi = self.layout.limits[reg.name]
                if not lo <= raw <= hi:
                    return REFUSED
        return 0

    # -- status and errors -------------------------------------------------------------------------
    def status_error(self) -> int:
        return self.hardware_error

    def shutdown_mask(self) -> int:
        return self.value("unloading_condition")

    def publish_hardware_error(self) -> None:
        self._store("status", self.hardware_error)

    # -- torque, goal, profile ---------------------------------------------------------------------
    def _torque_written(self) -> None:
        value = self.value("torque_enable")
        if value == CALIBRATE_MIDDLE:
            self._calibrate_middle()
            value = int(self.torque_on)
        self.set_torque(bool(value))

    def _calibrate_middle(self) -> None:
        actual = round(self.shafts.position_rad[self.index] / self.rad_per_tick) % self.table.ticks_per_turn
        self._store("homing_offset", actual - MIDDLE_TICKS)
        self.saved_eeprom = bytes(self.memory[:self.layout.eeprom_end])
        self._generation = -1
        self.load_goal()

    def _limited_goal(self) -> int:
        goal = self.value("goal_position")
        lo, hi = self.value("min_position_limit"), self.value("max_position_limit")
        return min(max(goal, lo), hi) if hi > lo else goal

    def load_goal(self) -> None:
        ticks = self._limited_goal() + self.value("homing_offset")
        self.command.goal_position_rad[self.index] = ticks * self.rad_per_tick

    def load_command(self) -> None:
        self.load_goal()
        i, table = self.index, self.table
        speed = abs(self.value("goal_velocity"))
        self.command.max_velocity_rad_s[i] = table["goal_velocity"].to_si(speed) if speed else math.inf
        accel = self.value("acceleration")
        self.command.max_acceleration_rad_s2[i] = table["acceleration"].to_si(accel) if accel else math.inf
        self.command.effort_limit[i] = self.value("torque_limit") / 1000

    # -- present values ----------------------------------------------------------------------------
    def write_present(self, position_rad: float, velocity_rad_s: float, torque_nm: float,
                      current_a: float, now_s: float, names: frozenset[str] | set[str]) -> None:
        put, p, values = self.put, self.params, self._values
        if "present_position" in names:
            present = round(position_rad / self.rad_per_tick) - values["homing_offset"]
            if values["operating_mode"] == 0:
                present %= self.table.ticks_per_turn
            put("present_position", present)
        speed = round(velocity_rad_s / self.rad_per_tick)
        if "present_velocity" in names:
            put("present_velocity", speed)
        if "present_load" in names:
            put("present_load", round(1000 * torque_nm / p.stall_torque_nm))
        if "present_current" in names:
            put("present_current", round(current_a / CURRENT_A_PER_UNIT))
        if "present_voltage" in names:
            put("present_voltage", round(10 * (p.supply_voltage_v - 0.1 * abs(current_a))))
        if "present_temperature" in names:
            put("present_temperature", round(self.temperature_c))
        if "moving" in names:
            put("moving", int(abs(speed) > MOVING_STEPS_S))
