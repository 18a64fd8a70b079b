"""Serial transport: owns one port, moves bytes with deadlines computed from the baud rate.

pyserial does the operating-system work; this class adds what a request/response servo bus
needs: read deadlines sized from the number of expected bytes, stale input dropped before
every request, and OS errors turned into :mod:`drivers.errors` types.
"""

from __future__ import annotations

import logging
import math
import os
import select
import time
from types import TracebackType

import serial

try:  # termios errors (tcflush on a vanished pty or adapter) are not OSError subclasses
    import termios
    _OS_ERRORS: tuple[type[BaseException], ...] = (OSError, serial.SerialException, termios.error)
except ImportError:  # Windows
    _OS_ERRORS = (OSError, serial.SerialException)

from drivers.errors import BusTimeoutError, PortLostError, PortNotFoundError, TransportError
from drivers.latency_timer import check_latency_timer

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # 8N1: start bit, 8 data bits, stop bit.


def wire_time_s(n_bytes: int, baud: int) -> float:
    """Seconds that ``n_bytes`` take on the wire at ``baud`` (8N1 framing)."""
    return n_bytes * BITS_PER_BYTE / baud


class SerialTransport:
    """One serial port, opened by device path (``/dev/ttyUSB0``) or pyserial URL (``loop://``).

    ``margin_s`` is added to every read deadline to absorb USB latency and scheduling;
    1 ms is enough for a USB adapter whose latency timer is 1 ms.
    """

    def __init__(self, port: str, baud: int, *, margin_s: float = 0.01, spin_s: float = 500e-6,
                 spin_after_s: float = 600e-6) -> None:
        if baud <= 0:
            raise ValueError(f"baud must be positive, got {baud}")
        self.port = port
        self.baud = baud
        self.margin_s = margin_s
        # Poll without sleeping within this window around a reply's expected arrival: waking
        # from select costs 20-100 us of scheduling latency, spinning briefly does not, and
        # a core that has just woken runs the reply's parsing slower (cold caches). 0.5 ms
        # took 3-4 % off a 1 ms bus cycle against 0.15 ms (bench/bus.py, docs/motors.md).
        # math.inf polls the whole wait, as the vendor SDKs do (RobotConfig.poll_replies).
        self.spin_s = spin_s
        # ... and this long after it: a reply is rarely early and often a little late (the
        # servo's or the adapter's own latency). At most spin_s + spin_after_s of CPU per reply.
        self.spin_after_s = spin_after_s
        self._serial: serial.SerialBase | None = None
        self._fd: int | None = None  # POSIX ports: read and write the descriptor directly
        self._timeout_s: float | None = None
        self.latency_timer_ms: int | None = None
        # When the last byte written so far will have left the line (time.monotonic()). A
        # request written right after a sync write waits behind it on the half-duplex line,
        # so its reply comes that much later; read deadlines and polling windows count it.
        self._tx_done_s = 0.0

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> "SerialTransport":
        if self._serial is not None:
            return self
        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baud, timeout=0.0,
                                                 write_timeout=1.0, exclusive=None)
            fileno = getattr(self._serial, "fileno", None)
            self._fd = fileno() if fileno is not None and hasattr(self._serial, "pipe_abort_read_r") else None
        except (FileNotFoundError, serial.SerialException, OSError, ValueError) as exc:
            if _is_missing_device(exc):
                raise PortNotFoundError(f"serial port {self.port!r} does not exist") from exc
            raise TransportError(f"cannot open serial port {self.port!r}: {exc}") from exc
        self._timeout_s = 0.0
        self.latency_timer_ms = check_latency_timer(self.port)
        return self

    def close(self) -> None:
        """Wait for written bytes to leave (the last command is often torque off), then close."""
        port, self._serial, self._fd = self._serial, None, None
        if port is not None:
            try:
                port.flush()
            except _OS_ERRORS as exc:  # a lost port has nothing left to send
                log.debug("flushing %s: %s", self.port, exc)
            try:
                port.close()
            except _OS_ERRORS as exc:  # closing a lost port
                log.debug("closing %s: %s", self.port, exc)

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def __enter__(self) -> "SerialTransport":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- configuration ---------------------------------------------------------------------
    def set_baud(self, baud: int) -> None:
        """Change the port's baud rate (used by bus scans and ``set-baud``)."""
        port = self._require_open()
        try:
            port.baudrate = baud
        except (*_OS_ERRORS, ValueError) as exc:
            raise TransportError(f"{self.port}: cannot set baud {baud}: {exc}") from exc
        self.baud = baud

    def reply_timeout_s(self, n_bytes: int, extra_s: float = 0.0) -> float:
        """Deadline for ``n_bytes`` of reply: wire time, ``extra_s`` (return delays) and margin."""
        return wire_time_s(n_bytes, self.baud) + extra_s + self.margin_s

    def tx_backlog_s(self) -> float:
        """Seconds until every byte written so far has left the line (0 when idle)."""
        return max(0.0, self._tx_done_s - time.monotonic())

    # -- byte moving -----------------------------------------------------------------------
    def discard_input(self) -> None:
        """Drop stale input (late replies of an earlier, timed-out transaction)."""
        port = self._require_open()
        try:
            port.reset_input_buffer()
        except _OS_ERRORS as exc:
            raise PortLostError(f"{self.port}: port lost while clearing input: {exc}") from exc

    def write(self, data: bytes) -> None:
        port = self._require_open()
        if self._fd is not None:
            self._write_fd(data)
        else:
            try:
                port.write(data)
            except serial.SerialTimeoutException as exc:
                raise PortLostError(f"{self.port}: write of {len(data)} bytes timed out") from exc
            except _OS_ERRORS as exc:
                raise PortLostError(f"{self.port}: port lost while writing: {exc}") from exc
        self._tx_done_s = max(time.monotonic(), self._tx_done_s) + wire_time_s(len(data), self.baud)

    def _write_fd(self, data: bytes) -> None:
        # pyserial selects for writability after every write; a servo packet fits in the
        # driver's buffer, so one non-blocking write is enough and select is the rare fallback.
        fd = self._fd
        view = memoryview(data)
        deadline = time.monotonic() + 1.0
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                raise PortLostError(f"{self.port}: port lost while writing: {exc}") from exc
            view = view[n:]
            if view:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [fd], [], left)[1]:
                    raise PortLostError(f"{self.port}: write of {len(data)} bytes timed out")

    def read(self, n_bytes: int, timeout_s: float, expected_s: float | None = None) -> bytes:
        """Read up to ``n_bytes``; returns early only when the deadline passes.

        ``expected_s``: when the bytes should have arrived (from now); around that time the
        read polls instead of sleeping, for the lowest latency."""
        port = self._require_open()
        if self._fd is not None:
            return self._read_fd(n_bytes, timeout_s, expected_s)
        self._set_timeout(timeout_s)
        try:
            data = port.read(n_bytes)
        except _OS_ERRORS as exc:
            raise PortLostError(f"{self.port}: port lost while reading: {exc}") from exc
        return bytes(data)

    def _read_fd(self, n_bytes: int, timeout_s: float, expected_s: float | None) -> bytes:
        fd = self._fd
        now = time.monotonic()
        deadline = now + timeout_s
        spin_from = spin_until = deadline
        if expected_s is not None and self.spin_s > 0:
            spin_from, spin_until = now + expected_s - self.spin_s, now + expected_s + self.spin_after_s
        buf = bytearray()
        while len(buf) < n_bytes:
            if now >= deadline:
                break
            selected = not spin_from <= now < spin_until
            if selected:
                wake = spin_from if now < spin_from else deadline
                try:
                    if not select.select([fd], [], [], max(0.0, wake - now))[0]:
                        now = time.monotonic()
                        continue
                except OSError as exc:
                    raise PortLostError(f"{self.port}: port lost while reading: {exc}") from exc
            try:
                chunk = os.read(fd, n_bytes - len(buf))
            except BlockingIOError:
                chunk = b""
            except OSError as exc:
                raise PortLostError(f"{self.port}: port lost while reading: {exc}") from exc
            if not chunk:
                if selected:  # readable yet empty: the device is gone
                    raise PortLostError(f"{self.port}: port lost while reading (readable but no data: "
                                        f"device disconnected?)")
                now = time.monotonic()
                continue
            buf += chunk
            now = time.monotonic()
        return bytes(buf)

    def read_exactly(self, n_bytes: int, timeout_s: float, what: str = "reply",
                     motor_id: int | None = None) -> bytes:
        """Read exactly ``n_bytes`` or raise :class:`BusTimeoutError` saying how many came."""
        data = self.read(n_bytes, timeout_s)
        if len(data) != n_bytes:
            raise BusTimeoutError(
                f"{self.port}: {what} timed out after {timeout_s * 1e3:.1f} ms: got {len(data)} of "
                f"{n_bytes} bytes at {self.baud} baud", motor_id)
        return data

    def _set_timeout(self, timeout_s: float) -> None:
        # pyserial reconfigures the port on every timeout change; round up to 0.5 ms so a
        # fixed bus layout settles on one value and steady-state reads never reconfigure.
        quantized = math.ceil(timeout_s * 2000.0) / 2000.0
        if quantized != self._timeout_s and self._serial is not None:
            self._serial.timeout = quantized
            self._timeout_s = quantized

    def _require_open(self) -> serial.SerialBase:
        if self._serial is None:
            raise TransportError(f"serial port {self.port!r} is not open")
        return self._serial


def _is_missing_device(exc: BaseException) -> bool:
    if isinstance(exc, FileNotFoundError) or getattr(exc, "errno", None) == 2:
        return True
    return "[Errno 2]" in str(exc) or "No such file" in str(exc)
