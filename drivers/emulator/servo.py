"""``VirtualServo``: one emulated servo's memory, identity and command, vendor-neutral part.

A servo holds its control table as a ``bytearray`` (what READ returns byte for byte), a copy
of the EEPROM area as last persisted (what a power cycle restores), its hardware error bits,
an instruction registered by REG_WRITE, and its slot in the bus's shared
:class:`~drivers.emulator.plant.PlantCommand`. Vendor subclasses
(:mod:`drivers.emulator.dynamixel_servo`, :mod:`drivers.emulator.feetech_servo`) decide which
writes are refused and with what error, what the status error byte says, and how registers map
to and from the plant's SI units.

Not thread-safe: the bus serialises every call under its lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from drivers.emulator.defaults import factory_defaults
from drivers.emulator.layout import Layout, Span, encode_word
from drivers.emulator.plant import PlantCommand
from drivers.emulator.servo_model import ServoParams
from drivers.emulator.spec import ServoSpec
from drivers.errors import ConfigurationError
from drivers.registers import Area, Encoding, Register

# Registers whose value the bus caches to route packets (id, baud) and time replies.
IDENTITY_REGISTERS = frozenset({"id", "baud_rate", "return_delay_time", "status_return_level"})


@dataclass
class ShaftState:
    """The plant's latest answer as Python floats, shared by the servos of one bus.

    ``generation`` grows on every plant step so that a servo refreshes its present registers
    at most once per step, and only when something reads them.
    """

    position_rad: list[float]
    velocity_rad_s: list[float] = field(default_factory=list)
    torque_nm: list[float] = field(default_factory=list)
    now_s: float = 0.0
    generation: int = 0


class _Slot:
    """Fast writer of one present-value register into memory (clipped, vendor-encoded)."""

    __slots__ = ("name", "address", "end", "size", "lo", "hi", "sign_bit", "mask")

    def __init__(self, reg: Register) -> None:
        self.name = reg.name
        self.address, self.size = reg.address, reg.size
        self.end = reg.address + reg.size
        self.lo, self.hi = reg.raw_limits
        self.sign_bit = reg.sign_bit if reg.encoding is Encoding.SIGN_MAGNITUDE else None
        self.mask = (1 << (8 * reg.size)) - 1

    def put(self, memory: bytearray, values: dict[str, int], raw: int) -> None:
        raw = self.lo if raw < self.lo else self.hi if raw > self.hi else raw
        if self.sign_bit is not None and raw < 0:
            word = -raw | (1 << self.sign_bit)
        else:
            word = raw & self.mask
        memory[self.address:self.end] = word.to_bytes(self.size, "little")
        values[self.name] = raw


class VirtualServo:
    """One emulated servo. ``index`` is its slot in the plant's arrays; ``baud`` the bus baud
    its Baud Rate register is set to at power-on."""

    # Set by subclasses -------------------------------------------------------------------------
    #: Registers refreshed from the plant before a read, by name.
    present_registers: tuple[str, ...] = ()
    #: ``True`` if an accepted EEPROM write is always persisted (Dynamixel), else see ``lock``.
    persist_always: bool = True

    def __init__(self, spec: ServoSpec, layout: Layout, index: int, command: PlantCommand,
                 shafts: ShaftState, params: ServoParams, baud: int) -> None:
        self.spec = spec
        self.table = layout.table
        self.layout = layout
        self.index = index
        self.command = command
        self.shafts = shafts
        self.params = params
        self.rad_per_tick = 2 * math.pi / self.table.ticks_per_turn
        self.memory = bytearray(layout.size)
        self.hardware_error = 0
        self.registered: tuple[int, bytes] | None = None
        self.on_identity_change: Callable[[], None] = lambda: None
        self.id = self.baud = self.status_return_level = 0
        self.return_delay_s = 0.0
        self.torque_on = False
        self._values: dict[str, int] = {}  # decoded mirror of memory, kept in step by every store
        self._generation = -1
        self._fresh: set[str] = set()  # present registers already refreshed at this generation
        self._present_spans: dict[tuple[int, int], frozenset[str]] = {}
        self._current_a = 0.0
        self._temperature_c = params.ambient_temperature_c
        self._temperature_s: float | None = None
        self._slots = {name: _Slot(self.table[name]) for name in self.present_registers if name in self.table}
        # The vendor's factory values (FACTORY_RESET) and the emulator's first power-on values.
        self._factory = factory_defaults(self.table)
        self._initial = dict(self._factory, id=spec.id, baud_rate=self.table.baud_value(baud))
        if spec.return_delay_raw is not None:
            self._initial["return_delay_time"] = spec.return_delay_raw
        if spec.status_return_level is not None:
            self._initial["status_return_level"] = spec.status_return_level
        for name, raw in self._initial.items():
            self._check_value(name, raw)
            self._store(name, raw)
        self.saved_eeprom = bytes(self.memory[:layout.eeprom_end])
        self.prepare()
        self._hooks: dict[str, Callable[[], None]] = self.make_hooks()
        self.power_on()

    def _check_value(self, name: str, raw: int) -> None:
        lo, hi = self.layout.limits[name]
        if not lo <= raw <= hi:
            raise ConfigurationError(f"{self.table.model} id {self.spec.id}: {name} = {raw} is outside {lo}..{hi}")

    # -- raw memory access ---------------------------------------------------------------------
    def value(self, name: str) -> int:
        """Raw value of register ``name`` as memory holds it now (present values may be stale).
        Raises :class:`ConfigurationError` for a register the model lacks."""
        try:
            return self._values[name]
        except KeyError:
            reg = self.table[name]  # raises for an unknown name
            return reg.decode(self.memory[reg.address:reg.address + reg.size])

    def _store(self, name: str, raw: int) -> None:
        reg = self.table[name]
        word = encode_word(reg, raw)
        self.memory[reg.address:reg.address + reg.size] = word
        self._values[name] = reg.decode(word)

    def _reload_values(self) -> None:
        memory = self.memory
        self._values = {reg.name: reg.decode(memory[reg.address:reg.address + reg.size]) for reg in self.table}

    def read(self, address: int, length: int) -> tuple[int, bytes]:
        """``(status code, data)`` for a READ; the data is empty when the code is not 0."""
        span = self.layout.span(address, length)
        code = self.read_error(span)
        if code:
            return code, b""
        self.refresh(address, length)
        return 0, bytes(self.memory[address:address + length])

    def write(self, address: int, data: bytes) -> int:
        """Validate and apply a WRITE; returns the status code (0: applied)."""
        span = self.layout.span(address, len(data))
        code = self.write_error(span, address, data)
        if code:
            return code
        self.poke(address, data, span)
        return 0

    def poke(self, address: int, data: bytes, span: Span | None = None) -> None:
        """Store ``data`` at ``address`` with every side effect of a write but no checks."""
        span = span or self.layout.span(address, len(data))
        if span.out_of_range:
            raise ConfigurationError(f"{self.table.model}: {len(data)} bytes at address {address} "
                                     f"exceed its {self.layout.size}-byte memory")
        memory, values = self.memory, self._values
        memory[address:address + len(data)] = data
        for reg in span.registers:
            values[reg.name] = reg.decode(memory[reg.address:reg.address + reg.size])
        eeprom = identity = False
        for reg in span.registers:  # after every value is in: a hook may read its neighbours
            hook = self._hooks.get(reg.name)
            if hook is not None:
                hook()
            eeprom = eeprom or reg.area is Area.EEPROM
            identity = identity or reg.name in IDENTITY_REGISTERS
        if eeprom and self.persists_eeprom():
            self.saved_eeprom = bytes(memory[:self.layout.eeprom_end])
        if identity:
            self.load_identity()

    def persists_eeprom(self) -> bool:
        return self.persist_always

    # -- lifecycle -------------------------------------------------------------------------------
    def power_on(self) -> None:
        """Restore persisted EEPROM, factory RAM, no error, torque off, goal = present."""
        end = self.layout.eeprom_end
        self.memory[:end] = self.saved_eeprom
        self._reload_values()
        for name, raw in self._initial.items():
            if self.table[name].area is Area.RAM:
                self._store(name, raw)
        self.hardware_error = 0
        self.registered = None
        self.torque_on = False
        self.command.torque_on[self.index] = False
        self.load_identity()
        self.load_command()
        self._generation = -1
        self.refresh()
        self.hold_present_position()

    def factory_reset(self, keep: frozenset[str]) -> None:
        """The vendor's factory EEPROM (id 1, factory baud...) except the registers in ``keep``,
        persisted, then a power-on."""
        for name, raw in self._factory.items():
            if self.table[name].area is Area.EEPROM and name not in keep:
                self._store(name, raw)
        self.saved_eeprom = bytes(self.memory[:self.layout.eeprom_end])
        self.power_on()

    def load_identity(self) -> None:
        previous = (self.id, self.baud)
        self.id = self.value("id")
        self.baud = self.table.baud_rates.get(self.value("baud_rate"), 0)
        self.return_delay_s = self.value("return_delay_time") * 2e-6
        self.status_return_level = self.value("status_return_level")
        if (self.id, self.baud) != previous:
            self.on_identity_change()

    # -- hardware errors -----------------------------------------------------------------------
    def inject_hardware_error(self, bits: int) -> None:
        """Raise hardware error ``bits``; a bit in the shutdown mask switches torque off."""
        self.hardware_error |= bits
        self.publish_hardware_error()
        if self.hardware_error & self.shutdown_mask():
            self.set_torque(False)

    def clear_hardware_error(self) -> None:
        self.hardware_error = 0
        self.publish_hardware_error()

    # -- torque and goal -------------------------------------------------------------------------
    def set_torque(self, on: bool) -> None:
        """Torque on holds the present position (goal := present); off lets the shaft coast."""
        if on and self.hardware_error & self.shutdown_mask():
            on = False
        was_on, self.torque_on = self.torque_on, on
        self._store("torque_enable", int(on))
        self.command.torque_on[self.index] = on
        if on and not was_on:
            self.hold_present_position()

    def hold_present_position(self) -> None:
        self.refresh()
        self._store("goal_position", self.value("present_position"))
        self.load_goal()

    # -- present values ----------------------------------------------------------------------------
    def refresh(self, address: int | None = None, length: int = 0) -> None:
        """Bring the present-value registers up to the plant's latest step: those within
        ``[address, address + length)``, or all when ``address`` is None. Each register is
        refreshed at most once per plant step, and only when something reads it."""
        shafts = self.shafts
        if self._generation != shafts.generation:
            self._generation = shafts.generation
            self._fresh = set()
            torque = shafts.torque_nm[self.index] if shafts.torque_nm else 0.0
            self._current_a = self.current_a(torque)
            self._update_temperature(shafts.now_s, self._current_a)
        wanted = self._present_within(address, length)
        missing = wanted - self._fresh if self._fresh else wanted
        if not missing:
            return
        i = self.index
        velocity = shafts.velocity_rad_s[i] if shafts.velocity_rad_s else 0.0
        torque = shafts.torque_nm[i] if shafts.torque_nm else 0.0
        self.write_present(shafts.position_rad[i], velocity, torque, self._current_a, shafts.now_s, missing)
        self._fresh |= missing

    def _present_within(self, address: int | None, length: int) -> frozenset[str]:
        key = (-1, 0) if address is None else (address, length)
        found = self._present_spans.get(key)
        if found is None:
            end = address + length if address is not None else 0
            found = frozenset(name for name, slot in self._slots.items()
                              if address is None or (slot.address < end and slot.end > address))
            self._present_spans[key] = found
        return found

    def current_a(self, torque_nm: float) -> float:
        """Motor current (A, signed like the torque) for ``torque_nm``."""
        if not self.torque_on:
            return 0.0
        current = torque_nm / self.params.torque_constant_nm_per_a
        return current + math.copysign(self.params.idle_current_a, current)

    @property
    def temperature_c(self) -> float:
        return self._temperature_c

    def _update_temperature(self, now_s: float, current_a: float) -> None:
        last, self._temperature_s = self._temperature_s, now_s
        if last is None or now_s <= last:
            return
        p = self.params
        target = p.ambient_temperature_c + p.temperature_rise_at_stall_c * (current_a / p.stall_current_a) ** 2
        blend = 1.0 - math.exp(-(now_s - last) / p.thermal_time_constant_s)
        self._temperature_c += (target - self._temperature_c) * blend

    def put(self, name: str, raw: int) -> None:
        """Write a present-value register (clipped to what it can hold)."""
        self._slots[name].put(self.memory, self._values, raw)

    # -- vendor specifics (subclasses) ----------------------------------------------------------
    def prepare(self) -> None:
        """Compute per-model constants; called once, before the first power-on."""

    def make_hooks(self) -> dict[str, Callable[[], None]]:
        """Register name -> what to do after a write stored it."""
        return {"torque_enable": lambda: self.set_torque(bool(self.value("torque_enable"))),
                "goal_position": self.load_goal, "homing_offset": self.load_goal}

    def read_error(self, span: Span) -> int:
        raise NotImplementedError

    def write_error(self, span: Span, address: int, data: bytes) -> int:
        raise NotImplementedError

    def status_error(self) -> int:
        """The error byte of this servo's next status packet, before any instruction error."""
        raise NotImplementedError

    def shutdown_mask(self) -> int:
        raise NotImplementedError

    def publish_hardware_error(self) -> None:
        raise NotImplementedError

    def load_goal(self) -> None:
        """Copy goal position from the registers into the plant command."""
        raise NotImplementedError

    def load_command(self) -> None:
        """Copy goal, profile and effort limit from the registers into the plant command."""
        raise NotImplementedError

    def write_present(self, position_rad: float, velocity_rad_s: float, torque_nm: float,
                      current_a: float, now_s: float, names: frozenset[str] | set[str]) -> None:
        """Encode the plant's state into the present-value registers in ``names``."""
        raise NotImplementedError
