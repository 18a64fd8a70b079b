"""The system-identification log: one ``.npz`` file a run, readable with numpy alone.

``numpy.load(path)`` gives these arrays, one row per control period (``n`` rows, ``J``
commanded joints, ``S`` passive sensors such as the D'Claw valve):

==================== ========= ===============================================================
array                shape     meaning
==================== ========= ===============================================================
``read_time_s``      (n,)      when the state was read (robot clock: ``time.monotonic()`` on
                               hardware, simulated time on the twin), seconds from the run's start
``position_rad``     (n, J)    joint angles read back (joint frame, after calibration)
``velocity_rad_s``   (n, J)    joint velocities read back
``effort``           (n, J)    load read back (A of motor current for both supported servos)
``sensor_position_rad`` (n, S) passive joints read back
``stale``            (n,)      True where the read failed and the last good state stood in
``command_time_s``   (n,)      when the command of that period was written (same clock)
``command_rad``      (n, J)    the command actually sent (after every safety limit)
``planned_rad``      (n, J)    the excitation's command before the safety stack
``segment``          (n,)      the joint index that period excites, -1 at rest
``meta``             ()        a JSON string (below)
==================== ========= ===============================================================

``meta``: ``format`` (``"robot_rl.sysid_log/1"``), ``robot``, ``joint_names``,
``sensor_names``, ``rate_hz``, ``backend``, ``effort_unit``, ``started_utc``, ``complete``
(False when the run stopped early: the rows before the stop are kept), ``stopped_by`` (why, or
None), ``excitation`` (the :class:`~robot_side.sysid.excitation.ExcitationConfig` used),
``amplitude_rad`` and ``chirp_end_hz`` per joint, ``period_error_ms_p99``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drivers.atomic_file import atomic_write
from robot_side.errors import RobotSideError

FORMAT = "robot_rl.sysid_log/1"
ARRAYS = ("read_time_s", "position_rad", "velocity_rad_s", "effort", "sensor_position_rad", "stale",
          "command_time_s", "command_rad", "planned_rad", "segment")


class SysidLogError(RobotSideError):
    """A log file that is missing, not a log, or inconsistent (the message names the file and array)."""


@dataclass
class SysidLog:
    """A log in memory: the arrays of the table above plus ``meta``."""

    read_time_s: np.ndarray
    position_rad: np.ndarray
    velocity_rad_s: np.ndarray
    effort: np.ndarray
    sensor_position_rad: np.ndarray
    stale: np.ndarray
    command_time_s: np.ndarray
    command_rad: np.ndarray
    planned_rad: np.ndarray
    segment: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def joint_names(self) -> list[str]:
        return list(self.meta["joint_names"])

    def __len__(self) -> int:
        return len(self.read_time_s)

    def save(self, path: str | Path) -> Path:
        """Write atomically: a crash leaves the previous file or this one, whole."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        with atomic_write(path, "wb") as f:
            np.savez_compressed(f, meta=np.array(json.dumps(self.meta)),
                                **{name: getattr(self, name) for name in ARRAYS})
        return path


def load_log(path: str | Path) -> SysidLog:
    """Read a log; raises :class:`SysidLogError` naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise SysidLogError(f"{path}: no such log file (record one with `robot-rl sysid record`)")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [name for name in (*ARRAYS, "meta") if name not in data.files]
            if missing:
                raise SysidLogError(f"{path}: not a system-identification log: no array {missing[0]!r}")
            arrays = {name: data[name] for name in ARRAYS}
            meta = json.loads(str(data["meta"]))
    except (OSError, ValueError) as exc:
        raise SysidLogError(f"{path}: cannot be read as a .npz log: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise SysidLogError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    n, n_joints = len(arrays["read_time_s"]), len(meta["joint_names"])
    for name, value in arrays.items():
        if len(value) != n:
            raise SysidLogError(f"{path}: array {name!r} has {len(value)} rows, read_time_s has {n}")
        if value.ndim == 2 and name != "sensor_position_rad" and value.shape[1] != n_joints:
            raise SysidLogError(f"{path}: array {name!r} has {value.shape[1]} columns for {n_joints} joints")
    return SysidLog(**arrays, meta=meta)
