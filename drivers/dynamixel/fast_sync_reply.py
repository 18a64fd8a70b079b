"""The reply to one FAST_SYNC_READ checked and cut in one pass.

FAST_SYNC_READ is answered by a single status packet from the broadcast id: a fixed head
(header, id 0xFE, length, instruction 0x55), then per motor ``ERR ID DATA CRC``, where each
CRC covers the packet from its first byte to that motor's data. When all goes well it is
exactly ``fast_sync_size(length, n)`` bytes with the motors in request order, which is what
:meth:`FastSyncReplyLayout.split` checks with one ``struct`` call and a CRC carried through
the packet once. Anything else goes to :func:`protocol.decode_fast_sync`, which says what is
wrong.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from drivers.dynamixel import protocol


class FastSyncReplyLayout:
    """What the reply to a FAST_SYNC_READ of ``length`` bytes from ``ids`` looks like; with
    ``word_format`` (a ``struct`` code of ``length`` bytes) the data come out as integers.

    Duck-types :class:`drivers.sync_reply.SyncReplyLayout` for the bus: ``size``,
    ``n_packets``, ``packet_size``, :meth:`split`, :meth:`data_of`."""

    def __init__(self, ids: Sequence[int], length: int, word_format: str | None = None) -> None:
        n = len(ids)
        self.ids = tuple(ids)
        self.length = length
        self.n_packets = 1
        self.size = self.packet_size = protocol.fast_sync_size(length, n)
        field_length = self.size - 7  # instruction, parameters, CRC
        self._head = protocol.HEADER + bytes([protocol.BROADCAST_ID, field_length & 0xFF, field_length >> 8,
                                              protocol.Instruction.STATUS])
        self._head_crc = protocol.crc16(self._head)
        data = f"{length}s" if word_format is None else word_format
        if struct.calcsize("<" + data) != length:
            raise ValueError(f"word format {word_format!r} does not hold {length} bytes")
        # Per motor: error byte, id, data (bytes or one integer), CRC field.
        self._fields = struct.Struct(f"<{len(self._head)}x" + f"BB{data}H" * n)
        self._words = None if word_format is None else struct.Struct("<" + word_format * n)
        starts = [len(self._head) + k * (length + 4) for k in range(n)]
        self._spans = tuple((start, start + 2 + length) for start in starts)

    def split(self, block: bytes) -> tuple[tuple[int, ...], tuple[bytes, ...] | tuple[int, ...]] | None:
        """``(errors, data)`` in id order when ``block`` is exactly the expected reply with
        every CRC right; None when anything differs."""
        if len(block) != self.size or block[:len(self._head)] != self._head:
            return None
        fields = self._fields.unpack(block)
        if fields[1::4] != self.ids:
            return None
        crc16, past_field = protocol.crc16, protocol.crc16_past_field
        crc = self._head_crc
        for (start, end), field in zip(self._spans, fields[3::4]):
            crc = crc16(block[start:end], crc)
            if crc != field:
                return None
            crc = past_field(crc)
        return fields[0::4], fields[2::4]

    def data_of(self, params: Sequence[bytes]) -> tuple[bytes, ...] | tuple[int, ...]:
        """Each motor's ``length`` data bytes (in id order) in the form :meth:`split` gives them."""
        if self._words is None:
            return tuple(params)
        return self._words.unpack(b"".join(params))
