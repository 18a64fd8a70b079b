"""Registered env ids, made with ``gymnasium.make(id, **options)`` after ``import robot_rl``.

Options common to every id: ``backend`` (``sim``, ``virtual`` or ``serial``; default from
the robot config), ``port``, ``robot`` (config name or path), ``sim`` (SimConfig fields as a
dict), ``task`` (task config fields as a dict), ``render_mode``, ``control_rate_hz``,
``read_only`` (a dry run on hardware: nothing is written to the motors).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from drivers.config import build
from robot_rl.envs.robot_env import RobotEnv
from drivers.robot_config import load_robot_config
from robot_rl.envs.workspace_guard import WorkspaceGuard
from robot_rl.robots import make_robot, robot_config_path

EPISODE_STEPS = {"SO101Reach": 50, "DClawTurn": 80}


def make_env(task_name: str, *, robot: str, backend: str | None = None, port: str | None = None,
             sim: dict[str, Any] | None = None, task: dict[str, Any] | None = None,
             render_mode: str | None = None, control_rate_hz: float | None = None,
             seed: int | None = None, task_defaults: dict[str, Any] | None = None,
             read_only: bool = False) -> RobotEnv:
    """Entry point behind every registered id."""
    from robot_rl.tasks.registry import task_class

    cls, config_cls = task_class(task_name)
    robot_config = load_robot_config(robot_config_path(robot), backend=backend, port=port)
    bot = make_robot(robot_config, sim=sim, seed=seed, read_only=read_only)
    task_config = build(config_cls, {**(task_defaults or {}), **(task or {})}, f"{task_name} task options")
    # The guard shares the robot's limiter where the robot has one (the twin, a bus robot;
    # virtual hardware makes its bus robot only when opened).
    workspace = WorkspaceGuard.from_config(robot_config, getattr(bot, "limiter", None))
    return RobotEnv(bot, cls(bot.spec, task_config), control_rate_hz=control_rate_hz, render_mode=render_mode,
                    workspace=workspace)


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
