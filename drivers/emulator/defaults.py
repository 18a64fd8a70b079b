"""Factory defaults of each emulated model's control table, as raw register values.

Values follow the vendors' control-table pages (ROBOTIS e-Manual for the X series, Feetech's
STS/SMS memory table). Firmware versions are typical shipped versions, not the only ones.
Present values (position, velocity, load, voltage, temperature) are not listed: the emulator
fills them from the plant. ``goal_position`` is set to the present position at power-on.
"""

from __future__ import annotations

from drivers.errors import ConfigurationError
from drivers.registers import ControlTable

# Registers of the Dynamixel X series whose defaults are common to the models emulated here.
_X_COMMON: dict[str, int] = {
    "model_information": 0,
    "id": 1,
    "baud_rate": 1,  # 57,600 baud
    "return_delay_time": 250,  # 500 us
    "drive_mode": 0,
    "operating_mode": 3,  # position control
    "secondary_id": 255,  # disabled
    "protocol_type": 2,
    "homing_offset": 0,
    "moving_threshold": 10,
    "pwm_limit": 885,
    "max_position_limit": 4095,
    "min_position_limit": 0,
    "shutdown": 52,  # overheating, electrical shock, overload
    "torque_enable": 0,
    "led": 0,
    "status_return_level": 2,  # reply to every instruction
    "registered_instruction": 0,
    "hardware_error_status": 0,
    "velocity_i_gain": 1920,
    "velocity_p_gain": 100,
    "position_d_gain": 0,
    "position_i_gain": 0,
    "position_p_gain": 800,
    "feedforward_2nd_gain": 0,
    "feedforward_1st_gain": 0,
    "bus_watchdog": 0,
    "goal_pwm": 885,
    "goal_velocity": 0,
    "profile_acceleration": 0,
    "profile_velocity": 0,
}

FACTORY_DEFAULTS: dict[str, dict[str, int]] = {
    "XM430-W350": {**_X_COMMON, "firmware_version": 48, "temperature_limit": 80, "max_voltage_limit": 160,
                   "min_voltage_limit": 95, "current_limit": 1193, "goal_current": 1193,
                   "velocity_limit": 200},
    "XL430-W250": {**_X_COMMON, "firmware_version": 45, "temperature_limit": 72, "max_voltage_limit": 140,
                   "min_voltage_limit": 60, "velocity_limit": 265, "position_p_gain": 640,
                   "velocity_i_gain": 1000},
    "XL330-M288": {**_X_COMMON, "firmware_version": 46, "temperature_limit": 70, "max_voltage_limit": 70,
                   "min_voltage_limit": 35, "current_limit": 1750, "goal_current": 1750,
                   "velocity_limit": 445, "shutdown": 53, "position_p_gain": 400,
                   "velocity_i_gain": 1600, "velocity_p_gain": 180},
    "STS3215": {
        "firmware_major": 3, "firmware_minor": 10, "id": 1, "baud_rate": 0,  # 1,000,000 baud
        "return_delay_time": 0, "status_return_level": 1, "min_position_limit": 0,
        "max_position_limit": 4095, "max_temperature_limit": 70, "max_voltage_limit": 80,
        "min_voltage_limit": 40, "max_torque_limit": 1000, "phase": 12, "unloading_condition": 44,
        "led_alarm_condition": 47, "p_coefficient": 32, "d_coefficient": 32, "i_coefficient": 0,
        "minimum_startup_force": 16, "cw_dead_zone": 1, "ccw_dead_zone": 1, "protection_current": 500,
        "angular_resolution": 1, "homing_offset": 0, "operating_mode": 0, "protective_torque": 20,
        "protection_time": 200, "overload_torque": 80, "velocity_p_gain": 10,
        "overcurrent_protection_time": 200, "velocity_i_gain": 200, "torque_enable": 0, "acceleration": 0,
        "goal_time": 0, "goal_velocity": 0, "torque_limit": 1000, "lock": 1,
    },
}


def factory_defaults(table: ControlTable) -> dict[str, int]:
    """Register name -> raw factory value for ``table``'s model, including ``model_number``.

    Raises :class:`ConfigurationError` for a model without defaults, or when a default names
    a register the table lacks (a table and this file out of step).
    """
    try:
        values = dict(FACTORY_DEFAULTS[table.model])
    except KeyError:
        raise ConfigurationError(f"the emulator has no factory defaults for model {table.model!r}; "
                                 f"known: {', '.join(sorted(FACTORY_DEFAULTS))}") from None
    values["model_number"] = table.model_number
    unknown = [name for name in values if name not in table]
    if unknown:
        raise ConfigurationError(f"factory defaults of {table.model} name registers the table lacks: {unknown}")
    return values
