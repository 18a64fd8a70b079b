"""The parameters of a SYNC_WRITE packed in one ``struct`` call.

Both protocols lay a SYNC_WRITE's parameters out the same way: the start address and the
data length, then per motor its id and its data. Only the width of the address and length
fields differs (one byte each for Feetech STS, two for Dynamixel 2.0). When every motor's
data is one word of 1, 2 or 4 bytes, the whole field is one fixed ``struct`` format, built
once per motor count.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Sequence


@functools.cache
def _params_struct(head_format: str, word_format: str, n_motors: int) -> struct.Struct:
    return struct.Struct("<" + head_format + ("B" + word_format) * n_motors)


def sync_write_params(head_format: str, address: int, length: int, ids: Sequence[int], words: Sequence[int],
                      word_format: str) -> bytes:
    """``address, length, id_1, word_1, id_2, word_2, ...`` packed little-endian.

    ``head_format``: the ``struct`` codes of the address and length fields (``"BB"`` or
    ``"HH"``); ``word_format``: one word's code (``Register.word_format``). Ids and words are
    packed as given: the caller checked them (``struct.error`` if one does not fit)."""
    fields = [address, length]
    for pair in zip(ids, words):
        fields += pair
    return _params_struct(head_format, word_format, len(ids)).pack(*fields)
