"""The MuJoCo model of one robot config, with named indices computed once and the parameter
changes that :class:`~sim.sim_robot.SimRobot` and :class:`~sim.twin_plant.TwinPlant` both
make: servo gains (torque on/off, randomised P gain), force limits and per-episode domain
randomisation. Keeping them in one place keeps the twin and virtual hardware identical.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from drivers.robot_config import RobotConfig
from sim.assets import model_path
from sim.errors import SimConfigurationError
from sim.sim_config import DomainRandomization
from sim.twin_params import TwinParams

FORCE_SENSOR_PREFIX = "sysid_force_"
"""Name prefix of the actuator-force sensors ``TwinModel(..., force_sensors=True)`` adds."""
_SCALAR_JOINTS = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))


class TwinModel:
    """``config.name``'s scene (``sim/models/<name>/scene.xml``) and its named indices.

    Arrays, each in the config's order: ``joint_qpos`` / ``joint_dof`` (qpos and dof address
    of each commanded joint), ``actuator`` (the position actuator driving it),
    ``sensor_qpos`` / ``sensor_dof`` (each passive joint). ``state_qpos`` / ``state_dof`` are
    joints then sensors, the order of a bus's servo list.

    ``params`` overrides the model's physics (:mod:`sim.twin_params`); ``force_sensors`` adds an
    actuator-force sensor per actuator (``FORCE_SENSOR_PREFIX`` + its name) for system
    identification.

    Raises :class:`SimConfigurationError` when a configured joint is missing from the model,
    is not a hinge or slide, or is not driven by exactly one position actuator.
    """

    def __init__(self, config: RobotConfig, model_file: str | Path | None = None,
                 params: TwinParams | None = None, force_sensors: bool = False) -> None:
        self.path = Path(model_file) if model_file is not None else model_path(config.name)
        if force_sensors:  # system identification reads each actuator's force from sensordata
            spec = mujoco.MjSpec.from_file(str(self.path))
            for actuator in spec.actuators:
                spec.add_sensor(name=FORCE_SENSOR_PREFIX + actuator.name, type=mujoco.mjtSensor.mjSENS_ACTUATORFRC,
                                objtype=mujoco.mjtObj.mjOBJ_ACTUATOR, objname=actuator.name)
            self.model = spec.compile()
        else:
            self.model = mujoco.MjModel.from_xml_path(str(self.path))
        self.data = mujoco.MjData(self.model)
        self.timestep_s = float(self.model.opt.timestep)
        m = self.model
        joint_ids = [self._joint_id(name) for name in config.joint_names]
        sensor_ids = [self._joint_id(name) for name in config.sensor_names]
        self.joint_qpos = m.jnt_qposadr[joint_ids].astype(np.intp)
        self.joint_dof = m.jnt_dofadr[joint_ids].astype(np.intp)
        self.sensor_qpos = m.jnt_qposadr[sensor_ids].astype(np.intp)
        self.sensor_dof = m.jnt_dofadr[sensor_ids].astype(np.intp)
        self.state_qpos = np.concatenate([self.joint_qpos, self.sensor_qpos])
        self.state_dof = np.concatenate([self.joint_dof, self.sensor_dof])
        self.actuator = np.array([self._actuator_of(name, j) for name, j in zip(config.joint_names, joint_ids)],
                                 dtype=np.intp)
        self.params = params if params is not None else TwinParams()
        self.params.check_joints(config.joint_names, str(self.path))
        set_physics(m, self.params, config.joint_names, self.joint_dof, self.actuator)
        mujoco.mj_setConst(m, self.data)
        # Nominal values, the reference for every scaling below.
        act = self.actuator
        self._kp = m.actuator_gainprm[act, 0].copy()
        self._bias_q = m.actuator_biasprm[act, 1].copy()
        self._bias_qdot = m.actuator_biasprm[act, 2].copy()
        self._forcerange = m.actuator_forcerange[act].copy()
        self._body_mass = m.body_mass.copy()
        self._body_inertia = m.body_inertia.copy()
        self._geom_friction = m.geom_friction.copy()
        self._dof_damping = m.dof_damping.copy()
        self._dof_frictionloss = m.dof_frictionloss.copy()
        n = len(act)
        self.kp_scale = np.ones(n)
        self.torque_scale = np.ones(n)

    @property
    def n_joints(self) -> int:
        return len(self.actuator)

    def _joint_id(self, name: str) -> int:
        joint_id = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if joint_id < 0:
            names = [self.model.joint(i).name for i in range(self.model.njnt)]
            raise SimConfigurationError(f"{self.path}: no joint named {name!r}; the model has {names}")
        if int(self.model.jnt_type[joint_id]) not in _SCALAR_JOINTS:
            raise SimConfigurationError(f"{self.path}: joint {name!r} is not a hinge or slide joint")
        return joint_id

    def _actuator_of(self, name: str, joint_id: int) -> int:
        m = self.model
        found = [a for a in range(m.nu)
                 if m.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT and m.actuator_trnid[a, 0] == joint_id]
        if len(found) != 1:
            raise SimConfigurationError(f"{self.path}: joint {name!r} is driven by {len(found)} actuators; "
                                        f"the twin needs exactly one position actuator per servo")
        a = found[0]
        is_position = (m.actuator_gaintype[a] == mujoco.mjtGain.mjGAIN_FIXED
                       and m.actuator_biastype[a] == mujoco.mjtBias.mjBIAS_AFFINE
                       and m.actuator_gainprm[a, 0] > 0 and m.actuator_biasprm[a, 1] == -m.actuator_gainprm[a, 0])
        if not is_position:
            raise SimConfigurationError(f"{self.path}: actuator {m.actuator(a).name!r} of joint {name!r} is not "
                                        f"a position actuator (fixed gain kp, affine bias -kp)")
        return a

    # -- servo gains and limits ------------------------------------------------------------------
    def apply_gains(self) -> None:
        """Write ``kp_scale * torque_scale`` into the actuators: a scale of 0 makes a servo
        produce no force at all (torque off), as if its motor were disconnected."""
        m, act = self.model, self.actuator
        scale = self.kp_scale * self.torque_scale
        m.actuator_gainprm[act, 0] = self._kp * scale
        m.actuator_biasprm[act, 1] = self._bias_q * scale
        m.actuator_biasprm[act, 2] = self._bias_qdot * self.torque_scale

    def set_torque(self, on: bool | np.ndarray) -> None:
        """Torque on (True) or off (False), for all servos or per servo (bool array)."""
        self.torque_scale[:] = np.asarray(on, dtype=np.float64)
        self.apply_gains()

    def set_force_limit_scale(self, scale: np.ndarray) -> None:
        """Each actuator's force range becomes its nominal (stall torque) times ``scale``
        (clipped to 0..1), as a servo's current or torque limit register does."""
        self.model.actuator_forcerange[self.actuator] = self._forcerange * np.clip(scale, 0.0, 1.0)[:, None]

    # -- domain randomisation ------------------------------------------------------------------------
    def randomize(self, dr: DomainRandomization, rng: np.random.Generator) -> None:
        """Draw this episode's model parameters from ``dr`` (fixed draw order, so a seed
        reproduces them), or restore the nominal ones when ``dr`` scales nothing. Changes
        the model's constants (``mj_setConst``); set the state afterwards."""
        m = self.model
        if not dr.scales_model:
            self.restore_nominal()
            return
        mass = rng.uniform(*dr.mass_scale, size=m.nbody)
        geom_friction = rng.uniform(*dr.friction_scale, size=m.ngeom)
        dof_friction = rng.uniform(*dr.friction_scale, size=m.nv)
        damping = rng.uniform(*dr.damping_scale, size=m.nv)
        self.kp_scale[:] = rng.uniform(*dr.kp_scale, size=self.n_joints)
        m.body_mass[:] = self._body_mass * mass
        m.body_inertia[:] = self._body_inertia * mass[:, None]
        m.geom_friction[:] = self._geom_friction * geom_friction[:, None]
        m.dof_frictionloss[:] = self._dof_frictionloss * dof_friction
        m.dof_damping[:] = self._dof_damping * damping
        self.apply_gains()
        mujoco.mj_setConst(m, self.data)

    def restore_nominal(self) -> None:
        """Undo :meth:`randomize` (a no-op when nothing was changed)."""
        m = self.model
        if not np.any(self.kp_scale != 1.0) and np.array_equal(m.body_mass, self._body_mass) \
                and np.array_equal(m.geom_friction, self._geom_friction) \
                and np.array_equal(m.dof_damping, self._dof_damping) \
                and np.array_equal(m.dof_frictionloss, self._dof_frictionloss):
            return
        m.body_mass[:] = self._body_mass
        m.body_inertia[:] = self._body_inertia
        m.geom_friction[:] = self._geom_friction
        m.dof_frictionloss[:] = self._dof_frictionloss
        m.dof_damping[:] = self._dof_damping
        self.kp_scale[:] = 1.0
        self.apply_gains()
        mujoco.mj_setConst(m, self.data)

    @property
    def nominal_body_mass(self) -> np.ndarray:
        return self._body_mass.copy()

    # -- state -----------------------------------------------------------------------------------------
    def set_state(self, joint_position_rad: np.ndarray, sensor_position_rad: np.ndarray,
                  goal_rad: np.ndarray, time_s: float) -> None:
        """Put the robot at rest at the given positions, with ``goal_rad`` as every servo's
        goal, at simulated time ``time_s``; recompute everything derived (``mj_forward``)."""
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[self.joint_qpos] = joint_position_rad
        d.qpos[self.sensor_qpos] = sensor_position_rad
        d.ctrl[self.actuator] = goal_rad
        d.time = time_s
        mujoco.mj_forward(m, d)


