"""The replies to one SYNC_READ checked and split in one pass.

A SYNC_READ of ``length`` bytes from ``ids`` is answered, when all goes well, by one status
packet per id, back to back, in order, each ``STATUS_OVERHEAD + length`` bytes long and
differing from the others only in the error byte, the data and the checksum. That is the
case in nearly every control-loop cycle, so the bus first checks the whole block at once
against this layout; anything else (a late reply, garbage, a stuffed byte, a bad checksum, a
missing packet) is left to the packet-by-packet parse, which skips what can be skipped and
raises the error that says what is wrong.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from types import ModuleType


class SyncReplyLayout:
    """What the replies to a SYNC_READ of ``length`` bytes from ``ids`` look like.

    ``protocol`` is a packet module (``drivers.dynamixel.protocol`` or
    ``drivers.feetech.protocol``): its ``status``, ``STATUS_OVERHEAD``, ``ERROR_OFFSET``,
    ``status_head_state`` and ``intact_status_block`` describe the packets.
    """

    def __init__(self, protocol: ModuleType, ids: Sequence[int], length: int, word_format: str | None = None) -> None:
        self.n_packets = len(ids)
        self.packet_size = protocol.STATUS_OVERHEAD + length
        self.size = self.n_packets * self.packet_size
        error = protocol.ERROR_OFFSET
        # One unpack cuts the whole block: per packet its fixed head (header, id, length
        # field, instruction), its error byte and its data (bytes, or with ``word_format``
        # the one integer the data holds); the checksum is skipped here.
        check = self.packet_size - error - 1 - length
        data = f"{length}s" if word_format is None else word_format
        if struct.calcsize("<" + data) != length:
            raise ValueError(f"word format {word_format!r} does not hold {length} bytes")
        self._fields = struct.Struct("<" + f"{error}sB{data}{check}x" * self.n_packets)
        self._words = None if word_format is None else struct.Struct("<" + word_format * self.n_packets)
        self._heads = tuple(protocol.status(i, 0, bytes(length))[:error] for i in ids)
        self._head_states = tuple(protocol.status_head_state(head) for head in self._heads)
        self._intact = protocol.intact_status_block

    def split(self, block: bytes) -> tuple[tuple[int, ...], tuple[bytes, ...] | tuple[int, ...]] | None:
        """``(errors, data)`` of a block that is exactly the expected packets with right
        checksums: the error byte and the ``length`` data bytes of each packet (or its word,
        with ``word_format``), in id order.
        None when anything differs; what is wrong is then for the packet-by-packet parse to say.

        Plain ``struct`` and bytes work: for a bus's handful of packets, a few C calls cost
        less than array operations (this runs between a reply and the next command)."""
        if len(block) != self.size:
            return None
        fields = self._fields.unpack(block)
        if fields[0::3] != self._heads or not self._intact(block, self.packet_size, self._head_states):
            return None
        return fields[1::3], fields[2::3]

    def data_of(self, params: Sequence[bytes]) -> tuple[bytes, ...] | tuple[int, ...]:
        """The packets' parameters (each ``length`` bytes, in id order) in the form
        :meth:`split` gives its data: for replies that came apart and were parsed one by one."""
        if self._words is None:
            return tuple(params)
        return self._words.unpack(b"".join(params))
