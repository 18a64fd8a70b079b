"""Motor bus for Feetech STS/SMS servos."""

from __future__ import annotations

from drivers.bus import MotorBus
from drivers.feetech import protocol
from drivers.feetech.tables import MODELS
from drivers.motor import PingResult
from drivers.registers import ControlTable, Register

_MODEL_BY_NUMBER = {t.model_number: t.model for t in MODELS.values()}
LOCK_ADDRESS = 55  # the EEPROM write lock, the same on every STS/SMS model


class FeetechBus(MotorBus):
    """Feetech STS/SMS bus (little-endian STS memory layout)."""

    protocol = protocol
    models: dict[str, ControlTable] = MODELS
    head_size = 4
    id_offset = 2
    status_overhead = protocol.STATUS_OVERHEAD
    name = "Feetech"

    def _check_error(self, error: int, motor_id: int, what: str) -> None:
        # Feetech status error bits are protection states (voltage, overload, ...); the
        # instruction itself succeeded, so record them for the robot layer to act on.
        self.fault_bits[motor_id] = error

    def ping(self, motor_id: int) -> PingResult:
        what = f"ping of id {motor_id}"

        def transaction() -> None:
            self._send(protocol.ping(motor_id))
            raw = self._receive([self.status_overhead], [motor_id], what)[0]
            self._decode_status(raw, motor_id, 0, what)

        self._with_retries(what, transaction)
        info = self.read_raw_one(motor_id, 0, 5)  # firmware major, minor, (2), model number
        number = info[3] | info[4] << 8
        return PingResult(motor_id, number, f"{info[0]}.{info[1]}", _MODEL_BY_NUMBER.get(number), self.transport.baud)

    def fault_flags(self, motor_id: int) -> tuple[str, ...]:
        return protocol.decode_status_error(self.fault_bits.get(motor_id, 0))

    def _write_eeprom(self, motor_id: int, model: str, reg: Register, data: bytes) -> None:
        # Unlock, write, lock again: with the lock on, EEPROM writes are lost at power-off.
        # After a change of id or baud the motor must be locked at its new address or rate.
        self.write_raw_one(motor_id, LOCK_ADDRESS, b"\x00")
        old_baud = self.transport.baud
        try:
            self._write_maybe_moving(motor_id, reg, data)
            if reg.name == "id":
                motor_id = data[0]
            elif reg.name == "baud_rate":
                self.transport.set_baud(self.table(model).baud_rates[data[0]])
        finally:
            try:
                self.write_raw_one(motor_id, LOCK_ADDRESS, b"\x01")
            finally:
                if self.transport.baud != old_baud:
                    self.transport.set_baud(old_baud)
