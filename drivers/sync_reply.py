"""The replies to one SYNC_READ checked and split in one vectorised pass.

A SYNC_READ of ``length`` bytes from ``ids`` is answered, when all goes well, by one status
packet per id, back to back, in order, each ``STATUS_OVERHEAD + length`` bytes long and
differing from the others only in the error byte, the data and the checksum. That is the
case in nearly every control-loop cycle, so the bus first checks the whole block at once
against this layout; anything else (a late reply, garbage, a stuffed byte, a bad checksum, a
missing packet) is left to the packet-by-packet parse, which skips what can be skipped and
raises the error that says what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType

import numpy as np


class SyncReplyLayout:
    """What the replies to a SYNC_READ of ``length`` bytes from ``ids`` look like.

    ``protocol`` is a packet module (``drivers.dynamixel.protocol`` or
    ``drivers.feetech.protocol``): its ``status``, ``STATUS_OVERHEAD``, ``ERROR_OFFSET`` and
    ``intact_status_rows`` describe the packets.
    """

    def __init__(self, protocol: ModuleType, ids: Sequence[int], length: int) -> None:
        self.n_packets = len(ids)
        self.packet_size = protocol.STATUS_OVERHEAD + length
        self.size = self.n_packets * self.packet_size
        error = protocol.ERROR_OFFSET
        self._error = error
        self._data = slice(error + 1, error + 1 + length)
        # Everything before the error byte is fixed: header, id, length field (instruction).
        self._heads = np.array([np.frombuffer(protocol.status(i, 0, bytes(length))[:error], dtype=np.uint8)
                                for i in ids]).reshape(self.n_packets, error)
        self._intact = protocol.intact_status_rows

    def split(self, block: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """``(errors, data)`` of a block that is exactly the expected packets with right
        checksums: uint8 arrays of shape (n,) and (n, length), views of ``block``. None when
        anything differs; what is wrong is then for the packet-by-packet parse to say."""
        if len(block) != self.size:
            return None
        rows = np.frombuffer(block, dtype=np.uint8).reshape(self.n_packets, self.packet_size)
        if np.count_nonzero(rows[:, :self._error] != self._heads) or not self._intact(rows):
            return None
        return rows[:, self._error], rows[:, self._data]
