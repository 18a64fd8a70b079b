"""The motor bus: named motors, vectorised group reads and writes in SI units.

:class:`MotorBus` holds what is common to both vendors (locking, retries, deadlines,
splitting replies, unit conversion); :mod:`drivers.dynamixel.bus` and
:mod:`drivers.feetech.bus` add the packet codec and control tables of their protocol.

Every transaction holds ``self.lock``, so the control loop and a diagnostics reader may
share one bus. A read either returns fresh values or raises: there is no silent reuse of an
earlier reading. The reply to a read that timed out may still come, after the next request
(whichever thread sent it) has dropped stale input: the parse skips it by its sender's id
and its size (:meth:`MotorBus._answers_another_request`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from types import ModuleType, TracebackType
from typing import Any, TypeVar

import numpy as np

from drivers.errors import (BusTimeoutError, ConfigurationError, MalformedReplyError,
                            TransientBusError)
from drivers.motor import Motor, PingResult
from drivers.registers import Access, Area, ControlTable, Register
from drivers.sync_reply import SyncReplyLayout
from drivers.transport import SerialTransport, wire_time_s

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class _Group:
    """The motors a group read or write names, resolved once (the control loop names the
    same ones every cycle): ``register`` is None when their models place it differently;
    ``first`` is the first motor's, for unit conversion (one bus, one unit per register)."""

    motors: tuple[Motor, ...]
    ids: tuple[int, ...]
    register: Register | None
    first: Register


@dataclass(frozen=True)
class SyncReadPlan:
    """A group read (SYNC_READ, or a protocol's variant such as FAST_SYNC_READ) prepared once:
    its request packet, its replies' layout, its description."""

    packet: bytes
    ids: tuple[int, ...]
    replies: Any  # a SyncReplyLayout, or a protocol's own (drivers.dynamixel.fast_sync_reply)
    what: str


