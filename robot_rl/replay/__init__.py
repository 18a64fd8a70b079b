"""Experience replay: a preallocated numpy ring buffer with n-step sampling, persisted to the
run directory in segments so that ``--resume`` gets it back after a crash.

Pure numpy: the learner turns a :class:`ReplaySample` into tensors itself. See docs/replay.md.
"""

from robot_rl.replay.buffer import ReplayBuffer, ReplaySample
from robot_rl.replay.config import ColumnSpec, ReplayConfig, load_replay_config, replay_config_from_dict
from robot_rl.replay.errors import (ReplayConfigError, ReplayEmptyError, ReplayError, ReplayPersistenceError,
                                    ReplayRestoreError, ReplayShapeError, ReplayStateError, ReplayValueError,
                                    SkippedSegmentWarning)
from robot_rl.replay.nstep import NStepWindow, nstep_window
from robot_rl.replay.restore import RestoreReport
from robot_rl.replay.storage import ReplayStorage

__all__ = [
    "ColumnSpec", "NStepWindow", "ReplayBuffer", "ReplayConfig", "ReplayConfigError", "ReplayEmptyError",
    "ReplayError", "ReplayPersistenceError", "ReplayRestoreError", "ReplaySample", "ReplayShapeError",
    "ReplayStateError", "ReplayStorage", "ReplayValueError", "RestoreReport", "SkippedSegmentWarning",
    "load_replay_config", "nstep_window", "replay_config_from_dict",
]
