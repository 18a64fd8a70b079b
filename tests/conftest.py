"""Shared pytest setup: hardware tests run only when ROBOT_RL_PORT names a real port."""

from __future__ import annotations

import os

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ROBOT_RL_PORT"):
        return
    skip = pytest.mark.skip(reason="needs real hardware: set ROBOT_RL_PORT=/dev/ttyUSB0")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)
