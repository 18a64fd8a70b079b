"""Registered env ids, made with ``gymnasium.make(id, **options)`` after ``import robot_side`` (or ``robot_rl``).

Options common to every id: ``backend`` (``sim``, ``virtual`` or ``serial``; default from
the robot config), ``port``, ``robot`` (config name or path), ``sim`` (SimConfig fields as a
dict), ``task`` (task config fields as a dict), ``render_mode``, ``control_rate_hz``,
``read_only`` (a dry run on hardware: nothing is written to the motors).
"""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym

from drivers.config import build
from drivers.robot import RobotSpec
from drivers.robot_config import load_robot_config
from robot_side.envs.robot_env import RobotEnv, checked_rate
from robot_side.errors import EnvOptionError
from robot_side.robots import make_robot, robot_config_path
from robot_side.safety.workspace_guard import WorkspaceGuard
from robot_side.tasks.task import Task

EPISODE_STEPS = {"SO101Reach": 50, "DClawTurn": 80}
ENV_OPTIONS = ("robot", "backend", "port", "sim", "task", "render_mode", "control_rate_hz", "seed", "read_only")
"""What ``gymnasium.make(id, **options)`` takes (documented in this module's docstring)."""


def make_env(task_name: str, *, task_defaults: dict[str, Any] | None = None, **options: Any) -> RobotEnv:
    """Entry point behind every registered id. Raises ``EnvOptionError`` for an unknown option
    (naming the closest known one) or a control rate outside the robot's bounds, and the
    config loaders' errors (naming the key) for a bad robot, backend, ``sim`` or ``task`` value."""
    check_options(options)
    robot_config = load_robot_config(robot_config_path(options["robot"]), backend=options.get("backend"),
                                     port=options.get("port"))
    read_only = options.get("read_only", False)
    if not isinstance(read_only, bool):
        raise EnvOptionError(f"read_only must be true or false, got {read_only!r}")
    task = _task(task_name, robot_config.spec, task_defaults, options)
    bot = make_robot(robot_config, sim=options.get("sim"), seed=options.get("seed"), read_only=read_only)
    checked_rate(bot, options.get("control_rate_hz"))  # before anything is opened
    return RobotEnv(bot, task, control_rate_hz=options.get("control_rate_hz"),
                    render_mode=options.get("render_mode"), workspace=WorkspaceGuard.from_config(robot_config),
                    safety=robot_config.safety)


def make_task(env_id: str, options: dict[str, Any] | None = None) -> tuple[Task, int]:
    """The task of a registered robot env and its episode length, without the robot (no port
    is opened, no simulation built): what a learner needs to relabel goals."""
    register_envs()
    spec = gym.spec(env_id)
    if spec.entry_point is not make_env:
        raise EnvOptionError(f"{env_id} is not a robot env of this project")
    options = {**spec.kwargs, **(options or {})}
    task_name, task_defaults = options.pop("task_name"), options.pop("task_defaults", None)
    check_options(options)
    robot_config = load_robot_config(robot_config_path(options["robot"]), backend=options.get("backend"),
                                     port=options.get("port"))
    return _task(task_name, robot_config.spec, task_defaults, options), int(spec.max_episode_steps)


def _task(task_name: str, robot: RobotSpec, task_defaults: dict[str, Any] | None, options: dict[str, Any]) -> Task:
    from robot_side.tasks.registry import task_class

    cls, config_cls = task_class(task_name)
    task_config = build(config_cls, {**(task_defaults or {}), **(options.get("task") or {})},
                        f"{task_name} task options")
    return cls(robot, task_config)


def check_options(options: dict[str, Any]) -> None:
    """Raise ``EnvOptionError`` for an option ``make_env`` does not know."""
    for key in options:
        if key not in ENV_OPTIONS:
            close = difflib.get_close_matches(key, ENV_OPTIONS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known options: {', '.join(ENV_OPTIONS)}"
            raise EnvOptionError(f"unknown env option {key!r}; {hint}")


def register_envs() -> None:
    variants = [
        ("robot_rl/SO101Reach-v0", "SO101Reach", "so101", {}),
        ("robot_rl/SO101ReachFixed-v0", "SO101Reach", "so101", {"fixed_target": (0.25, 0.1, 0.15)}),
        ("robot_rl/DClawTurn-v0", "DClawTurn", "dclaw", {}),
        ("robot_rl/DClawTurnRandom-v0", "DClawTurn", "dclaw",
         {"fixed_target_rad": None, "initial_valve_range_rad": 1.0}),
    ]
    for env_id, task_name, robot, defaults in variants:
        if env_id in gym.registry:
            continue
        gym.register(env_id, entry_point=make_env, max_episode_steps=EPISODE_STEPS[task_name],
                     kwargs={"task_name": task_name, "robot": robot, "task_defaults": defaults})
