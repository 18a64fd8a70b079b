"""Motor bus for Dynamixel Protocol 2.0 servos (X series)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from drivers.bus import MotorBus, SyncReadPlan
from drivers.dynamixel import protocol
from drivers.dynamixel.fast_sync_reply import FastSyncReplyLayout
from drivers.dynamixel.tables import MODELS
from drivers.errors import ConfigurationError, StatusError
from drivers.motor import Motor, PingResult
from drivers.registers import ControlTable, Register

_MODEL_BY_NUMBER = {t.model_number: t.model for t in MODELS.values()}


class DynamixelBus(MotorBus):
    """Dynamixel 2.0 bus. ``fast_sync_read=True`` uses FAST_SYNC_READ (one combined reply,
    about 30 % fewer bytes; X-series firmware 46 and newer)."""

    protocol = protocol
    models: dict[str, ControlTable] = MODELS
    head_size = 7
    id_offset = 4
    status_overhead = protocol.STATUS_OVERHEAD
    name = "Dynamixel"

    def __init__(self, *args, fast_sync_read: bool = False, **kwargs) -> None:
        kwargs.setdefault("return_delay_s", 500e-6)  # factory default: 250 x 2 us
        super().__init__(*args, **kwargs)
        self.fast_sync_read = fast_sync_read

    def _check_error(self, error: int, motor_id: int, what: str) -> None:
        self.fault_bits[motor_id] = error & protocol.ALERT_BIT
        if error & 0x7F:
            flags = protocol.decode_status_error(error)
            hint = ""
            if error & 0x7F == protocol.StatusCode.ACCESS:
                hint = " (EEPROM registers can only be written with torque off; read-only registers never)"
            raise StatusError(f"{what}: motor {motor_id} answered {'|'.join(flags)}{hint}", motor_id, flags)

    def ping(self, motor_id: int) -> PingResult:
        what = f"ping of id {motor_id}"

        def transaction() -> PingResult:
            self._send(protocol.ping(motor_id))
            raw = self._receive([self.status_overhead + 3], [motor_id], what)[0]
            params = self._decode_status(raw, motor_id, 3, what)
            number = params[0] | params[1] << 8
            return PingResult(motor_id, number, str(params[2]), _MODEL_BY_NUMBER.get(number), self.transport.baud)

        return self._with_retries(what, transaction)

    def _sync_read_kind(self) -> str:
        return "fast" if self.fast_sync_read else "sync"

    def _prepare_sync_read(self, address: int, length: int, ids: list[int], word_format: str | None) -> SyncReadPlan:
        if not self.fast_sync_read:
            return super()._prepare_sync_read(address, length, ids, word_format)
        return SyncReadPlan(protocol.fast_sync_read(address, length, ids), tuple(ids),
                            FastSyncReplyLayout(ids, length, word_format),
                            f"fast sync read of {length} bytes at address {address} from ids {ids}")

    def _parse_sync_replies(self, plan: SyncReadPlan, block: bytes, deadline: float, timeout: float
                            ) -> tuple[bytes, ...] | tuple[int, ...]:
        layout = plan.replies
        if not isinstance(layout, FastSyncReplyLayout):
            return super()._parse_sync_replies(plan, block, deadline, timeout)
        # One packet from the broadcast id; decode_fast_sync says what is wrong with it.
        raw = self._split_replies(block, deadline, timeout, [layout.size], [protocol.BROADCAST_ID], plan.what)[0]
        params = []
        for motor_id, (error, data) in zip(plan.ids, protocol.decode_fast_sync(raw, plan.ids, layout.length)):
            self._check_error(error, motor_id, plan.what)
            params.append(data)
        return layout.data_of(params)

    def _read_block_per_motor(self, motors: Sequence[Motor], registers: Sequence[str]) -> dict[str, np.ndarray]:
        """Mixed models with registers at different addresses: one BULK_READ."""
        spans = []
        for motor in motors:
            regs = [self.tables[motor.name][r] for r in registers]
            start = min(r.address for r in regs)
            spans.append((motor.id, start, max(r.address + r.size for r in regs) - start, regs))
        blocks = self.bulk_read([(i, a, n) for i, a, n, _ in spans])
        out = {r: np.zeros(len(motors), dtype=np.int64) for r in registers}
        for k, (_, start, _, regs) in enumerate(spans):
            for name, reg in zip(registers, regs):
                out[name][k] = reg.decode(blocks[k][reg.address - start:])
        return out

    def bulk_read(self, items: Sequence[tuple[int, int, int]]) -> list[bytes]:
        """BULK_READ: ``items`` of (id, address, length); the data of each, in order."""
        ids = [i for i, _, _ in items]
        what = f"bulk read from ids {ids}"

        def transaction() -> list[bytes]:
            self._send(protocol.bulk_read(items))
            raws = self._receive([self.status_overhead + n for _, _, n in items], ids, what)
            return [self._decode_status(raw, i, n, what) for raw, (i, _, n) in zip(raws, items)]

        return self._with_retries(what, transaction)

    def bulk_write(self, items: Sequence[tuple[int, int, bytes]]) -> None:
        with self.lock:
            self.stats["transactions"] += 1
            self._send(protocol.bulk_write(items))

    def reboot(self, motor_id: int) -> None:
        what = f"reboot of id {motor_id}"

        def transaction() -> None:
            self._send(protocol.reboot(motor_id))
            raw = self._receive([self.status_overhead], [motor_id], what)[0]
            self._decode_status(raw, motor_id, 0, what)

        self._with_retries(what, transaction)

    def hardware_errors(self, motor_id: int, model: str) -> tuple[str, ...]:
        """Decoded Hardware Error Status of one motor (empty when healthy)."""
        return protocol.decode_hardware_error(self.read_register_one(motor_id, model, "hardware_error_status"))

    def _write_eeprom(self, motor_id: int, model: str, reg: Register, data: bytes) -> None:
        try:
            self._write_maybe_moving(motor_id, reg, data)
        except StatusError as exc:
            if "ACCESS" in exc.flags:
                raise ConfigurationError(
                    f"cannot write EEPROM register {reg.name} of motor {motor_id} while its torque is on; "
                    f"turn torque off first (robot-rl motors torque off ...)") from exc
            raise
