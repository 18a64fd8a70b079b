"""Position-loop parameters of the serial-bus servos, in the units MuJoCo takes.

A hobby servo in position mode is a DC motor behind a gearbox, driven by a proportional
controller that sets the PWM duty from the position error. Seen from the output shaft:

    torque = clip(kp * (goal - q), -max_torque, +max_torque) - damping * dq
             - frictionloss * sign(dq) - armature * ddq

``kp`` is the slope of the duty-from-error law times the torque at full duty, ``damping``
the back-EMF slope of the torque-speed line, ``armature`` the rotor inertia reflected
through the gearbox (rotor inertia x gear ratio squared), ``frictionloss`` the gearbox's dry
friction. In MJCF these are the ``position`` actuator's ``kp`` and ``forcerange`` and the
joint's ``damping``, ``armature`` and ``frictionloss``; ``sim/models/*/*.xml`` carry the same
numbers and a test checks the compiled models against this module.

Each constant is written out rounded to four significant figures (so the XML can hold the
same literal), and is derived from public figures by the small functions below; the test
``tests/sim/test_models.py`` recomputes every derived value. Sources, per field:

- Datasheet figures (stall torque, no-load speed, gear ratio, mass): Feetech STS3215 C001 and
  C018 product pages, ROBOTIS e-Manual XM430-W350, ROBEL paper (Ahn et al., CoRL 2019).
- Duty-from-error slope of the STS firmware, armature and friction of the STS3215: the
  system identification of Rhoban's BAM ("Better Actuator Models", Duclusaud & Passault
  2025, ``bam/params/feetech_sts3215_7_4V/m1.json`` and ``bam/feetech/actuator.py``) and of
  K-Scale Labs (``kscalelabs/sysid``, ``data/feetech/STS_3215_12V``).
- XM430-W350 rotor inertia and friction: estimates (no published identification found); see
  ``sim/models/dclaw/README.md`` for the reasoning and the range of plausible values.

Only the standard library is used: the twin (``sim``) and the emulated bus
(``drivers.emulator.servo_model``) both take their numbers from here, so the two agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KGF_CM_TO_NM = 0.0980665
"""One kilogram-force centimetre in newton metres (datasheets give torque in kg.cm)."""


@dataclass(frozen=True)
class ServoParams:
    """One servo model's position loop as seen from the output shaft, SI units.

    Fields:
        model: the servo's catalogue name and variant.
        supply_voltage_v: the voltage the torque and speed figures hold at.
        gear_ratio: motor turns per output turn.
        mass_kg: the servo's mass (already inside each link's mass in the MJCF).
        max_torque_nm: stall torque at ``supply_voltage_v``; the actuator's ``forcerange``.
        max_velocity_rad_s: no-load output speed at ``supply_voltage_v``.
        kp_nm_per_rad: position gain, torque per rad of error below saturation.
        saturation_error_rad: the error at which the firmware's duty reaches its maximum,
            so ``kp_nm_per_rad * saturation_error_rad == max_torque_nm``.
        damping_nm_s_per_rad: back-EMF slope, ``max_torque_nm / max_velocity_rad_s``.
        armature_kg_m2: reflected rotor inertia, ``rotor_inertia_kg_m2 * gear_ratio**2``.
        rotor_inertia_kg_m2: rotor (plus first gear stage) inertia on the motor side.
        frictionloss_nm: dry (Coulomb) friction at the output.
        ticks_per_turn: encoder counts per output turn.
    """

    model: str
    supply_voltage_v: float
    gear_ratio: float
    mass_kg: float
    max_torque_nm: float
    max_velocity_rad_s: float
    kp_nm_per_rad: float
    saturation_error_rad: float
    damping_nm_s_per_rad: float
    armature_kg_m2: float
    rotor_inertia_kg_m2: float
    frictionloss_nm: float
    ticks_per_turn: int = 4096

    def __post_init__(self) -> None:
        for name in ("supply_voltage_v", "gear_ratio", "mass_kg", "max_torque_nm",
                     "max_velocity_rad_s", "kp_nm_per_rad", "saturation_error_rad",
                     "damping_nm_s_per_rad", "armature_kg_m2", "rotor_inertia_kg_m2"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{self.model}: {name} must be finite and > 0, got {value!r}")
        if not (math.isfinite(self.frictionloss_nm) and self.frictionloss_nm >= 0):
            raise ValueError(f"{self.model}: frictionloss_nm must be >= 0, got {self.frictionloss_nm!r}")
        if self.ticks_per_turn <= 0:
            raise ValueError(f"{self.model}: ticks_per_turn must be > 0, got {self.ticks_per_turn!r}")


# --- Derivations (pure functions; the test recomputes each constant with them) -----------

def no_load_speed_rad_s(seconds_per_60_deg: float) -> float:
    """Output speed in rad/s from an RC-style rating "t seconds per 60 degrees"."""
    return (math.pi / 3) / seconds_per_60_deg


def rpm_to_rad_s(rpm: float) -> float:
    """Revolutions per minute to rad/s."""
    return rpm * 2 * math.pi / 60


def back_emf_damping(max_torque_nm: float, max_velocity_rad_s: float) -> float:
    """Slope (N.m.s/rad) of the straight torque-speed line through stall and no-load.

    A DC motor at full duty gives ``tau = tau_stall * (1 - w / w_no_load)``; the viscous
    term MuJoCo needs is that line's slope.
    """
    return max_torque_nm / max_velocity_rad_s


def sts_saturation_error_rad(p_coefficient: int, error_gain_per_rad: float = 0.166,
                             max_duty: float = 0.97) -> float:
    """Position error (rad) at which a Feetech STS servo's PWM duty saturates.

    The STS firmware sets ``duty = p_coefficient * error_gain_per_rad * error_rad``; the
    slope ``0.166`` and the duty ceiling ``0.97`` were measured with an oscilloscope by the
    BAM authors (``bam/feetech/actuator.py``); K-Scale's 12 V measurement gives 0.165.
    """
    return max_duty / (p_coefficient * error_gain_per_rad)


def dynamixel_x_saturation_error_rad(position_p_gain: int = 800, pwm_limit: int = 885,
                                     ticks_per_turn: int = 4096) -> float:
    """Position error (rad) at which a Dynamixel X servo's PWM output reaches its limit.

    ROBOTIS e-Manual, X series, "Position P Gain (84)": the controller gain is
    ``KPP = position_p_gain / 128`` and its output is in PWM units, 885 being 100 %; the
    error is in encoder ticks. The default gain is 800.
    """
    kpp = position_p_gain / 128
    return (pwm_limit / kpp) * (2 * math.pi / ticks_per_turn)


def position_gain(max_torque_nm: float, saturation_error_rad: float) -> float:
    """Position gain (N.m/rad): the torque rises linearly to stall at the saturation error."""
    return max_torque_nm / saturation_error_rad


def reflected_inertia(rotor_inertia_kg_m2: float, gear_ratio: float) -> float:
    """Motor-side inertia seen at the output: ``J_rotor * N**2`` (kg.m^2)."""
    return rotor_inertia_kg_m2 * gear_ratio**2


# --- The servos ------------------------------------------------------------------------

LEROBOT_STS_P_COEFFICIENT = 16
"""LeRobot writes P_Coefficient = 16 (firmware default 32) to every SO-101 follower servo
"to avoid shakiness" (``lerobot/robots/so_follower``); the twin models that setting."""

STS3215_PARAMS = ServoParams(
    # Feetech STS3215 C001, the 7.4 V, 1:345 variant the SO-101 follower kit lists.
    model="Feetech STS3215 C001 (7.4 V, 1:345)",
    supply_voltage_v=7.4,
    gear_ratio=345.0,
    mass_kg=0.055,
    # 19.5 kg.cm stall torque at 7.4 V (Feetech/Waveshare/DFRobot listing of the C001).
    max_torque_nm=1.912,
    # 0.192 s/60 deg (52 rpm) at 7.4 V, same listing; BAM identified 5.29 rad/s.
    max_velocity_rad_s=5.454,
    # 1.912 N.m / 0.3652 rad, with LeRobot's P_Coefficient = 16.
    kp_nm_per_rad=5.236,
    saturation_error_rad=0.3652,
    # 1.912 / 5.454.
    damping_nm_s_per_rad=0.3506,
    # BAM identification (m1, 7.4 V): armature 0.02608 kg.m^2, i.e. 2.19e-7 kg.m^2 at the
    # motor through 1:345.
    armature_kg_m2=0.0261,
    rotor_inertia_kg_m2=2.191e-7,
    # BAM identification (m1, 7.4 V): friction_base 0.0515 N.m.
    frictionloss_nm=0.0515,
)

STS3215_12V_PARAMS = ServoParams(
    # Feetech STS3215 C018, the 12 V, 1:345 variant (the SO-101 "pro" follower option).
    model="Feetech STS3215 C018 (12 V, 1:345)",
    supply_voltage_v=12.0,
    gear_ratio=345.0,
    mass_kg=0.055,
    # 30 kg.cm stall torque at 12 V (Feetech C018 listing; Robonine measured about 35).
    max_torque_nm=2.942,
    # 0.222 s/60 deg (45 rpm) at 12 V (C018 datasheet figure; measured about 46 rpm).
    max_velocity_rad_s=4.717,
    kp_nm_per_rad=8.056,
    saturation_error_rad=0.3652,
    damping_nm_s_per_rad=0.6237,
    # K-Scale identification (sts3215v12, m3): armature 0.02696 kg.m^2, friction 0.0436 N.m.
    armature_kg_m2=0.0270,
    rotor_inertia_kg_m2=2.265e-7,
    frictionloss_nm=0.0436,
)

XM430_W350_PARAMS = ServoParams(
    # ROBOTIS Dynamixel XM430-W350 at 12 V (ROBOTIS e-Manual; ROBEL paper, Ahn et al. 2019).
    model="ROBOTIS Dynamixel XM430-W350 (12 V, 353.5:1)",
    supply_voltage_v=12.0,
    gear_ratio=353.5,
    mass_kg=0.082,
    # Stall torque 4.1 N.m at 12.0 V, 2.3 A.
    max_torque_nm=4.1,
    # No-load speed 46 rpm at 12.0 V.
    max_velocity_rad_s=4.817,
    # 4.1 N.m / 0.2172 rad: default Position P Gain 800 -> 141.6 ticks to full PWM.
    kp_nm_per_rad=18.88,
    saturation_error_rad=0.2172,
    # 4.1 / 4.817.
    damping_nm_s_per_rad=0.8511,
    # Estimate: 1.2e-7 kg.m^2 for the coreless rotor and first pinion, times 353.5^2.
    armature_kg_m2=0.0150,
    rotor_inertia_kg_m2=1.2e-7,
    # Estimate, about 1.2 % of stall torque (between BAM's MX-64 and Menagerie's OP3 values).
    frictionloss_nm=0.05,
)

ALL_PARAMS: dict[str, ServoParams] = {
    "sts3215": STS3215_PARAMS,
    "sts3215_12v": STS3215_12V_PARAMS,
    "xm430_w350": XM430_W350_PARAMS,
}
"""Every servo model by a short key (the MJCF default class names use the same keys)."""
