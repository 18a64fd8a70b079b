"""Answer Dynamixel Protocol 2.0 instruction packets as a bus of X-series servos would.

One entry point, :meth:`DynamixelHandler.handle`: a whole packet in, the status packets the
servos send back out (in bus order, each with its servo's return delay). Rules applied:

- Unicast instructions are answered by the addressed servo; broadcast ones only by PING
  (every servo, in id order) and the group reads (the listed servos, in list order).
- Status Return Level: 0 answers only PING, 1 also the reads, 2 everything.
- Unknown instruction, or ACTION with nothing registered: INSTRUCTION (0x02). Parameters of
  the wrong size: DATA_LENGTH (0x05). A bad CRC on a unicast packet: CRC (0x03).
- FAST_SYNC_READ and FAST_BULK_READ are answered by one combined packet
  (:func:`drivers.dynamixel.protocol.fast_sync_status`); a listed servo that is absent leaves
  its block out.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.dynamixel import protocol
from drivers.dynamixel.protocol import BROADCAST_ID, Instruction, Packet, StatusCode
from drivers.emulator.servo import VirtualServo
from drivers.emulator.servo_set import Reply, ServoSet
from drivers.errors import ChecksumError, MalformedReplyError

ById = dict[int, list[VirtualServo]]
Handler = Callable[[Packet, ById, list[VirtualServo]], list[Reply]]

LEVEL_PING, LEVEL_READ, LEVEL_ALL = 0, 1, 2
FACTORY_RESET_KEEP = {0xFF: frozenset(), 0x01: frozenset({"id"}), 0x02: frozenset({"id", "baud_rate"})}


def _u16(data: bytes, offset: int) -> int:
    return data[offset] | data[offset + 1] << 8


def _status(servo: VirtualServo, code: int = 0, params: bytes = b"", motor_id: int | None = None) -> Reply:
    motor_id = servo.id if motor_id is None else motor_id
    return Reply(protocol.status(motor_id, code | servo.status_error(), params), servo.return_delay_s)


def _answer(servo: VirtualServo, level: int, code: int = 0, params: bytes = b"") -> list[Reply]:
    return [_status(servo, code, params)] if servo.status_return_level >= level else []


class DynamixelHandler:
    """Protocol 2.0 semantics over a :class:`ServoSet` of :class:`DynamixelServo`."""

    def __init__(self, servos: ServoSet) -> None:
        self.servos = servos
        self._handlers: dict[int, Handler] = {
            Instruction.PING: self._ping,
            Instruction.READ: self._read,
            Instruction.WRITE: self._write,
            Instruction.REG_WRITE: self._reg_write,
            Instruction.ACTION: self._action,
            Instruction.REBOOT: self._reboot,
            Instruction.FACTORY_RESET: self._factory_reset,
            Instruction.SYNC_READ: self._sync_read,
            Instruction.FAST_SYNC_READ: self._fast_sync_read,
            Instruction.SYNC_WRITE: self._sync_write,
            Instruction.BULK_READ: self._bulk_read,
            Instruction.FAST_BULK_READ: self._fast_bulk_read,
            Instruction.BULK_WRITE: self._bulk_write,
        }

    def handle(self, frame: bytes, client_baud: int | None) -> list[Reply]:
        """The replies to ``frame`` (one whole packet) from the servos at ``client_baud``."""
        by_id, ordered = self.servos.listening(client_baud)
        motor_id = frame[4]
        if motor_id != BROADCAST_ID and motor_id not in by_id:
            return []
        try:
            packet = protocol.decode(frame, expect_status=False)
        except ChecksumError:
            if motor_id == BROADCAST_ID:
                return []
            return [r for s in by_id[motor_id] for r in _answer(s, LEVEL_ALL, StatusCode.CRC)]
        except MalformedReplyError:
            return []
        handler = self._handlers.get(packet.instruction)
        if handler is None:
            if motor_id == BROADCAST_ID:
                return []
            return [r for s in by_id[motor_id] for r in _answer(s, LEVEL_ALL, StatusCode.INSTRUCTION)]
        return handler(packet, by_id, ordered)

    @staticmethod
    def _targets(packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[VirtualServo]:
        return ordered if packet.motor_id == BROADCAST_ID else by_id.get(packet.motor_id, [])

    # -- single-servo instructions ---------------------------------------------------------------
    def _ping(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        replies = []
        for servo in self._targets(packet, by_id, ordered):
            info = servo.table.model_number.to_bytes(2, "little") + bytes([servo.value("firmware_version")])
            replies.append(_status(servo, 0, info))
        return replies

    def _read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        if packet.motor_id == BROADCAST_ID:
            return []
        replies: list[Reply] = []
        for servo in by_id[packet.motor_id]:
            if len(packet.params) != 4:
                replies += _answer(servo, LEVEL_READ, StatusCode.DATA_LENGTH)
                continue
            code, data = servo.read(_u16(packet.params, 0), _u16(packet.params, 2))
            replies += _answer(servo, LEVEL_READ, code, data)
        return replies

    def _write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        # The status leaves before new settings take effect: a write of the ID, baud or status
        # return level is answered from the old id, at the old baud, under the old level.
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            level = servo.status_return_level
            if len(packet.params) < 3:
                code = StatusCode.DATA_LENGTH
            else:
                code = servo.write(_u16(packet.params, 0), packet.params[2:])
            if packet.motor_id != BROADCAST_ID and level >= LEVEL_ALL:
                replies.append(_status(servo, code, motor_id=packet.motor_id))
        return replies

    def _reg_write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            if len(packet.params) < 3:
                code = StatusCode.DATA_LENGTH
            else:
                address, data = _u16(packet.params, 0), packet.params[2:]
                code = servo.write_error(servo.layout.span(address, len(data)), address, data)
                if not code:
                    servo.registered = (address, data)
                    servo.poke(servo.table["registered_instruction"].address, b"\x01")
            if packet.motor_id != BROADCAST_ID:
                replies += _answer(servo, LEVEL_ALL, code)
        return replies

    def _action(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            registered, servo.registered = servo.registered, None
            code = StatusCode.OK if registered else StatusCode.INSTRUCTION
            if registered:
                servo.poke(servo.table["registered_instruction"].address, b"\x00")
                servo.write(*registered)
            if packet.motor_id != BROADCAST_ID:
                replies += _answer(servo, LEVEL_ALL, code)
        return replies

    def _reboot(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            if packet.motor_id != BROADCAST_ID:
                replies += _answer(servo, LEVEL_ALL)
            servo.power_on()
        return replies

    def _factory_reset(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        if packet.motor_id == BROADCAST_ID:
            return []
        replies: list[Reply] = []
        for servo in by_id[packet.motor_id]:
            keep = FACTORY_RESET_KEEP.get(packet.params[0]) if len(packet.params) == 1 else None
            if keep is None:
                replies += _answer(servo, LEVEL_ALL, StatusCode.DATA_RANGE if packet.params else
                                   StatusCode.DATA_LENGTH)
            elif servo.torque_on:
                replies += _answer(servo, LEVEL_ALL, StatusCode.ACCESS)
            else:
                replies += _answer(servo, LEVEL_ALL)
                servo.factory_reset(keep)
        return replies

    # -- group instructions ----------------------------------------------------------------------
    def _sync_read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or len(params) < 5:
            return []
        address, length = _u16(params, 0), _u16(params, 2)
        replies: list[Reply] = []
        for motor_id in params[4:]:
            for servo in by_id.get(motor_id, ()):
                code, data = servo.read(address, length)
                replies += _answer(servo, LEVEL_READ, code, data)
        return replies

    def _fast_sync_read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or len(params) < 5:
            return []
        address, length = _u16(params, 0), _u16(params, 2)
        return self._fast_reply([(motor_id, address, length) for motor_id in params[4:]], by_id)

    def _bulk_read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        items = self._bulk_read_items(packet)
        replies: list[Reply] = []
        for motor_id, address, length in items:
            for servo in by_id.get(motor_id, ()):
                code, data = servo.read(address, length)
                replies += _answer(servo, LEVEL_READ, code, data)
        return replies

    def _fast_bulk_read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        return self._fast_reply(self._bulk_read_items(packet), by_id)

    @staticmethod
    def _bulk_read_items(packet: Packet) -> list[tuple[int, int, int]]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or not params or len(params) % 5:
            return []
        return [(params[i], _u16(params, i + 1), _u16(params, i + 3)) for i in range(0, len(params), 5)]

    @staticmethod
    def _fast_reply(items: list[tuple[int, int, int]], by_id: ById) -> list[Reply]:
        blocks: list[tuple[int, int, bytes]] = []
        delay_s = 0.0
        for motor_id, address, length in items:
            for servo in by_id.get(motor_id, ()):
                if servo.status_return_level < LEVEL_READ:
                    continue
                code, data = servo.read(address, length)
                if not blocks:
                    delay_s = servo.return_delay_s
                blocks.append((code | servo.status_error(), servo.id, data if not code else bytes(length)))
        return [Reply(protocol.fast_sync_status(blocks), delay_s)] if blocks else []

    def _sync_write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or len(params) < 5:
            return []
        address, length = _u16(params, 0), _u16(params, 2)
        if length == 0 or (len(params) - 4) % (length + 1):
            return []
        for i in range(4, len(params), length + 1):
            for servo in by_id.get(params[i], ()):
                servo.write(address, params[i + 1:i + 1 + length])
        return []

    def _bulk_write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID:
            return []
        items: list[tuple[int, int, bytes]] = []
        i = 0
        while i + 5 <= len(params):
            length = _u16(params, i + 3)
            if i + 5 + length > len(params):
                return []  # malformed: a real servo cannot find its part either
            items.append((params[i], _u16(params, i + 1), params[i + 5:i + 5 + length]))
            i += 5 + length
        if i != len(params):
            return []
        for motor_id, address, data in items:
            for servo in by_id.get(motor_id, ()):
                servo.write(address, data)
        return []
