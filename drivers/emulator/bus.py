"""``VirtualBus``: emulated Dynamixel or Feetech servos behind a pseudo-terminal.

A background thread reads the master side of a pty with ``poll``, splits the bytes into
packets, lets the protocol handler answer under the bus lock (advancing the plant to the
current time first), and writes all replies to one request with one ``os.write``, optionally
at the time a real bus would deliver their last byte. Test code inspects and pokes the
servos through the same lock.

Example::

    specs = [ServoSpec(id=i, model="XM430-W350") for i in (1, 2, 3)]
    with VirtualBus("dynamixel", specs, baud=1_000_000) as bus:
        port = bus.port  # give this path to any serial client: the SDK, our MotorBus
        bus.inject_hardware_error(2, 0x20)  # overload on servo 2
"""

from __future__ import annotations

import errno
import logging
import os
import select
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import numpy as np

from drivers.dynamixel.tables import MODELS as DYNAMIXEL_MODELS
from drivers.emulator.dynamixel_handler import DynamixelHandler
from drivers.emulator.dynamixel_servo import DynamixelServo
from drivers.emulator.faults import FaultConfig, FaultInjector
from drivers.emulator.feetech_handler import FeetechHandler
from drivers.emulator.feetech_servo import MEMORY_SIZE as FEETECH_MEMORY_SIZE
from drivers.emulator.feetech_servo import FeetechServo
from drivers.emulator.framing import DynamixelFramer, FeetechFramer
from drivers.emulator.layout import Layout
from drivers.emulator.plant import Plant, PlantCommand, PlantState
from drivers.emulator.pty import PseudoTerminal, make_link, remove_link
from drivers.emulator.servo import ShaftState, VirtualServo
from drivers.emulator.servo_model import ServoModelPlant, params_for
from drivers.emulator.servo_set import Reply, ServoSet
from drivers.emulator.spec import ServoSpec
from drivers.errors import ConfigurationError, EmulatorError
from drivers.feetech.tables import MODELS as FEETECH_MODELS
from drivers.registers import ControlTable

log = logging.getLogger(__name__)

BITS_PER_BYTE = 10  # 8N1
# Sleep until this close to a reply's time, then spin. A sleep usually overshoots by about
# 60 us, but on a virtual machine whose cores are all idle (the client asleep as well) one
# in eight overshot by 0.6 ms with 0.3 ms here, and the reply came that late (bench/bus.py).
SPIN_S = 0.001
READ_CHUNK = 65536


class _Vendor(NamedTuple):
    models: dict[str, ControlTable]
    servo: type[VirtualServo]
    handler: type[DynamixelHandler] | type[FeetechHandler]
    framer: type[DynamixelFramer] | type[FeetechFramer]
    memory_size: int | None


VENDORS: dict[str, _Vendor] = {
    "dynamixel": _Vendor(DYNAMIXEL_MODELS, DynamixelServo, DynamixelHandler, DynamixelFramer, None),
    "feetech": _Vendor(FEETECH_MODELS, FeetechServo, FeetechHandler, FeetechFramer, FEETECH_MEMORY_SIZE),
}


@dataclass
class BusStats:
    """Counters of one emulated bus since it started."""

    requests: int = 0  # whole packets received (any id, valid or not)
    replies: int = 0  # status packets written (corrupted ones included)
    dropped: int = 0  # status packets withheld by fault injection
    corrupted: int = 0  # status packets sent with a flipped byte
    unsent_bytes: int = 0  # reply bytes that did not fit in the pty (no client reading)
    discarded_bytes: int = 0  # received bytes that were not part of a packet


