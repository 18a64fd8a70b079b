"""What an exported policy says about itself: specs, provenance, rate. Standard library only.

An exported policy carries ``PolicyMetadata``: the ONNX file in its ``metadata_props``
(string keys and values, read back without the ``onnx`` package through onnxruntime), the C
export as comments and ``#define`` s in its header. The observation and action specs travel
as JSON; an infinite bound is written as ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from deploy.errors import MetadataError

FORMAT_KEY = "robot_rl_format"
"""Metadata key whose presence marks a robot_rl policy; its value is ``FORMAT_VERSION``."""
FORMAT_VERSION = "1"
PRECISIONS = ("fp32", "fp16", "int8")

GIVEN_KEYS = frozenset({
    "observation_names", "observation_low", "observation_high",
    "action_names", "action_low", "action_high",
    "control_rate_hz", "task_id", "robot_id", "config_hash", "checkpoint_sha256", "algorithm",
})
"""Keys a caller may put in the metadata mapping given to an export function. The sizes, the
action bounds (read from the actor), the library version and the export time are filled in."""


@dataclass(frozen=True)
class ArraySpec:
    """Names and bounds of one vector, the observation or the action.

    ``low``/``high`` are in the vector's own units (those of the env), ``-inf``/``inf`` where
    unbounded. Raises MetadataError if the three lengths differ or a bound pair is inverted.
    """

    names: tuple[str, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.low) == len(self.high)) or not self.names:
            raise MetadataError(f"a spec needs as many names as bounds, got {len(self.names)} names, "
                                f"{len(self.low)} lows and {len(self.high)} highs")
        bad = [name for name, lo, hi in zip(self.names, self.low, self.high) if not lo <= hi]
        if bad:
            raise MetadataError(f"low > high (or NaN) for {bad}")

    @property
    def size(self) -> int:
        return len(self.names)

    @classmethod
    def unbounded(cls, names: Sequence[str]) -> ArraySpec:
        n = len(names)
        return cls(tuple(names), (-math.inf,) * n, (math.inf,) * n)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: infinite bounds become None."""
        return {"size": self.size, "names": list(self.names),
                "low": [_finite_or_none(v) for v in self.low], "high": [_finite_or_none(v) for v in self.high]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], what: str) -> ArraySpec:
        """Inverse of ``as_dict``. Raises MetadataError naming ``what`` if it does not parse."""
        try:
            names = tuple(str(n) for n in data["names"])
            low = tuple(-math.inf if v is None else float(v) for v in data["low"])
            high = tuple(math.inf if v is None else float(v) for v in data["high"])
            size = int(data["size"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MetadataError(f"{what} spec does not parse: {exc!r}") from exc
        spec = cls(names, low, high)
        if spec.size != size:
            raise MetadataError(f"{what} spec says size {size} but has {spec.size} names")
        return spec


@dataclass(frozen=True)
class PolicyMetadata:
    """Everything an exported policy file states about the policy inside it."""

    observation: ArraySpec
    """What the policy reads: the env's observation, before normalisation."""
    action: ArraySpec
    """What the policy writes; its bounds are those baked into the graph (the actor's)."""
    control_rate_hz: float | None
    """The rate the policy was trained at; a runner must run at it. None if unknown."""
    task_id: str | None
    """Gymnasium id of the task, e.g. ``robot_rl/SO101Reach-v0``."""
    robot_id: str | None
    """Robot config name, e.g. ``so101``."""
    config_hash: str | None
    """sha256 of the resolved training config (``config_hash``)."""
    checkpoint_sha256: str | None
    """sha256 of the checkpoint file the weights came from (``file_sha256``)."""
    algorithm: str | None
    """``sac`` or ``td3``."""
    normalizes_observations: bool
    """Whether observation normalisation is inside the exported graph (feed raw observations either way)."""
    precision: str
    """``fp32``, ``fp16`` or ``int8`` (see docs/deploy.md for the trade-offs)."""
    library_version: str
    """``robot_side.__version__`` of the exporting code."""
    export_time: str
    """ISO 8601 UTC time of the export."""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise MetadataError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.control_rate_hz is not None and not (math.isfinite(self.control_rate_hz)
                                                     and self.control_rate_hz > 0.0):
            raise MetadataError(f"control_rate_hz must be positive, got {self.control_rate_hz}")
        if not all(map(math.isfinite, self.action.low + self.action.high)):
            raise MetadataError("action bounds must be finite")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the specs as nested dicts."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = value.as_dict() if isinstance(value, ArraySpec) else value
        return out

    def to_properties(self) -> dict[str, str]:
        """String key/value pairs for ONNX ``metadata_props``; unknown (None) fields are left out."""
        props = {FORMAT_KEY: FORMAT_VERSION}
        for key, value in self.as_dict().items():
            if value is None:
                continue
            props[key] = value if isinstance(value, str) else json.dumps(value)
        return props

    @classmethod
    def from_properties(cls, props: Mapping[str, str]) -> PolicyMetadata:
        """Inverse of ``to_properties``. Raises MetadataError if the marker or a required field
        is missing or malformed (a file of another format version lacks the marker's value)."""
        if props.get(FORMAT_KEY) != FORMAT_VERSION:
            raise MetadataError(f"not a robot_rl policy of format {FORMAT_VERSION}: "
                                f"{FORMAT_KEY}={props.get(FORMAT_KEY)!r}")
        missing = [key for key in _REQUIRED if key not in props]
        if missing:
            raise MetadataError(f"policy metadata lacks {missing}")
        rate = props.get("control_rate_hz")
        return cls(
            observation=ArraySpec.from_dict(_parse_json(props["observation"], "observation"), "observation"),
            action=ArraySpec.from_dict(_parse_json(props["action"], "action"), "action"),
            control_rate_hz=None if rate is None else _number(_parse_json(rate, "control_rate_hz"), "control_rate_hz"),
            normalizes_observations=bool(_parse_json(props["normalizes_observations"], "normalizes_observations")),
            **{key: props.get(key) for key in _TEXT_FIELDS},
        )


_TEXT_FIELDS = ("task_id", "robot_id", "config_hash", "checkpoint_sha256", "algorithm", "precision",
                "library_version", "export_time")
"""Fields stored as plain strings; the others are JSON."""
_REQUIRED = ("observation", "action", "normalizes_observations", "precision", "library_version", "export_time")


def resolve_metadata(
    given: Mapping[str, Any],
    obs_dim: int,
    action_low: Sequence[float],
    action_high: Sequence[float],
    normalizes_observations: bool,
    precision: str = "fp32",
) -> PolicyMetadata:
    """Complete the caller's metadata mapping (keys: ``GIVEN_KEYS``) for a policy of these sizes.

    Names default to ``obs[i]``/``act[i]``, observation bounds to unbounded. Action bounds come
    from the actor (``action_low``/``action_high``); given ones must agree within 1e-6 relative.
    Raises MetadataError on an unknown key, a length that does not match the network, or a
    disagreeing bound.
    """
    unknown = sorted(set(given) - GIVEN_KEYS)
    if unknown:
        raise MetadataError(f"unknown metadata key(s) {unknown}; known: {sorted(GIVEN_KEYS)}")
    act_dim = len(action_low)
    obs_names = _names(given.get("observation_names"), obs_dim, "obs", "observation_names")
    obs_low = _bounds(given.get("observation_low"), obs_dim, -math.inf, "observation_low")
    obs_high = _bounds(given.get("observation_high"), obs_dim, math.inf, "observation_high")
    act_low = tuple(float(v) for v in action_low)
    act_high = tuple(float(v) for v in action_high)
    for key, actor_value in (("action_low", act_low), ("action_high", act_high)):
        if given.get(key) is not None:
            stated = _bounds(given[key], act_dim, 0.0, key)
            if any(abs(a - b) > 1e-6 * max(1.0, abs(b)) for a, b in zip(stated, actor_value)):
                raise MetadataError(f"{key} {list(stated)} disagrees with the actor's {list(actor_value)}")
    rate = given.get("control_rate_hz")
    from robot_side import __version__  # the exporting library's version (the runtime reads it)

    return PolicyMetadata(
        observation=ArraySpec(obs_names, obs_low, obs_high),
        action=ArraySpec(_names(given.get("action_names"), act_dim, "act", "action_names"), act_low, act_high),
        control_rate_hz=None if rate is None else float(rate),
        task_id=_optional_str(given.get("task_id")),
        robot_id=_optional_str(given.get("robot_id")),
        config_hash=_optional_str(given.get("config_hash")),
        checkpoint_sha256=_optional_str(given.get("checkpoint_sha256")),
        algorithm=_optional_str(given.get("algorithm")),
        normalizes_observations=bool(normalizes_observations),
        precision=precision,
        library_version=__version__,
        export_time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def config_hash(config: Mapping[str, Any]) -> str:
    """Hex sha256 of a config's canonical JSON (sorted keys, no spaces; non-JSON values as str)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _parse_json(text: str, key: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"policy metadata {key!r} is not valid JSON: {text[:80]!r}") from exc


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MetadataError(f"policy metadata {key!r} must be a number, got {value!r}")
    return float(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _names(value: Any, size: int, stem: str, key: str) -> tuple[str, ...]:
    if value is None:
        return tuple(f"{stem}[{i}]" for i in range(size))
    names = tuple(str(n) for n in value)
    if len(names) != size:
        raise MetadataError(f"{key} has {len(names)} names for a vector of size {size}")
    return names


def _bounds(value: Any, size: int, default: float, key: str) -> tuple[float, ...]:
    if value is None:
        return (default,) * size
    try:
        bounds = tuple(float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise MetadataError(f"{key} must be a sequence of numbers, got {value!r}") from exc
    if len(bounds) != size:
        raise MetadataError(f"{key} has {len(bounds)} values for a vector of size {size}")
    return bounds
