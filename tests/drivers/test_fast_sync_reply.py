"""Cutting a FAST_SYNC_READ reply in one pass: it accepts exactly the clean packets that
decode_fast_sync reads the same way, and refuses every packet with a byte changed."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.dynamixel import protocol as dxl
from drivers.dynamixel.fast_sync_reply import FastSyncReplyLayout
from drivers.errors import ChecksumError, MalformedReplyError

IDS = [3, 1, 7, 2]


def _reply(length: int, seed: int = 1) -> tuple[bytes, list[int], list[bytes]]:
    rng = np.random.default_rng(seed)
    data = [bytes(rng.integers(0, 256, length, dtype=np.uint8)) for _ in IDS]
    errors = [0, 0x80, 0, 0x02]
    return dxl.fast_sync_status(list(zip(errors, IDS, data))), errors, data


@pytest.mark.parametrize("length", [1, 4, 10])
def test_clean_reply_splits_like_the_decoder(length: int) -> None:
    reply, errors, data = _reply(length)
    split = FastSyncReplyLayout(IDS, length).split(reply)
    assert split is not None
    assert list(zip(*split)) == dxl.decode_fast_sync(reply, IDS, length) == list(zip(errors, data))


@pytest.mark.parametrize("length,word_format,signed", [(1, "B", False), (2, "H", False), (2, "h", True),
                                                       (4, "I", False), (4, "i", True)])
def test_word_layout_gives_the_data_as_integers(length: int, word_format: str, signed: bool) -> None:
    reply, errors, data = _reply(length, seed=length)
    layout = FastSyncReplyLayout(IDS, length, word_format)
    split = layout.split(reply)
    assert split is not None
    expected = tuple(int.from_bytes(d, "little", signed=signed) for d in data)
    assert split == (tuple(errors), expected)
    assert layout.data_of(data) == expected  # the slow path's form is the same


def test_every_changed_byte_is_refused_and_the_decoder_names_it() -> None:
    reply, _, _ = _reply(4)
    layout = FastSyncReplyLayout(IDS, 4)
    rng = np.random.default_rng(3)
    for offset in range(len(reply)):
        corrupted = bytearray(reply)
        corrupted[offset] ^= int(rng.integers(1, 256))
        assert layout.split(bytes(corrupted)) is None, f"byte offset {offset} changed yet accepted"
        with pytest.raises((ChecksumError, MalformedReplyError)):
            dxl.decode_fast_sync(bytes(corrupted), IDS, 4)


def test_reply_in_another_order_or_of_another_size_is_refused() -> None:
    reply, errors, data = _reply(4)
    layout = FastSyncReplyLayout(IDS, 4)
    reordered = dxl.fast_sync_status(list(zip(errors, [1, 3, 7, 2], data)))
    assert layout.split(reordered) is None
    with pytest.raises(MalformedReplyError, match="from id 1, expected 3"):
        dxl.decode_fast_sync(reordered, IDS, 4)
    assert layout.split(reply[:-1]) is None
    assert layout.split(reply + b"\x00") is None
    assert FastSyncReplyLayout(IDS[:3], 4).split(reply) is None


def test_word_format_must_fit_the_length() -> None:
    with pytest.raises(ValueError, match="does not hold 2 bytes"):
        FastSyncReplyLayout(IDS, 2, "i")
