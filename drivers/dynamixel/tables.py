"""Control tables of the Dynamixel X series, from the ROBOTIS e-Manual pages of each model.

The X series share one layout; models differ in which registers exist (current sensing) and
in the scale of some units. Values in SI: positions in rad, velocities in rad/s, currents in
A, voltages in V, temperatures in degC, times in s.
"""

from __future__ import annotations

import math

from drivers.registers import Access, Area, ControlTable, Encoding, Register

TICKS_PER_TURN = 4096
RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN  # 0.088 deg
RAD_S_PER_VELOCITY_UNIT = 0.229 * 2 * math.pi / 60  # 0.229 rpm
RAD_S2_PER_ACCEL_UNIT = 214.577 * 2 * math.pi / 3600  # 214.577 rev/min^2
EXTENDED_POSITION_LIMIT = 1_048_575  # extended position mode range, +/-256 turns

# Baud Rate register (address 8) of the X series.
X_BAUD_RATES = {0: 9_600, 1: 57_600, 2: 115_200, 3: 1_000_000, 4: 2_000_000,
                5: 3_000_000, 6: 4_000_000, 7: 4_500_000}

E, R = Area.EEPROM, Area.RAM
RO = Access.R
S = Encoding.TWOS_COMPLEMENT


def _x_series(model: str, model_number: int, *, current_a_per_unit: float | None,
              velocity_limit_max: int, goal_current_max: int | None,
              torque_constant_nm_per_a: float | None) -> ControlTable:
    regs = [
        Register("model_number", 0, 2, E, RO),
        Register("model_information", 2, 4, E, RO),
        Register("firmware_version", 6, 1, E, RO),
        Register("id", 7, 1, E, max_raw=252),
        Register("baud_rate", 8, 1, E, max_raw=7),
        Register("return_delay_time", 9, 1, E, unit="s", scale=2e-6, max_raw=254),
        Register("drive_mode", 10, 1, E),
        Register("operating_mode", 11, 1, E, max_raw=16),
        Register("secondary_id", 12, 1, E, max_raw=255),
        Register("protocol_type", 13, 1, E, min_raw=1, max_raw=2),
        Register("homing_offset", 20, 4, E, encoding=S, unit="rad", scale=RAD_PER_TICK,
                 min_raw=-1_044_479, max_raw=1_044_479),
        Register("moving_threshold", 24, 4, E, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT, max_raw=1023),
        Register("temperature_limit", 31, 1, E, unit="degC", max_raw=100),
        Register("max_voltage_limit", 32, 2, E, unit="V", scale=0.1, max_raw=160),
        Register("min_voltage_limit", 34, 2, E, unit="V", scale=0.1, max_raw=160),
        Register("pwm_limit", 36, 2, E, unit="", scale=1 / 885, max_raw=885),
        Register("velocity_limit", 44, 4, E, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT,
                 max_raw=velocity_limit_max),
        Register("max_position_limit", 48, 4, E, unit="rad", scale=RAD_PER_TICK, max_raw=4095),
        Register("min_position_limit", 52, 4, E, unit="rad", scale=RAD_PER_TICK, max_raw=4095),
        Register("shutdown", 63, 1, E),
        Register("torque_enable", 64, 1, R, max_raw=1),
        Register("led", 65, 1, R, max_raw=1),
        Register("status_return_level", 68, 1, R, max_raw=2),
        Register("registered_instruction", 69, 1, R, RO),
        Register("hardware_error_status", 70, 1, R, RO),
        Register("velocity_i_gain", 76, 2, R, max_raw=16383),
        Register("velocity_p_gain", 78, 2, R, max_raw=16383),
        Register("position_d_gain", 80, 2, R, max_raw=16383),
        Register("position_i_gain", 82, 2, R, max_raw=16383),
        Register("position_p_gain", 84, 2, R, max_raw=16383),
        Register("feedforward_2nd_gain", 88, 2, R, max_raw=16383),
        Register("feedforward_1st_gain", 90, 2, R, max_raw=16383),
        Register("bus_watchdog", 98, 1, R, encoding=S, unit="s", scale=0.02, min_raw=-1, max_raw=127),
        Register("goal_pwm", 100, 2, R, encoding=S, scale=1 / 885, min_raw=-885, max_raw=885),
        Register("goal_velocity", 104, 4, R, encoding=S, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT,
                 min_raw=-velocity_limit_max, max_raw=velocity_limit_max),
        Register("profile_acceleration", 108, 4, R, unit="rad/s^2", scale=RAD_S2_PER_ACCEL_UNIT,
                 max_raw=32767),
        Register("profile_velocity", 112, 4, R, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT, max_raw=32767),
        Register("goal_position", 116, 4, R, encoding=S, unit="rad", scale=RAD_PER_TICK,
                 min_raw=-EXTENDED_POSITION_LIMIT, max_raw=EXTENDED_POSITION_LIMIT),
        Register("realtime_tick", 120, 2, R, RO, unit="s", scale=1e-3),
        Register("moving", 122, 1, R, RO),
        Register("moving_status", 123, 1, R, RO),
        Register("present_pwm", 124, 2, R, RO, encoding=S, scale=1 / 885),
        Register("present_velocity", 128, 4, R, RO, encoding=S, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT),
        Register("present_position", 132, 4, R, RO, encoding=S, unit="rad", scale=RAD_PER_TICK),
        Register("velocity_trajectory", 136, 4, R, RO, encoding=S, unit="rad/s", scale=RAD_S_PER_VELOCITY_UNIT),
        Register("position_trajectory", 140, 4, R, RO, encoding=S, unit="rad", scale=RAD_PER_TICK),
        Register("present_input_voltage", 144, 2, R, RO, unit="V", scale=0.1),
        Register("present_temperature", 146, 1, R, RO, unit="degC"),
    ]
    if current_a_per_unit is not None:
        regs += [
            Register("current_limit", 38, 2, E, unit="A", scale=current_a_per_unit, max_raw=goal_current_max),
            Register("goal_current", 102, 2, R, encoding=S, unit="A", scale=current_a_per_unit,
                     min_raw=-(goal_current_max or 0), max_raw=goal_current_max),
            Register("present_current", 126, 2, R, RO, encoding=S, unit="A", scale=current_a_per_unit),
        ]
    else:  # no current sensor: the register at 126 reports load in 0.1 % of maximum torque
        regs.append(Register("present_load", 126, 2, R, RO, encoding=S, unit="fraction", scale=1e-3))
    return ControlTable(model, model_number, regs, ticks_per_turn=TICKS_PER_TURN, homing_offset_sign=1,
                        baud_rates=X_BAUD_RATES, torque_constant_nm_per_a=torque_constant_nm_per_a)


# Torque constants: stall torque / stall current of the e-Manual's performance table,
# an estimate (the real curve is not linear near stall).
XL330_M288 = _x_series("XL330-M288", 1200, current_a_per_unit=1e-3, velocity_limit_max=2047,
                       goal_current_max=1750, torque_constant_nm_per_a=0.52 / 1.47)
XL430_W250 = _x_series("XL430-W250", 1060, current_a_per_unit=None, velocity_limit_max=1023,
                       goal_current_max=None, torque_constant_nm_per_a=None)
XM430_W350 = _x_series("XM430-W350", 1020, current_a_per_unit=2.69e-3, velocity_limit_max=1023,
                       goal_current_max=1193, torque_constant_nm_per_a=4.1 / 2.3)

MODELS: dict[str, ControlTable] = {t.model: t for t in (XL330_M288, XL430_W250, XM430_W350)}