class MotorBus:
    """A serial bus of named motors of one protocol.

    ``port`` is a device path, a pyserial URL or an open :class:`SerialTransport`.
    ``retries`` is how many times a transaction is repeated after a transient error
    (timeout, checksum, malformed reply). ``return_delay_s`` is the motors' status return
    delay, used to size read deadlines.
    """

    #: The packet module of the protocol (``drivers.dynamixel.protocol`` or ``drivers.feetech.protocol``).
    protocol: ModuleType
    #: Control tables of the models this protocol speaks, by model name.
    models: dict[str, ControlTable]
    #: Bytes needed to learn a packet's size (header, id, length).
    head_size: int
    #: Bytes of a status packet around its parameters.
    status_overhead: int
    #: Byte offset of the sender's id in a packet.
    id_offset: int
    name: str = "bus"

    def __init__(self, port: str | SerialTransport, motors: Sequence[Motor] = (), *, baud: int = 1_000_000,
                 retries: int = 2, return_delay_s: float = 0.0, timeout_margin_s: float = 0.01) -> None:
        self.transport = port if isinstance(port, SerialTransport) else SerialTransport(
            port, baud, margin_s=timeout_margin_s)
        self.retries = retries
        self.return_delay_s = return_delay_s
        self.lock = threading.RLock()
        self.stats: Counter[str] = Counter()
        self.motors: dict[str, Motor] = {}
        self.tables: dict[str, ControlTable] = {}
        # Fault bits from the last status of each motor id (hardware alerts, protections).
        self.fault_bits: dict[int, int] = {}
        # Resolved once, used every cycle: request packets and reply layouts, register layouts.
        self._sync_reads: dict[tuple, SyncReadPlan] = {}
        self._layout_cache: dict[tuple, Register | None] = {}
        self._groups: dict[tuple, _Group] = {}
        for motor in motors:
            self.add_motor(motor)

    # -- motors ------------------------------------------------------------------------------
    def add_motor(self, motor: Motor) -> None:
        if motor.name in self.motors:
            raise ConfigurationError(f"motor name {motor.name!r} used twice")
        if any(m.id == motor.id for m in self.motors.values()):
            raise ConfigurationError(f"motor id {motor.id} used twice (motor {motor.name!r})")
        if not 0 <= motor.id <= self.protocol.MAX_ID:
            raise ConfigurationError(f"motor {motor.name!r}: id {motor.id} is out of range 0..{self.protocol.MAX_ID}")
        self.motors[motor.name] = motor
        self.tables[motor.name] = self.table(motor.model, motor.name)
        self._groups.clear()  # "all motors" now means one more

    def table(self, model: str, who: str = "") -> ControlTable:
        try:
            return self.models[model]
        except KeyError:
            where = f" (motor {who!r})" if who else ""
            raise ConfigurationError(
                f"unknown {self.name} model {model!r}{where}; known: {', '.join(sorted(self.models))}") from None

    @property
    def names(self) -> list[str]:
        return list(self.motors)

    def _select(self, names: Sequence[str] | None) -> list[Motor]:
        if names is None:
            return list(self.motors.values())
        try:
            return [self.motors[n] for n in names]
        except KeyError as exc:
            raise ConfigurationError(f"no motor named {exc.args[0]!r} on this bus; known: {self.names}") from None

    def register(self, name: str, register: str) -> Register:
        return self.tables[name][register]

    def _group(self, register: str, names: Sequence[str] | None) -> _Group:
        """The motors ``names`` (all by default) and their ``register``; cached per call shape."""
        key = (register, None if names is None else tuple(names))
        group = self._groups.get(key)
        if group is None:
            motors = self._select(names)
            common = self._common_register(motors, register)
            group = self._groups[key] = _Group(tuple(motors), tuple(m.id for m in motors), common,
                                               self.tables[motors[0].name][register])
        return group

    def _common_register(self, motors: Sequence[Motor], register: str) -> Register | None:
        """The register if it sits at the same address and size on every motor, else None.
        Cached: the control loop asks the same question every cycle."""
        key = (tuple(m.name for m in motors), register)
        if key not in self._layout_cache:
            regs = [self.tables[m.name][register] for m in motors]
            first = regs[0]
            same = all(r.address == first.address and r.size == first.size for r in regs)
            self._layout_cache[key] = first if same else None
        return self._layout_cache[key]

    # -- lifecycle -------------------------------------------------------------------------
    def open(self) -> "MotorBus":
        self.transport.open()
        return self

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "MotorBus":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- transaction machinery ---------------------------------------------------------------
    def _with_retries(self, what: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                with self.lock:
                    self.stats["transactions"] += 1
                    return fn()
            except TransientBusError as exc:
                self.stats[type(exc).__name__] += 1
                if attempt >= self.retries:
                    self.stats["failed"] += 1
                    raise
                attempt += 1
                self.stats["retries"] += 1
                log.debug("%s: %s; retry %d of %d", what, exc, attempt, self.retries)

    def _send(self, packet: bytes) -> None:
        self.transport.discard_input()
        self.transport.write(packet)

    def _receive(self, sizes: Sequence[int], ids: Sequence[int], what: str) -> list[bytes]:
        """One status packet per id, in order. ``sizes`` are the sizes without stuffing;
        a longer (stuffed) packet or garbage before a header is read past, never misread."""
        first, deadline, timeout = self._read_replies(sum(sizes), len(sizes))
        return self._split_replies(first, deadline, timeout, sizes, ids, what)

    def _read_replies(self, n_bytes: int, n_replies: int) -> tuple[bytes, float, float]:
        """Wait for the ``n_bytes`` of ``n_replies`` replies to the request just sent.

        Returns what came (all of it, or less when the deadline passed), the deadline
        (``time.monotonic()``) and the timeout it was set from, in seconds. The replies start
        once the request (and whatever was written before it) has left the line."""
        delays = self.return_delay_s * n_replies + self.transport.tx_backlog_s()
        timeout = self.transport.reply_timeout_s(n_bytes, delays)
        deadline = time.monotonic() + timeout
        arrival = wire_time_s(n_bytes, self.transport.baud) + delays
        return self.transport.read(n_bytes, timeout, arrival), deadline, timeout

    def _split_replies(self, first: bytes, deadline: float, timeout: float, sizes: Sequence[int],
                       ids: Sequence[int], what: str) -> list[bytes]:
        """:meth:`_receive` after its first read (``first``): reads on until every packet
        is whole, skipping garbage and late replies to earlier requests."""
        buf = bytearray(first)
        packets: list[bytes] = []
        offset = 0
        index = 0
        while index < len(ids):
            motor_id = ids[index]
            size = 0
            while True:
                if not size and len(buf) - offset >= self.head_size:
                    offset = self._skip_to_header(buf, offset)
                    if len(buf) - offset >= self.head_size:
                        size = self.protocol.declared_size(bytes(buf[offset:offset + self.head_size]))
                        if size > 2 * sizes[index] + 16:
                            raise MalformedReplyError(
                                f"{what}: reply of id {motor_id} declares {size} bytes, expected "
                                f"{sizes[index]} (corrupt length at byte offset {offset})", motor_id)
                if size and len(buf) - offset >= size:
                    break
                need = (size or sizes[index]) - (len(buf) - offset) + sum(sizes[index + 1:])
                remaining = deadline - time.monotonic()
                more = self.transport.read(max(need, 1), remaining) if remaining > 0 else b""
                if not more:
                    raise BusTimeoutError(
                        f"{what}: no complete reply from motor {motor_id} within {timeout * 1e3:.1f} ms "
                        f"({len(packets)} of {len(ids)} replies received)", motor_id)
                buf += more
            sender = buf[offset + self.id_offset]
            raw = bytes(buf[offset:offset + size])
            if sender not in ids[index:] or self._answers_another_request(raw, sizes[ids.index(sender, index)]):
                # A late reply to an earlier, timed-out transaction: skip it and keep waiting.
                self.stats["stale_replies"] += 1
                offset += size
                continue
            packets.append(raw)
            offset += size
            index += 1
        return packets

    def _answers_another_request(self, raw: bytes, size: int) -> bool:
        """Whether ``raw``, a whole packet from a motor whose reply of ``size`` bytes (without
        stuffing) is awaited, is intact yet cannot be that reply: a late reply to an earlier
        request to the same motor, such as another thread's read of another register that
        timed out (its reply can arrive after the next request's ``discard_input``).

        It is when its checksum is right and it holds another number of data bytes. Feetech
        packets are never stuffed, so any other size says so; a Dynamixel 2.0 packet is only
        made longer by stuffing, so a shorter one has too few bytes, and a longer one is
        decoded (unstuffed) to count them. A corrupt packet is not skipped but left for
        :meth:`_decode_status` to raise about. A packet of the awaited size is taken for the
        reply: neither protocol numbers its transactions, so a late reply to a read of as
        many bytes from the same motor cannot be told from it by any byte."""
        if len(raw) == size:
            return False
        try:
            params = self.protocol.decode(raw).params
        except TransientBusError:
            return False
        return len(params) != size - self.status_overhead

    def _skip_to_header(self, buf: bytearray, offset: int) -> int:
        """Offset of the next header at or after ``offset``; garbage before it is counted."""
        header = self.protocol.HEADER
        if buf.startswith(header, offset):
            return offset
        found = buf.find(header, offset)
        self.stats["resync"] += 1
        if found >= 0:
            return found
        # Keep a possible partial header at the end of what has arrived.
        return max(offset, len(buf) - len(header) + 1)

    def _decode_status(self, raw: bytes, motor_id: int, n_params: int, what: str) -> bytes:
        pkt = self.protocol.decode(raw)
        if pkt.motor_id != motor_id:
            raise MalformedReplyError(f"{what}: expected a reply from id {motor_id}, got id {pkt.motor_id}", motor_id)
        self._check_error(pkt.error or 0, motor_id, what)
        if n_params >= 0 and len(pkt.params) != n_params:
            raise MalformedReplyError(
                f"{what}: reply from id {motor_id} has {len(pkt.params)} data bytes, expected {n_params}", motor_id)
        return pkt.params

    def _check_error(self, error: int, motor_id: int, what: str) -> None:
        """Record fault bits; raise :class:`StatusError` when the instruction itself failed.
        An error byte of 0 means a healthy motor: fault bits 0, nothing raised."""
        raise NotImplementedError

    def _check_errors(self, ids: Sequence[int], errors: Sequence[int], what: str) -> None:
        """:meth:`_check_error` for the error bytes of a group's replies (in id order)."""
        if any(errors):
            for motor_id, error in zip(ids, errors):
                self._check_error(error, motor_id, what)
        else:
            self.fault_bits.update(dict.fromkeys(ids, 0))

    # -- single-motor instructions -----------------------------------------------------------
    def ping(self, motor_id: int) -> PingResult:
        raise NotImplementedError

    def scan(self, ids: Iterable[int] = range(0, 253), on_found: Callable[[PingResult], None] | None = None
             ) -> list[PingResult]:
        """Ping each id in turn (without retries) and return those that answer."""
        found = []
        retries, self.retries = self.retries, 0
        try:
            for motor_id in ids:
                try:
                    result = self.ping(motor_id)
                except BusTimeoutError:
                    continue
                found.append(result)
                if on_found:
                    on_found(result)
        finally:
            self.retries = retries
        return found

    def read_raw_one(self, motor_id: int, address: int, length: int) -> bytes:
        what = f"read {length} bytes at address {address} of id {motor_id}"

        def transaction() -> bytes:
            self._send(self.protocol.read(motor_id, address, length))
            raw = self._receive([self.status_overhead + length], [motor_id], what)[0]
            return self._decode_status(raw, motor_id, length, what)

        return self._with_retries(what, transaction)

    def write_raw_one(self, motor_id: int, address: int, data: bytes, *, wait_reply: bool = True) -> None:
        what = f"write {len(data)} bytes at address {address} of id {motor_id}"

        def transaction() -> None:
            self._send(self.protocol.write(motor_id, address, data))
            if wait_reply:
                raw = self._receive([self.status_overhead], [motor_id], what)[0]
                self._decode_status(raw, motor_id, 0, what)

        self._with_retries(what, transaction)

    def read_register_one(self, motor_id: int, model: str, register: str) -> int:
        reg = self.table(model)[register]
        return reg.decode(self.read_raw_one(motor_id, reg.address, reg.size))

    def write_register_one(self, motor_id: int, model: str, register: str, raw: int) -> None:
        reg = self.table(model)[register]
        if reg.access is Access.R:
            raise ConfigurationError(f"register {register} of {model} is read-only")
        data = reg.encode(int(raw))
        if reg.area is Area.EEPROM:
            self._write_eeprom(motor_id, model, reg, data)
        else:
            self.write_raw_one(motor_id, reg.address, data)

    def _write_eeprom(self, motor_id: int, model: str, reg: Register, data: bytes) -> None:
        self._write_maybe_moving(motor_id, reg, data)

    def _write_maybe_moving(self, motor_id: int, reg: Register, data: bytes) -> None:
        """Write; after a change of id or baud the reply (if any) comes from the new address or
        at the new rate, so it is not waited for but given time and discarded."""
        if reg.name in ("id", "baud_rate"):
            self.write_raw_one(motor_id, reg.address, data, wait_reply=False)
            time.sleep(0.02)
            self.transport.discard_input()
        else:
            self.write_raw_one(motor_id, reg.address, data)

    # -- group reads and writes --------------------------------------------------------------
    def read_raw(self, register: str, names: Sequence[str] | None = None) -> np.ndarray:
        """Raw integer values of ``register`` for ``names`` (all motors by default), shape (n,)."""
        group = self._group(register, names)
        reg = group.register
        if reg is None:
            return self._read_block_per_motor(group.motors, [register])[register]
        return self._read_register(reg, group.ids)

    def _read_register(self, reg: Register, ids: tuple[int, ...]) -> np.ndarray:
        """One register of ``ids`` by SYNC_READ, raw values (n,). A register of 1, 2 or 4
        bytes comes out of the reply as integers in the same ``struct`` call that cuts it."""
        if reg.word_format is None:
            return reg.decode_array(self.group_read(reg.address, reg.size, ids))
        plan = self._sync_read_plan(reg.address, reg.size, ids, reg.word_format)
        words = self._with_retries(plan.what, partial(self._sync_read, plan))
        return np.array(reg.decode_words(words), dtype=np.int64)

    def read(self, register: str, names: Sequence[str] | None = None) -> np.ndarray:
        """Values of ``register`` in SI units (its ``unit``), shape (n,)."""
        return self._group(register, names).first.to_si(self.read_raw(register, names))

    def read_many(self, registers: Sequence[str], names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Several registers in one transaction when they are close together; SI units."""
        motors = self._select(names)
        raw = self.read_block(motors, registers)
        return {r: self.tables[motors[0].name][r].to_si(raw[r]) for r in registers}

    def read_block(self, motors: Sequence[Motor], registers: Sequence[str]) -> dict[str, np.ndarray]:
        """Read the span covering ``registers`` from every motor; raw ints per register."""
        regs = [self._common_register(motors, r) for r in registers]
        if any(r is None for r in regs):
            return self._read_block_per_motor(motors, registers)
        start = min(r.address for r in regs)
        length = max(r.address + r.size for r in regs) - start
        block = self.group_read(start, length, [m.id for m in motors])
        return {name: r.decode_array(block[:, r.address - start:r.address - start + r.size])
                for name, r in zip(registers, regs)}

    def _read_block_per_motor(self, motors: Sequence[Motor], registers: Sequence[str]) -> dict[str, np.ndarray]:
        out = {r: np.zeros(len(motors), dtype=np.int64) for r in registers}
        for i, motor in enumerate(motors):
            for r in registers:
                reg = self.tables[motor.name][r]
                out[r][i] = reg.decode(self.read_raw_one(motor.id, reg.address, reg.size))
        return out

    def group_read(self, address: int, length: int, ids: Sequence[int]) -> np.ndarray:
        """SYNC_READ of ``length`` bytes at ``address``; uint8 array (len(ids), length)."""
        plan = self._sync_read_plan(address, length, ids)
        data = self._with_retries(plan.what, partial(self._sync_read, plan))
        return np.frombuffer(b"".join(data), dtype=np.uint8).reshape(len(data), length)

    def _sync_read_plan(self, address: int, length: int, ids: Sequence[int],
                        word_format: str | None = None) -> SyncReadPlan:
        """The SYNC_READ of ``length`` bytes at ``address`` from ``ids``, prepared on first use;
        with ``word_format`` its replies' data come out as integers of that ``struct`` code."""
        key = (address, length, tuple(ids), word_format, self._sync_read_kind())
        plan = self._sync_reads.get(key)
        if plan is None:
            plan = self._sync_reads[key] = self._prepare_sync_read(address, length, list(ids), word_format)
        return plan

    def _sync_read_kind(self) -> str:
        """Which instruction group reads use now (a protocol may offer more than SYNC_READ)."""
        return "sync"

    def _prepare_sync_read(self, address: int, length: int, ids: list[int], word_format: str | None) -> SyncReadPlan:
        return SyncReadPlan(self.protocol.sync_read(address, length, ids), tuple(ids),
                            SyncReplyLayout(self.protocol, ids, length, word_format),
                            f"sync read of {length} bytes at address {address} from ids {ids}")

    def _sync_read(self, plan: SyncReadPlan) -> tuple[bytes, ...] | tuple[int, ...]:
        """One SYNC_READ transaction; the data of each reply in id order, as the plan's
        layout gives them (bytes, or integers). Nearly every cycle the replies are the
        expected packets back to back, checked and split in one pass; anything else goes to
        the packet-by-packet parse, which reads on past garbage and late replies and raises
        what is wrong."""
        self._send(plan.packet)
        layout = plan.replies
        block, deadline, timeout = self._read_replies(layout.size, layout.n_packets)
        split = layout.split(block)
        if split is not None:
            errors, data = split
            self._check_errors(plan.ids, errors, plan.what)
            return data
        return self._parse_sync_replies(plan, block, deadline, timeout)

    def _parse_sync_replies(self, plan: SyncReadPlan, block: bytes, deadline: float, timeout: float
                            ) -> tuple[bytes, ...] | tuple[int, ...]:
        """:meth:`_sync_read` when the replies are not the expected block: packet by packet."""
        layout = plan.replies
        raws = self._split_replies(block, deadline, timeout, [layout.packet_size] * layout.n_packets,
                                   plan.ids, plan.what)
        n_params = layout.packet_size - self.status_overhead
        return layout.data_of([self._decode_status(raw, motor_id, n_params, plan.what)
                               for raw, motor_id in zip(raws, plan.ids)])

    def write_raw(self, register: str, raw: np.ndarray | Sequence[int], names: Sequence[str] | None = None) -> None:
        """SYNC_WRITE raw integers to ``register`` of ``names``; range checked before sending."""
        group = self._group(register, names)
        raw = np.asarray(raw, dtype=np.int64).reshape(-1)
        if raw.shape[0] != len(group.ids):
            raise ConfigurationError(f"write {register}: {raw.shape[0]} values for {len(group.ids)} motors")
        reg = group.register
        if reg is None:
            for motor, value in zip(group.motors, raw):
                self.write_register_one(motor.id, motor.model, register, int(value))
            return
        if reg.access is Access.R:
            raise ConfigurationError(f"register {register} is read-only")
        if reg.word_format is None:
            self.group_write(reg.address, reg.size, group.ids, reg.encode_array(raw, group.ids))
            return
        # One word per motor: checked and packed in plain Python, cheaper than array
        # operations for a bus's dozen values (this runs between a reply and the command).
        words = reg.encode_words(raw.tolist(), group.ids)
        self._write_no_reply(self.protocol.sync_write_words(reg.address, reg.size, group.ids, words,
                                                            reg.word_format))

    def write(self, register: str, values: np.ndarray | Sequence[float], names: Sequence[str] | None = None) -> None:
        """SYNC_WRITE values in SI units (the register's ``unit``)."""
        self.write_raw(register, self._group(register, names).first.from_si(values), names)

    def group_write(self, address: int, length: int, ids: Sequence[int], data: np.ndarray) -> None:
        """SYNC_WRITE ``data`` (uint8, (len(ids), length)); no reply is expected."""
        self._write_no_reply(self.protocol.sync_write_block(address, length, ids, data))

    def _write_no_reply(self, packet: bytes) -> None:
        with self.lock:
            self.stats["transactions"] += 1
            self.transport.write(packet)  # no reply: stale input is dropped before the next request

    def action(self) -> None:
        with self.lock:
            self._send(self.protocol.action())
