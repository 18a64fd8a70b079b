"""Task classes by name, with their config dataclasses."""

from __future__ import annotations

from robot_side.tasks.dclaw_turn import DClawTurn, TurnConfig
from robot_side.tasks.so101_reach import ReachConfig, SO101Reach
from robot_side.tasks.task import Task

TASKS: dict[str, tuple[type[Task], type]] = {
    "SO101Reach": (SO101Reach, ReachConfig),
    "DClawTurn": (DClawTurn, TurnConfig),
}


def task_class(name: str) -> tuple[type[Task], type]:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known: {', '.join(TASKS)}") from None
