"""Control table of the Feetech STS3215, from Feetech's STS/SMS memory table.

Signed registers use sign-magnitude with the sign in bit 15 (positions, speeds), bit 11
(homing offset) or bit 10 (load). Speeds are in encoder steps per second.
"""

from __future__ import annotations

import math

from drivers.registers import Access, Area, ControlTable, Encoding, Register

TICKS_PER_TURN = 4096
RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN
ACCEL_UNIT_RAD_S2 = 100 * RAD_PER_TICK  # 100 steps/s^2

# Baud Rate register (address 6) of the STS/SMS series.
STS_BAUD_RATES = {0: 1_000_000, 1: 500_000, 2: 250_000, 3: 128_000, 4: 115_200,
                  5: 76_800, 6: 57_600, 7: 38_400}

E, R = Area.EEPROM, Area.RAM
RO = Access.R
SM = Encoding.SIGN_MAGNITUDE


def _sts(model: str, model_number: int) -> ControlTable:
    regs = [
        Register("firmware_major", 0, 1, E, RO),
        Register("firmware_minor", 1, 1, E, RO),
        Register("model_number", 3, 2, E, RO),
        Register("id", 5, 1, E, max_raw=253),
        Register("baud_rate", 6, 1, E, max_raw=7),
        Register("return_delay_time", 7, 1, E, unit="s", scale=2e-6, max_raw=254),
        Register("status_return_level", 8, 1, E, max_raw=1),
        Register("min_position_limit", 9, 2, E, unit="rad", scale=RAD_PER_TICK, max_raw=4095),
        Register("max_position_limit", 11, 2, E, unit="rad", scale=RAD_PER_TICK, max_raw=4095),
        Register("max_temperature_limit", 13, 1, E, unit="degC", max_raw=100),
        Register("max_voltage_limit", 14, 1, E, unit="V", scale=0.1),
        Register("min_voltage_limit", 15, 1, E, unit="V", scale=0.1),
        Register("max_torque_limit", 16, 2, E, unit="fraction", scale=1e-3, max_raw=1000),
        Register("phase", 18, 1, E),
        Register("unloading_condition", 19, 1, E),
        Register("led_alarm_condition", 20, 1, E),
        Register("p_coefficient", 21, 1, E),
        Register("d_coefficient", 22, 1, E),
        Register("i_coefficient", 23, 1, E),
        Register("minimum_startup_force", 24, 2, E, max_raw=1000),
        Register("cw_dead_zone", 26, 1, E),
        Register("ccw_dead_zone", 27, 1, E),
        Register("protection_current", 28, 2, E, unit="A", scale=6.5e-3, max_raw=511),
        Register("angular_resolution", 30, 1, E, min_raw=1, max_raw=3),
        Register("homing_offset", 31, 2, E, encoding=SM, sign_bit=11, unit="rad", scale=RAD_PER_TICK),
        Register("operating_mode", 33, 1, E, max_raw=3),
        Register("protective_torque", 34, 1, E, max_raw=100),
        Register("protection_time", 35, 1, E, unit="s", scale=0.01),
        Register("overload_torque", 36, 1, E, max_raw=100),
        Register("velocity_p_gain", 37, 1, E),
        Register("overcurrent_protection_time", 38, 1, E, unit="s", scale=0.01),
        Register("velocity_i_gain", 39, 1, E),
        Register("torque_enable", 40, 1, R, max_raw=128),
        Register("acceleration", 41, 1, R, unit="rad/s^2", scale=ACCEL_UNIT_RAD_S2, max_raw=254),
        Register("goal_position", 42, 2, R, encoding=SM, sign_bit=15, unit="rad", scale=RAD_PER_TICK),
        Register("goal_time", 44, 2, R, unit="s", scale=1e-3),
        Register("goal_velocity", 46, 2, R, encoding=SM, sign_bit=15, unit="rad/s", scale=RAD_PER_TICK),
        Register("torque_limit", 48, 2, R, unit="fraction", scale=1e-3, max_raw=1000),
        Register("lock", 55, 1, R, max_raw=1),
        Register("present_position", 56, 2, R, RO, encoding=SM, sign_bit=15, unit="rad", scale=RAD_PER_TICK),
        Register("present_velocity", 58, 2, R, RO, encoding=SM, sign_bit=15, unit="rad/s", scale=RAD_PER_TICK),
        Register("present_load", 60, 2, R, RO, encoding=SM, sign_bit=10, unit="fraction", scale=1e-3),
        Register("present_voltage", 62, 1, R, RO, unit="V", scale=0.1),
        Register("present_temperature", 63, 1, R, RO, unit="degC"),
        Register("status", 65, 1, R, RO),
        Register("moving", 66, 1, R, RO),
        Register("present_current", 69, 2, R, RO, encoding=SM, sign_bit=15, unit="A", scale=6.5e-3),
    ]
    # Stall torque 2.94 N.m (30 kg.cm at 12 V) at a stall current of 2.7 A: an estimate.
    return ControlTable(model, model_number, regs, ticks_per_turn=TICKS_PER_TURN, homing_offset_sign=-1,
                        baud_rates=STS_BAUD_RATES, torque_constant_nm_per_a=2.94 / 2.7)


STS3215 = _sts("STS3215", 777)

MODELS: dict[str, ControlTable] = {t.model: t for t in (STS3215,)}
