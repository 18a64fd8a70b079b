"""The training config: one YAML file naming the env, the algorithm and the loop settings.

Loaded strictly (an unknown or misspelt key is an error naming the key and file), with
``--set dotted.key=value`` overrides parsed as YAML scalars.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from drivers.config import ConfigError, build, load_yaml, to_dict


@dataclass(frozen=True)
class EnvConfig:
    """id: a registered Gymnasium id: the project's (``robot_rl/SO101Reach-v0``) or any other
    (``Pendulum-v1``). options: keyword arguments for ``gymnasium.make`` (for the project's
    envs: backend, port, sim, task, ...). eval_options: overrides for the evaluation env."""

    id: str
    options: dict[str, Any] = field(default_factory=dict)
    eval_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlgoConfig:
    """name: ``sac`` or ``td3``. sac / td3: the learner's hyper-parameters (see
    ``robot_rl.algos.sac.SACConfig`` and ``robot_rl.algos.td3.TD3Config``), as a mapping."""

    name: Literal["sac", "td3"] = "sac"
    sac: dict[str, Any] = field(default_factory=dict)
    td3: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoopConfig:
    """total_steps: environment steps to train for. start_steps: uniformly random actions
    first. updates_per_step: the update-to-data ratio, in both modes: learner updates per
    environment step collected from ``update_after`` on, a number >= 0 (0.5: one update every
    second step; 0: none). The asynchronous learner does as many as its CPU allows up to this and
    never more (``robot_rl.train.update_ratio``; docs/realtime.md).
    update_every_steps: synchronous mode: the updates run every this many steps, ``update_every_steps x
    updates_per_step`` at once (whole updates; a fraction waits for the next time), in rounds of
    two updates per compiled graph (SAC; TD3: ``policy_delay``), each round paying the per-call
    cost once: 2 makes compiled TD3 about 12 % faster. update_after: replay size before the first update. eval_every_steps / eval_episodes:
    periodic deterministic evaluation. checkpoint_every_steps: periodic checkpoints (one is
    always written at the end and on Ctrl-C). normalize_observations: running mean/std
    normalisation baked into the policy. seed: seeds env, learner, replay. mode: ``sync``
    (env and learner in one loop, as fast as possible) or ``async`` (real-time loop and
    learner in two processes). log_every_steps: metrics and progress interval. threads: torch
    intra-op threads of the learner; 1 is the safe default on a small machine, where a second
    busy process (the control loop, a browser) makes multi-threaded kernels stall each other.
    hindsight_fraction: the share of each batch given, as its goal, a place its episode reached
    later (``robot_rl.replay.hindsight``; goal tasks only, e.g. SO-101 reach; 0: none).
    demos: a folder of demonstrations (``robot-rl record-demos``) put in the replay at the start
    of the run, flagged as such (a path relative to the working directory; none: no
    demonstrations). human_share: the share of each batch drawn from demonstrations and
    interventions while the replay holds any (RLPD's 0.5; ``robot_rl.replay.human_share``)."""

    total_steps: int = 20_000
    start_steps: int = 1_000
    updates_per_step: int | float = 1  # an int stays one: the config's hash is unchanged
    update_every_steps: int = 1
    update_after: int = 1_000
    eval_every_steps: int = 5_000
    eval_episodes: int = 5
    checkpoint_every_steps: int = 5_000
    normalize_observations: bool = False
    seed: int = 0
    mode: Literal["sync", "async"] = "sync"
    log_every_steps: int = 500
    threads: int = 1
    hindsight_fraction: float = 0.0
    demos: str | None = None
    human_share: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.human_share <= 1.0:
            raise ValueError(f"human_share must be in [0, 1], got {self.human_share}")
        if not 0.0 <= self.hindsight_fraction <= 1.0:
            raise ValueError(f"hindsight_fraction must be in [0, 1], got {self.hindsight_fraction}")
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads}")
        if self.total_steps <= 0:
            raise ValueError(f"total_steps must be positive, got {self.total_steps}")
        if not 0 <= self.updates_per_step < math.inf:
            raise ValueError(f"updates_per_step must be a number >= 0, got {self.updates_per_step}")
        for name in ("update_every_steps", "eval_every_steps", "checkpoint_every_steps", "log_every_steps",
                     "eval_episodes"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("start_steps", "update_after"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class RealtimeConfig:
    """The asynchronous mode (``loop.mode: async``): a control-loop process and a learner process.

    loop_cpu / learner_cpu: CPUs to pin the two processes to (None: no pinning).
    realtime_priority: SCHED_FIFO priority of the control loop (None: normal scheduling).
    timer_slack_ns: the loop's timer slack (1 ns makes sleeps precise).
    overrun_tolerance_s: a step whose command goes out this much later than planned is an overrun.
    command_lead_s: each command goes out this long after the tick at which the state it answers
        was read (the loop waits for that moment), so commands leave at a fixed phase of the
        period: constant latency, microseconds of jitter. A number must cover the read,
        observation and policy (``robot-rl timing`` suggests one); a step not ready in time sends
        at once. ``auto`` (default): measured as the run goes (1.25 x the p99 of the time to be
        ready, at most half a period; see ``robot_rl.realtime.command_lead``). None: send as soon
        as the policy is done (lowest latency, with the jitter of the work before it).
    overrun_policy: ``hold`` (repeat the last safe command that step) or ``stop`` (end the episode).
    publish_every_updates: the learner publishes weights every this many updates (or when an
        update round crosses a multiple of it). How many updates it does: ``loop.updates_per_step``.
    min_updates_per_step: at an episode's end the loop waits (holding) until the learner has done
        this many updates per step (slow learners); at most ``loop.updates_per_step``.
    learner_failure: ``continue`` with the last weights or ``stop`` safely when the learner dies.
    watchdog_periods: with no command for this many periods the watchdog holds the position,
        and after ``watchdog_torque_off_s`` more it turns torque off (null, the default: the
        robot config's ``safety.watchdog_hold_periods`` and ``safety.watchdog_torque_off_s``).
    ring_capacity: transitions the shared ring holds between learner drains.
    eval_every_episodes: every this many episodes one is run with the deterministic policy
        (0: never).
    """

    loop_cpu: int | None = 0
    learner_cpu: int | None = 1
    realtime_priority: int | None = 80
    timer_slack_ns: int | None = 1
    overrun_tolerance_s: float = 0.002
    command_lead_s: float | Literal["auto"] | None = "auto"
    overrun_policy: Literal["hold", "stop"] = "hold"
    publish_every_updates: int = 50
    min_updates_per_step: float = 0.0
    learner_failure: Literal["continue", "stop"] = "stop"
    watchdog_periods: int | None = None
    watchdog_torque_off_s: float | None = None
    ring_capacity: int = 100_000
    eval_every_episodes: int = 10

    def __post_init__(self) -> None:
        if self.realtime_priority is not None and not 1 <= self.realtime_priority <= 99:
            raise ValueError(f"realtime_priority must be 1-99 (SCHED_FIFO) or null, got {self.realtime_priority}")
        if self.timer_slack_ns is not None and self.timer_slack_ns < 1:
            raise ValueError(f"timer_slack_ns must be at least 1 or null, got {self.timer_slack_ns}")
        for name in ("loop_cpu", "learner_cpu"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 or null, got {value}")
        for name in ("overrun_tolerance_s", "watchdog_torque_off_s"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("publish_every_updates", "watchdog_periods", "ring_capacity"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.command_lead_s not in (None, "auto") and not self.command_lead_s > 0:
            raise ValueError(f"command_lead_s must be positive, auto or null, got {self.command_lead_s}")
        if self.min_updates_per_step < 0:
            raise ValueError(f"min_updates_per_step must be >= 0, got {self.min_updates_per_step}")
        if self.eval_every_episodes < 0:
            raise ValueError(f"eval_every_episodes must be >= 0, got {self.eval_every_episodes}")


@dataclass(frozen=True)
class InterventionConfig:
    """An operator taking over from the policy during real-time training (``loop.mode: async``),
    with a leader arm (docs/human-in-the-loop.md).

    leader: the leader's robot config (name or path, e.g. ``so101_leader``); none: no
        interventions. Its backend decides: ``serial`` (its ``port``, or ``leader_port``) is a
        person's leader; ``virtual`` an emulated one moved by a scripted operator (tests and
        benchmarks).
    leader_port: a real leader's serial port (sets its backend to serial).
    takeover_rad: a person takes over by moving the leader: once any joint is this far from
        where the leader rested, the leader's pose drives the robot.
    release_s / still_rad: the intervention ends when the leader has stayed within
        ``still_rad`` for ``release_s`` (put down, or held still); that pose is the new rest.
    leader_timeout_s: a leader pose older than this means the leader is lost: an intervention
        in progress ends with the robot holding and the episode over, and the run goes on
        without interventions.
    scripted_budget: the scripted operator's largest share of the steps taken over (it steps
        in when the policy makes no progress toward the target).

    In the synchronous mode, which runs faster than real time, only a virtual leader works:
    its scripted operator's pose is then used directly, without the emulated bus (benchmarks
    of how much interventions save; ``bench/human_in_the_loop.py``).
    """

    leader: str | None = None
    leader_port: str | None = None
    takeover_rad: float = 0.15
    release_s: float = 0.5
    still_rad: float = 0.02
    leader_timeout_s: float = 0.25
    scripted_budget: float = 0.2

    def __post_init__(self) -> None:
        for name in ("takeover_rad", "release_s", "still_rad", "leader_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.scripted_budget <= 1:
            raise ValueError(f"scripted_budget must be in [0, 1], got {self.scripted_budget}")


@dataclass(frozen=True)
class FleetActorConfig:
    """One robot of a fleet (``robot-rl train --backend ray``), by position in ``fleet.robots``.

    env_options: merged over ``env.options`` for this robot (``backend``, ``port``, ``robot``...).
    resources: Ray custom resources the actor needs, e.g. ``{so101_arm_2: 1}``; it is placed only
        on a node started with them (``ray start --resources '{"so101_arm_2": 1}'``).
    label_selector: Ray node labels the actor's node must carry, e.g. ``{robot: so101-2}`` (a node
        started with ``ray start --labels robot=so101-2``).
    """

    env_options: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)
    label_selector: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FleetConfig:
    """Several control loops feeding one learner through Ray (``robot-rl train --backend ray``).

    actors: how many robots (or twins) collect data (``--actors`` overrides it).
    robots: per-robot settings by index (see :class:`FleetActorConfig`); robots past the end
        of the list use ``env.options`` as they are.
    max_restarts: times a dead actor (its robot unplugged, its host lost) is started again
        before the run goes on without it.
    send_every_s: how often an actor ships the transitions its loop collected to the learner.
    weights_every_s: how often an actor asks the learner for newer weights.
    max_in_flight: batches an actor lets travel unanswered before it waits (its loop never waits;
        it keeps filling the actor's local ring meanwhile).
    learner_gpu: ``auto`` (a GPU when the cluster has one), true (require one) or false.
    learner_resources / learner_label_selector: where the learner may be placed.
    learner_num_cpus / actor_num_cpus: CPUs Ray reserves for each (the actors' work is in their
        control-loop processes; reserving none lets robots share a small computer).
    start_timeout_s: how long an actor or the learner may take to be placed and started.
    """

    actors: int = 2
    robots: tuple[FleetActorConfig, ...] = ()
    max_restarts: int = 1
    send_every_s: float = 0.05
    weights_every_s: float = 0.1
    max_in_flight: int = 4
    learner_gpu: bool | Literal["auto"] = "auto"
    learner_resources: dict[str, float] = field(default_factory=dict)
    learner_label_selector: dict[str, str] = field(default_factory=dict)
    learner_num_cpus: float = 1.0
    actor_num_cpus: float = 0.0
    start_timeout_s: float = 180.0

    def __post_init__(self) -> None:
        if self.actors < 1:
            raise ValueError(f"actors must be at least 1, got {self.actors}")
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")
        for name in ("send_every_s", "weights_every_s", "start_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("learner_num_cpus", "actor_num_cpus"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def robot(self, index: int) -> FleetActorConfig:
        return self.robots[index] if index < len(self.robots) else FleetActorConfig()


@dataclass(frozen=True)
class TrainConfig:
    """env, algo, loop, realtime, fleet, intervention: see their classes. replay: ``robot_rl.replay`` settings (mapping).
    name: the run's name (the run directory defaults to ``runs/<name>``)."""

    env: EnvConfig
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    replay: dict[str, Any] = field(default_factory=dict)
    realtime: RealtimeConfig = field(default_factory=RealtimeConfig)
    fleet: FleetConfig = field(default_factory=FleetConfig)
    intervention: InterventionConfig = field(default_factory=InterventionConfig)
    name: str = "run"

    def __post_init__(self) -> None:
        if self.loop.mode == "async" and self.realtime.min_updates_per_step > self.loop.updates_per_step:
            raise ValueError(f"realtime.min_updates_per_step ({self.realtime.min_updates_per_step}) is above "
                             f"loop.updates_per_step ({self.loop.updates_per_step}): the loop would wait at every "
                             f"episode's end for updates the learner never does")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def hash(self) -> str:
        """Short, stable hash of the resolved config (recorded in exports)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def apply_overrides(data: dict[str, Any], overrides: list[str], source: str) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings (values parsed as YAML) to a nested mapping copy."""
    data = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. loop.total_steps=5000")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: cannot parse value {raw!r}: {exc}") from exc
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: {part!r} is not a section in {source}")
            node = child
        node[parts[-1]] = value
    return data


# Keys a config may no longer set, each with what took its place: an error that names the
# replacement, where the unknown-key error would suggest the nearest spelling (for
# realtime.max_updates_per_step that is min_updates_per_step, the opposite limit).
REMOVED_KEYS = {
    ("realtime", "max_updates_per_step"): "loop.updates_per_step (the update-to-data ratio paces the asynchronous "
                                          "learner too, and it never goes beyond it; docs/realtime.md)",
}


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load and check a training config (``check_sections``); raises ``ConfigError`` naming the
    file and the dotted key of the first problem."""
    path = Path(path)
    data = apply_overrides(load_yaml(path), overrides or [], str(path))
    source = f"{path}" + (f" (with --set {' '.join(overrides)})" if overrides else "")
    return train_config_from_dict(data, source)


def train_config_from_dict(data: dict[str, Any], source: str = "<dict>") -> TrainConfig:
    check_removed_keys(data, source)
    return check_sections(build(TrainConfig, data, source), source)


def check_removed_keys(data: dict[str, Any], source: str) -> None:
    """Raise ``ConfigError`` for a key of ``REMOVED_KEYS``, naming what replaces it."""
    for (section, key), replacement in REMOVED_KEYS.items():
        if isinstance(data.get(section), dict) and key in data[section]:
            raise ConfigError(f"{source}: key '{section}.{key}' was removed; set {replacement}")


def check_sections(config: TrainConfig, source: str) -> TrainConfig:
    """Check the sections kept as mappings, whichever algorithm is selected: ``algo.sac`` and
    ``algo.td3`` against the learners' hyper-parameters, ``replay`` against the replay's
    settings, ``env.id`` against Gymnasium's registry and, for the project's envs,
    ``env.options`` and ``env.eval_options`` against the options they take. Returns ``config``."""
    from robot_rl.algos.learner_configs import SACConfig, TD3Config
    from robot_rl.replay.config import ReplayConfig

    learners = {"sac": build(SACConfig, {"seed": config.loop.seed, **config.algo.sac}, source, "algo.sac"),
                "td3": build(TD3Config, {"seed": config.loop.seed, **config.algo.td3}, source, "algo.td3")}
    build(ReplayConfig, {"gamma": learners[config.algo.name].gamma, **config.replay}, source, "replay")
    check_env(config.env, source)
    return config


def check_env(env: EnvConfig, source: str) -> None:
    """Raise ``ConfigError`` for an env id Gymnasium does not know (naming the closest one) or,
    for the project's envs, an option neither they nor ``gymnasium.make`` itself (such as
    ``max_episode_steps``) take."""
    import difflib
    import inspect

    import gymnasium as gym

    import robot_side  # noqa: F401  (registers the project's ids)
    from robot_side.envs.registration import ENV_OPTIONS

    if env.id not in gym.registry:
        close = difflib.get_close_matches(env.id, list(gym.registry), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else " (see `python -c \"import gymnasium; " \
                                                              "gymnasium.pprint_registry()\"`)"
        raise ConfigError(f"{source}: env.id {env.id!r} is not a registered Gymnasium id{hint}")
    if not env.id.startswith("robot_rl/"):
        return
    make_options = [name for name, p in inspect.signature(gym.make).parameters.items()
                    if name != "id" and p.kind is p.POSITIONAL_OR_KEYWORD]
    known = (*ENV_OPTIONS, *make_options)
    for section in ("options", "eval_options"):
        for key in getattr(env, section):
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(known)}"
                raise ConfigError(f"{source}: unknown key 'env.{section}.{key}'; {hint}")
