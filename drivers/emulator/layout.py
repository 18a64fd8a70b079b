"""Byte-level map of a control table: which register owns each address, and how a span of
addresses touches registers. Built once per model; spans are cached because clients repeat
the same reads and writes every control cycle."""

from __future__ import annotations

from typing import NamedTuple

from drivers.registers import Area, ControlTable, Encoding, Register


class Span(NamedTuple):
    """How the addresses ``[address, address + length)`` meet the control table.

    registers: every register with at least one byte in the span, by address.
    out_of_range: the span reaches past the emulated memory (or is empty).
    undefined: a byte of the span belongs to no register.
    partial: a register is only partly inside the span.
    """

    registers: tuple[Register, ...]
    out_of_range: bool
    undefined: bool
    partial: bool


class Layout:
    """The memory map of ``table`` over ``size`` bytes (at least the table's own size)."""

    def __init__(self, table: ControlTable, size: int | None = None) -> None:
        self.table = table
        self.size = max(size or 0, table.memory_size)
        self.owner: list[Register | None] = [None] * self.size
        for reg in table:
            for a in range(reg.address, reg.address + reg.size):
                self.owner[a] = reg
        ram = [r.address for r in table if r.area is Area.RAM]
        self.eeprom_end = min(ram) if ram else self.size
        self.limits: dict[str, tuple[int, int]] = {r.name: r.raw_limits for r in table}
        self._spans: dict[tuple[int, int], Span] = {}

    def span(self, address: int, length: int) -> Span:
        key = (address, length)
        found = self._spans.get(key)
        if found is None:
            found = self._spans[key] = self._compute(address, length)
        return found

    def _compute(self, address: int, length: int) -> Span:
        end = address + length
        if length <= 0 or address < 0 or end > self.size:
            return Span((), True, False, False)
        regs: list[Register] = []
        undefined = False
        for a in range(address, end):
            reg = self.owner[a]
            if reg is None:
                undefined = True
            elif not regs or regs[-1] is not reg:
                regs.append(reg)
        partial = any(r.address < address or r.address + r.size > end for r in regs)
        return Span(tuple(regs), False, undefined, partial)


def encode_word(reg: Register, raw: int) -> bytes:
    """``raw`` as ``reg`` stores it, clipped to what the register can hold (no error)."""
    lo, hi = reg.raw_limits
    raw = lo if raw < lo else hi if raw > hi else raw
    if reg.encoding is Encoding.SIGN_MAGNITUDE and raw < 0:
        word = -raw | (1 << reg.sign_bit)
    else:
        word = raw & ((1 << (8 * reg.size)) - 1)
    return word.to_bytes(reg.size, "little")
