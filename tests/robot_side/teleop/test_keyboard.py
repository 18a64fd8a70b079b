"""Key presses from a terminal (a pseudo-terminal here) toggle flags, without Enter; the
terminal's settings come back on close; without a terminal nothing is read."""

from __future__ import annotations

import os
import termios
import time

from robot_side.teleop.keyboard import SPACE, KeyboardKeys


def wait_for(condition, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_a_press_toggles_and_the_terminal_is_restored() -> None:
    master, slave = os.openpty()
    try:
        before = termios.tcgetattr(slave)
        with KeyboardKeys(slave) as keys:
            assert keys.available
            assert not termios.tcgetattr(slave)[3] & termios.ICANON  # cbreak: no Enter needed
            assert not keys.toggled(SPACE)
            os.write(master, b" ")
            assert wait_for(lambda: keys.toggled(SPACE))
            os.write(master, b" q")
            assert wait_for(lambda: keys.presses == 3)
            assert not keys.toggled(SPACE) and keys.toggled("q")
        assert termios.tcgetattr(slave) == before
    finally:
        os.close(master)
        os.close(slave)


def test_without_a_terminal_nothing_is_read() -> None:
    read, write = os.pipe()
    try:
        with KeyboardKeys(read) as keys:
            os.write(write, b" ")
            time.sleep(0.1)
            assert not keys.available and not keys.toggled(SPACE)
    finally:
        os.close(read)
        os.close(write)