def set_physics(model: mujoco.MjModel, params: TwinParams, joint_names: tuple[str, ...], joint_dof: np.ndarray,
                actuator: np.ndarray) -> None:
    """Write ``params``'s servo parameters and link mass scale into ``model`` (the delay and
    backlash are the stepping code's). Call ``mj_setConst`` after a mass change."""
    for i, name in enumerate(joint_names):
        physics = params.joints.get(name)
        if physics is None:
            continue
        dof, act = joint_dof[i], actuator[i]
        if physics.kp_nm_per_rad is not None:
            model.actuator_gainprm[act, 0] = physics.kp_nm_per_rad
            model.actuator_biasprm[act, 1] = -physics.kp_nm_per_rad
        if physics.damping_nm_s_per_rad is not None:
            model.dof_damping[dof] = physics.damping_nm_s_per_rad
        if physics.armature_kg_m2 is not None:
            model.dof_armature[dof] = physics.armature_kg_m2
        if physics.frictionloss_nm is not None:
            model.dof_frictionloss[dof] = physics.frictionloss_nm
        if physics.effort_limit_nm is not None:
            model.actuator_forcerange[act] = (-physics.effort_limit_nm, physics.effort_limit_nm)
    if params.link_mass_scale != 1.0:
        model.body_mass[1:] *= params.link_mass_scale
        model.body_inertia[1:] *= params.link_mass_scale
