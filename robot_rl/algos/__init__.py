"""Learning algorithms (SAC with REDQ/DroQ options, TD3) as small pure-torch pieces.

Learners turn ``Batch`` es into updates and observations into actions; they never touch
an environment, a replay buffer or a file. Importing the package does not import torch
(the names below load their modules on first use), so that ``learner_configs`` and
``errors`` serve config checking without it.
"""

import importlib
from typing import Any

_HOMES = {"Batch": "batch", "CheckpointError": "errors", "LearnerConfigError": "errors", "LearnerError": "errors",
          "ObservationNormalizer": "normalizer", "SAC": "sac", "SACConfig": "learner_configs", "TD3": "td3",
          "TD3Config": "learner_configs"}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
