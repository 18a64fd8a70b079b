"""Learning algorithms (SAC with REDQ/DroQ options, TD3) as small pure-torch pieces.

Learners turn ``Batch`` es into updates and observations into actions; they never touch
an environment, a replay buffer or a file.
"""

from robot_rl.algos.batch import Batch
from robot_rl.algos.errors import CheckpointError, LearnerConfigError, LearnerError
from robot_rl.algos.normalizer import ObservationNormalizer
from robot_rl.algos.sac import SAC, SACConfig
from robot_rl.algos.td3 import TD3, TD3Config

__all__ = ["SAC", "TD3", "Batch", "CheckpointError", "LearnerConfigError", "LearnerError",
           "ObservationNormalizer", "SACConfig", "TD3Config"]