class VirtualBus:
    """Emulated servos answering on a pseudo-terminal, in a background thread.

    protocol: ``"dynamixel"`` (Protocol 2.0, X series) or ``"feetech"`` (STS).
    servos: one :class:`ServoSpec` per servo; models may be mixed within the protocol.
    baud: every servo's Baud Rate register is set to this at power-on (it must be one the
        model supports); with ``wire_timing`` it also prices bytes when the client's own baud
        cannot be learnt.
    faults: corrupted/dropped/late replies and a lost port (:class:`FaultConfig`).
    wire_timing: deliver each reply when a real bus would have: the request's bytes, then per
        servo its return delay and its reply bytes, at 10 bits per byte. Off, replies leave as
        soon as computed (return delays still apply).
    check_client_baud: a servo only hears a client whose configured baud equals its own (read
        from the pty's termios), as on a real bus; off, every servo hears every request.
    plant: what moves the shafts; default :class:`ServoModelPlant` from the specs' params.
    link: a symlink created to the pty's slave (and removed on stop), for a stable path.
    tick_s: with no request for this long, the plant is stepped anyway.

    Raises :class:`ConfigurationError` for an unknown protocol or model, a duplicate id or an
    unsupported baud; :class:`EmulatorError` (on ``start``) when the pty cannot be set up.
    """

    def __init__(self, protocol: str, servos: Sequence[ServoSpec], *, baud: int = 1_000_000,
                 faults: FaultConfig | None = None, wire_timing: bool = False,
                 check_client_baud: bool = True, plant: Plant | None = None,
                 link: str | os.PathLike[str] | None = None, tick_s: float = 0.01) -> None:
        vendor = VENDORS.get(protocol)
        if vendor is None:
            raise ConfigurationError(f"unknown protocol {protocol!r}; known: {', '.join(VENDORS)}")
        if not servos:
            raise ConfigurationError("a virtual bus needs at least one servo")
        ids = [s.id for s in servos]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"duplicate servo ids in {ids}")
        self.protocol = protocol
        self.specs = tuple(servos)
        self.baud = baud
        self.faults = faults or FaultConfig()
        self.wire_timing = wire_timing
        self.check_client_baud = check_client_baud
        self.tick_s = tick_s
        self._link_request = link
        self.link: Path | None = None
        tables = [self._table(vendor, spec) for spec in self.specs]
        params = [spec.params or params_for(spec.model) for spec in self.specs]
        initial = np.array([spec.initial_position_rad for spec in self.specs], dtype=np.float64)
        self.plant: Plant = plant if plant is not None else ServoModelPlant(params, initial)
        self.command = PlantCommand.idle(initial)
        self._shafts = ShaftState(position_rad=initial.tolist(), velocity_rad_s=[0.0] * len(initial),
                                  torque_nm=[0.0] * len(initial))
        self._advance(time.monotonic())
        layouts = {t.model: Layout(t, vendor.memory_size) for t in tables}
        self.servos = ServoSet([
            vendor.servo(spec, layouts[table.model], i, self.command, self._shafts, p, baud)
            for i, (spec, table, p) in enumerate(zip(self.specs, tables, params))])
        self._handler = vendor.handler(self.servos)
        self._framer = vendor.framer()
        self._injector = FaultInjector(self.faults)
        self._stats = BusStats()
        self._lock = threading.Lock()
        self._pty: PseudoTerminal | None = None
        self._thread: threading.Thread | None = None
        self._wake_r = self._wake_w = -1
        self._stop_requested = False
        self._disconnect_requested = False
        self._disconnected = False
        self._closed = threading.Event()
        self._failure: BaseException | None = None
        self._wire_free_s = 0.0
        self._busy = False  # the serving thread is between reading bytes and answering them
        self._handled = 0  # requests completely handled (replies written)

    @staticmethod
    def _table(vendor: _Vendor, spec: ServoSpec) -> ControlTable:
        table = vendor.models.get(spec.model)
        if table is None:
            raise ConfigurationError(f"servo {spec.id}: unknown model {spec.model!r}; "
                                     f"known: {', '.join(sorted(vendor.models))}")
        return table

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> "VirtualBus":
        """Open the pty (and the link) and start answering; returns ``self``."""
        if self._thread is not None:
            return self
        try:
            self._pty = PseudoTerminal()
            self._wake_r, self._wake_w = os.pipe()
        except OSError as exc:
            raise EmulatorError(f"cannot set up the virtual bus: {exc}") from exc
        if self._link_request is not None:
            self.link = make_link(self._link_request, self._pty.slave_path)
        self._thread = threading.Thread(target=self._serve, name=f"virtual-bus {self._pty.slave_path}",
                                        daemon=True)
        self._thread.start()
        log.info("virtual %s bus of %d servos on %s", self.protocol, len(self.specs), self._pty.slave_path)
        return self

    def stop(self) -> None:
        """Stop answering, close the pty and remove the link. Idempotent."""
        self._stop_requested = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        if self._pty is not None:
            if self.link is not None:
                remove_link(self.link, self._pty.slave_path)
            self._pty.close()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> "VirtualBus":
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def disconnect(self) -> None:
        """Close the pty as if the adapter were unplugged: clients' reads and writes fail."""
        if self._thread is None or self._closed.is_set():
            if self._pty is not None:
                self._pty.close()
            self._disconnected = True
            return
        self._disconnect_requested = True
        self._wake()
        self._closed.wait(timeout=5.0)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the serving thread ends (stop, disconnect or failure); True if it did."""
        return self._closed.wait(timeout_s)

    def wait_idle(self, timeout_s: float = 1.0, *, requests: int | None = None) -> bool:
        """Wait until the requests a client has written are answered (useful after a broadcast
        write, which has no reply to wait for); True if so within ``timeout_s``.

        Without ``requests``: until no byte the client has written is left unread and the
        serving thread is not handling any. Exact, with no time guessed: a byte whose write
        has returned counts as pending at once (:meth:`PseudoTerminal.pending_bytes`), and
        the serving thread marks itself busy before it reads, so between the two checks, in
        this order, no byte can go unseen. (A wait for 2 ms of quiet, as here before, is
        fooled whenever the kernel takes longer than that to hand a write over, under load.)
        With ``requests``: until that many packets in all (``stats.requests``) have been
        handled.
        """
        deadline = time.monotonic() + timeout_s
        while self.running:
            if requests is not None:
                if self._handled >= requests and not self._busy:
                    return True
            elif self._pty is None or (self._pty.pending_bytes() == 0 and not self._busy):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0001)
        return True

    def check(self) -> None:
        """Raise :class:`EmulatorError` if the serving thread died of an exception."""
        if self._failure is not None:
            raise EmulatorError(f"the virtual bus failed: {self._failure!r}") from self._failure

    @property
    def port(self) -> str:
        """Path of the pty's slave: the serial port clients open."""
        if self._pty is None:
            raise EmulatorError("the virtual bus is not started")
        return self._pty.slave_path

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._closed.is_set()

    @property
    def disconnected(self) -> bool:
        return self._disconnected

    @property
    def stats(self) -> BusStats:
        """A snapshot of the counters."""
        with self._lock:
            return replace(self._stats, dropped=self._injector.dropped, corrupted=self._injector.corrupted,
                           discarded_bytes=self._framer.discarded_bytes)

    # -- inspection and fault injection (any thread) -----------------------------------------------
    @property
    def ids(self) -> list[int]:
        """Current ids of the servos, in the order of ``servos`` given to the constructor."""
        with self._lock:
            return [s.id for s in self.servos.servos]

    def read_register(self, motor_id: int, name: str) -> int:
        """Raw value of register ``name`` of the servo whose id is ``motor_id``, up to date."""
        with self._lock:
            servo = self._servo(motor_id)
            self._advance(time.monotonic())
            servo.refresh()
            return servo.value(name)

    def write_register(self, motor_id: int, name: str, raw: int) -> None:
        """Set register ``name`` as if written on the bus (side effects and EEPROM rules apply)
        but without the access checks. Raises :class:`ConfigurationError` if out of range."""
        with self._lock:
            servo = self._servo(motor_id)
            reg = servo.table[name]
            self._advance(time.monotonic())
            servo.poke(reg.address, reg.encode(raw))

    def read_memory(self, motor_id: int, address: int, length: int) -> bytes:
        """``length`` raw bytes of control-table memory from ``address``, present values fresh."""
        with self._lock:
            servo = self._servo(motor_id)
            self._advance(time.monotonic())
            servo.refresh()
            if address < 0 or address + length > len(servo.memory):
                raise ConfigurationError(f"{length} bytes at {address} exceed the {len(servo.memory)}-byte memory")
            return bytes(servo.memory[address:address + length])

    def write_memory(self, motor_id: int, address: int, data: bytes) -> None:
        """Store raw bytes (side effects apply, no access checks)."""
        with self._lock:
            self._advance(time.monotonic())
            self._servo(motor_id).poke(address, bytes(data))

    def saved_eeprom(self, motor_id: int) -> bytes:
        """The EEPROM area as a power cycle would restore it."""
        with self._lock:
            return self._servo(motor_id).saved_eeprom

    def inject_hardware_error(self, motor_id: int, bits: int) -> None:
        """Raise hardware error ``bits``: Dynamixel Hardware Error Status bits
        (:class:`drivers.dynamixel.protocol.HardwareError`; every status then has ALERT) or Feetech
        status bits (:class:`drivers.feetech.protocol.StatusFlag`). Bits in the servo's shutdown
        (Dynamixel) or unloading (Feetech) mask switch its torque off."""
        if not 0 < bits <= 0xFF:
            raise ConfigurationError(f"hardware error bits must be within 1..255, got {bits}")
        with self._lock:
            self._advance(time.monotonic())
            self._servo(motor_id).inject_hardware_error(bits)

    def clear_hardware_error(self, motor_id: int) -> None:
        with self._lock:
            self._servo(motor_id).clear_hardware_error()

    def power_cycle(self, motor_id: int | None = None) -> None:
        """Switch one servo (or all) off and on: unpersisted EEPROM reverts, RAM is factory,
        errors clear, torque is off, goal = present."""
        with self._lock:
            self._advance(time.monotonic())
            targets = self.servos.servos if motor_id is None else [self._servo(motor_id)]
            for servo in targets:
                servo.power_on()

    def plant_state(self) -> PlantState:
        """The shafts now, in the order of the constructor's ``servos``."""
        with self._lock:
            self._advance(time.monotonic())
            s = self._shafts
            return PlantState(np.array(s.position_rad), np.array(s.velocity_rad_s), np.array(s.torque_nm))

    def _servo(self, motor_id: int) -> VirtualServo:
        found = self.servos.by_current_id(motor_id)
        if len(found) != 1:
            raise ConfigurationError(f"{'no' if not found else len(found)} servos with id {motor_id} "
                                     f"on the virtual bus (ids: {[s.id for s in self.servos.servos]})")
        return found[0]

    def _advance(self, now_s: float) -> None:
        state = self.plant.advance(now_s, self.command)
        shafts = self._shafts
        shafts.position_rad = state.position_rad.tolist()
        shafts.velocity_rad_s = state.velocity_rad_s.tolist()
        shafts.torque_nm = state.torque_nm.tolist()
        shafts.now_s = now_s
        shafts.generation += 1

    # -- serving thread ------------------------------------------------------------------------------
    def _wake(self) -> None:
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass  # pipe full: the thread is already awake

    def _serve(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - reported through check() and the log
            log.exception("virtual bus on %s failed", self.port)
            self._failure = exc
        finally:
            self._closed.set()

    def _loop(self) -> None:
        pty = self._pty
        if pty is None:
            return
        master = pty.master_fd
        poller = select.poll()
        poller.register(master, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        tick_ms = max(1, round(self.tick_s * 1000))
        while True:
            events = poller.poll(tick_ms)
            if self._stop_requested:
                return
            if self._disconnect_requested:
                self._drop_port()
                return
            if not any(fd == master for fd, _ in events):
                if events:
                    os.read(self._wake_r, 64)
                with self._lock:
                    self._advance(time.monotonic())
                continue
            now_s = time.monotonic()
            self._busy = True
            try:
                data = os.read(master, READ_CHUNK)
            except BlockingIOError:
                self._busy = False
                continue
            except OSError as exc:
                log.warning("virtual bus %s: reading the pty failed: %s", pty.slave_path, exc)
                return
            for frame in self._framer.feed(data, now_s):
                alive = self._handle(frame.data, frame.start_s)
                self._handled += 1
                if not alive:
                    return
            self._busy = False

    def _handle(self, request: bytes, start_s: float) -> bool:
        """Answer one packet; False when the port is gone."""
        pty = self._pty
        if pty is None:
            return False
        self._stats.requests += 1
        limit = self.faults.disconnect_after_packets
        if limit is not None and self._stats.requests > limit:
            log.info("virtual bus %s: disconnecting after %d packets", pty.slave_path, limit)
            self._drop_port()
            return False
        client_baud = pty.client_baud() if self.check_client_baud else None
        with self._lock:
            self._advance(time.monotonic())
            replies = self._handler.handle(request, client_baud)
        byte_s = BITS_PER_BYTE / (client_baud or self.baud) if self.wire_timing else 0.0
        due_s = max(start_s, self._wire_free_s) + len(request) * byte_s
        out = self._apply_faults(replies)
        for data, delay_s in out:
            due_s += delay_s + len(data) * byte_s
        if out:
            due_s += self.faults.extra_delay_s
        self._wire_free_s = due_s
        if out:
            _sleep_until(due_s)
            self._stats.replies += len(out)
            return self._send(b"".join(data for data, _ in out))
        return True

    def _apply_faults(self, replies: list[Reply]) -> list[Reply]:
        if not self.faults.active:
            return replies
        out = []
        for reply in replies:
            data = self._injector.apply(reply.data)
            if data is not None:
                out.append(Reply(data, reply.delay_s))
        return out

    def _send(self, data: bytes) -> bool:
        pty = self._pty
        if pty is None:
            return False
        try:
            sent = os.write(pty.master_fd, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF):
                log.warning("virtual bus %s: the pty is gone: %s", pty.slave_path, exc)
                return False
            raise
        if sent < len(data):  # nobody reads the slave and its buffer is full: bytes are lost
            self._stats.unsent_bytes += len(data) - sent
            log.debug("virtual bus %s: %d reply bytes not delivered", pty.slave_path, len(data) - sent)
        return True

    def _drop_port(self) -> None:
        if self._pty is not None:
            self._pty.close()
        self._disconnected = True


def _sleep_until(due_s: float) -> None:
    """Wait until ``time.monotonic()`` reaches ``due_s``: sleep, then spin the last stretch."""
    while True:
        remaining = due_s - time.monotonic()
        if remaining <= 0.0:
            return
        if remaining > SPIN_S:
            time.sleep(remaining - SPIN_S)
