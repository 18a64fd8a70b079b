"""Emulated servo buses ("virtual hardware"): Dynamixel Protocol 2.0 and Feetech STS servos
answering on a pseudo-terminal exactly as real ones answer on a serial adapter, so that the
real drivers, vendor SDKs and tools run unchanged against them. See ``docs/virtual-bus.md``.
"""

from drivers.emulator.bus import BusStats, VirtualBus
from drivers.emulator.faults import FaultConfig
from drivers.emulator.plant import Plant, PlantCommand, PlantState
from drivers.emulator.servo_model import SERVO_PARAMS, ServoModelPlant, ServoParams, params_for
from drivers.emulator.spec import ServoSpec

__all__ = ["BusStats", "FaultConfig", "Plant", "PlantCommand", "PlantState", "SERVO_PARAMS", "ServoModelPlant",
           "ServoParams", "ServoSpec", "VirtualBus", "params_for"]
