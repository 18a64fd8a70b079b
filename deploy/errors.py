"""Errors raised by ``deploy``: export (workstation side) and runtime (robot side)."""

from __future__ import annotations


class DeployError(Exception):
    """Base class of every error raised by ``deploy``."""


class MetadataError(DeployError, ValueError):
    """Policy metadata is missing, misspelt, inconsistent with the network, or unreadable."""


class ExportError(DeployError):
    """A policy cannot be exported (unsupported network, non-finite weights, checkpoint layout)."""


class CompilerError(ExportError):
    """The host C compiler is missing or rejected the generated code."""


class PolicyLoadError(DeployError):
    """An exported policy file cannot be loaded (missing, corrupt, or not a robot_rl policy)."""


class PolicyInputError(DeployError, ValueError):
    """An observation given to a policy has the wrong shape."""
