"""The seqlock weight board: versions, copies only when newer, torn reads rejected."""

from __future__ import annotations

import numpy as np
import pytest

from robot_rl.realtime.weight_board import WeightBoard


def test_versions_and_read_if_newer() -> None:
    board = WeightBoard.create(4)
    try:
        out = np.zeros(4, np.float32)
        assert board.version == 0 and board.read_if_newer(0, out) is None
        assert board.publish(np.arange(4, dtype=np.float32)) == 1
        assert board.read_if_newer(0, out) == 1
        np.testing.assert_array_equal(out, [0, 1, 2, 3])
        assert board.read_if_newer(1, out) is None  # nothing newer
        board.publish(np.full(4, 7, np.float32))
        assert board.publish(np.full(4, 9, np.float32)) == 3 == board.version
        assert board.read_if_newer(1, out) == 3  # skips straight to the newest
        np.testing.assert_array_equal(out, 9)
    finally:
        board.close()


def test_reader_never_takes_weights_while_the_writer_is_mid_publish() -> None:
    board = WeightBoard.create(3)
    reader = WeightBoard.attach(board.spec)
    try:
        board.publish(np.ones(3, np.float32))
        sequence = board.block["sequence"]
        sequence[0] += 1  # the writer has started publishing version 2 (odd sequence) ...
        board.block["weights"][:2] = 5.0  # ... and copied part of it
        out = np.zeros(3, np.float32)
        assert reader.read_if_newer(0, out) is None  # the half-written weights are refused
        assert reader.read_if_newer(1, out) is None
        board.block["weights"][2] = 5.0
        sequence[0] += 1  # publication complete
        assert reader.read_if_newer(1, out) == 2
        np.testing.assert_array_equal(out, 5.0)
    finally:
        reader.close()
        board.close()


def test_a_publication_during_the_copy_makes_the_read_torn() -> None:
    board = WeightBoard.create(3)
    try:
        board.publish(np.ones(3, np.float32))

        class RacingOut(np.ndarray):
            """A scratch buffer whose filling is overtaken by the writer starting a new version."""

            def __setitem__(self, key, value) -> None:
                super().__setitem__(key, value)
                board.block["sequence"][0] += 1

        out = np.zeros(3, np.float32).view(RacingOut)
        assert board.read_if_newer(0, out) is None
    finally:
        board.close()


def test_a_fleet_robot_publishes_under_the_learners_version() -> None:
    board = WeightBoard.create(2)
    try:
        out = np.zeros(2, np.float32)
        assert board.publish(np.ones(2, np.float32), version=7) == 7 == board.version
        assert board.read_if_newer(6, out) == 7 and board.read_if_newer(7, out) is None
        with pytest.raises(ValueError, match="weight version 7 is not newer than the published 7"):
            board.publish(np.ones(2, np.float32), version=7)
        assert board.publish(np.zeros(2, np.float32)) == 8  # without a version: the next
    finally:
        board.close()
