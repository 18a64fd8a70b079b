"""Split the byte stream a client writes into instruction packets, as a servo's parser does.

Bytes arrive in chunks of any size: a packet may be split across reads, several packets may
come in one read, and noise may precede a header. A framer keeps the unfinished tail between
calls, skips to the next header, and forgets an unfinished packet when the line has been
quiet for ``stale_s`` (a servo's inter-byte timeout), so a client that died mid-packet cannot
swallow the next client's first request. Checksums are not checked here: a packet of the
declared length is handed over whole, and the protocol handler decides.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_STALE_S = 0.02


class Frame(NamedTuple):
    """One whole packet and the time (``time.monotonic``) its first byte was read."""

    data: bytes
    start_s: float


class _Framer:
    header: bytes = b""
    head_size: int = 0  # bytes needed to know the packet size

    def __init__(self, stale_s: float = DEFAULT_STALE_S) -> None:
        self.stale_s = stale_s
        self._buf = bytearray()
        self._start_s = 0.0
        self._last_s = 0.0
        self.discarded_bytes = 0

    def feed(self, data: bytes, now_s: float) -> list[Frame]:
        """Add ``data`` read at ``now_s``; return the packets completed by it, in order."""
        buf = self._buf
        if buf and now_s - self._last_s > self.stale_s:
            self.discarded_bytes += len(buf)
            buf.clear()
        if not buf:
            self._start_s = now_s
        self._last_s = now_s
        buf += data
        frames: list[Frame] = []
        while buf:
            at = buf.find(self.header)
            if at < 0:
                keep = self._partial_header_len()
                self.discarded_bytes += len(buf) - keep
                del buf[:len(buf) - keep]
                break
            if at:
                self.discarded_bytes += at
                del buf[:at]
                self._start_s = now_s
            if len(buf) < self.head_size:
                break
            size = self._size(buf)
            if size is None:  # impossible head: this was not a header, look further
                self.discarded_bytes += 1
                del buf[:1]
                continue
            if len(buf) < size:
                break
            frames.append(Frame(bytes(buf[:size]), self._start_s))
            del buf[:size]
            self._start_s = now_s
        return frames

    def _partial_header_len(self) -> int:
        for k in range(len(self.header) - 1, 0, -1):
            if self._buf.endswith(self.header[:k]):
                return k
        return 0

    def _size(self, head: bytearray) -> int | None:
        raise NotImplementedError


class DynamixelFramer(_Framer):
    """Protocol 2.0: ``FF FF FD 00 | ID | LEN_L LEN_H | ...``, size ``7 + LEN``."""

    header = b"\xff\xff\xfd\x00"
    head_size = 7
    max_size = 4096  # far above any instruction a client sends to these servos

    def _size(self, head: bytearray) -> int | None:
        length = head[5] | head[6] << 8
        if length < 3 or 7 + length > self.max_size or head[4] == 0xFF:
            return None
        return 7 + length


class FeetechFramer(_Framer):
    """Feetech STS/SMS: ``FF FF | ID | LEN | ...``, size ``4 + LEN``."""

    header = b"\xff\xff"
    head_size = 4

    def _size(self, head: bytearray) -> int | None:
        if head[2] == 0xFF or head[3] < 2:  # FF FF FF ...: the header starts one byte later
            return None
        return 4 + head[3]
