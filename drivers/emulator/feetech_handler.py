"""Answer Feetech STS/SMS instruction packets as a bus of STS servos would.

- Unicast instructions are answered by the addressed servo; broadcast PING by every servo in
  id order; SYNC_READ by each listed servo with its own status packet, in list order; other
  broadcasts get no reply.
- Status Return Level 0 answers only PING and the reads; 1 answers everything.
- There are no instruction error codes: a packet with a bad checksum, an unknown instruction
  or malformed parameters is ignored (no reply), like a servo that did not understand it.
"""

from __future__ import annotations

from collections.abc import Callable

from drivers.emulator.servo import VirtualServo
from drivers.emulator.servo_set import Reply, ServoSet
from drivers.errors import ChecksumError, MalformedReplyError
from drivers.feetech import protocol
from drivers.feetech.protocol import BROADCAST_ID, Instruction, Packet

ById = dict[int, list[VirtualServo]]
Handler = Callable[[Packet, ById, list[VirtualServo]], list[Reply]]

LEVEL_READ, LEVEL_ALL = 0, 1


def _status(servo: VirtualServo, params: bytes = b"", motor_id: int | None = None) -> Reply:
    motor_id = servo.id if motor_id is None else motor_id
    return Reply(protocol.status(motor_id, servo.status_error(), params), servo.return_delay_s)


def _answer(servo: VirtualServo, level: int, params: bytes = b"") -> list[Reply]:
    return [_status(servo, params)] if servo.status_return_level >= level else []


class FeetechHandler:
    """Feetech STS semantics over a :class:`ServoSet` of :class:`FeetechServo`."""

    def __init__(self, servos: ServoSet) -> None:
        self.servos = servos
        self._handlers: dict[int, Handler] = {
            Instruction.PING: self._ping,
            Instruction.READ: self._read,
            Instruction.WRITE: self._write,
            Instruction.REG_WRITE: self._reg_write,
            Instruction.ACTION: self._action,
            Instruction.SYNC_READ: self._sync_read,
            Instruction.SYNC_WRITE: self._sync_write,
        }

    def handle(self, frame: bytes, client_baud: int | None) -> list[Reply]:
        """The replies to ``frame`` (one whole packet) from the servos at ``client_baud``."""
        by_id, ordered = self.servos.listening(client_baud)
        motor_id = frame[2]
        if motor_id != BROADCAST_ID and motor_id not in by_id:
            return []
        try:
            packet = protocol.decode(frame, expect_status=False)
        except (ChecksumError, MalformedReplyError):
            return []
        handler = self._handlers.get(packet.instruction)
        return handler(packet, by_id, ordered) if handler is not None else []

    @staticmethod
    def _targets(packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[VirtualServo]:
        return ordered if packet.motor_id == BROADCAST_ID else by_id.get(packet.motor_id, [])

    def _ping(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        return [_status(servo) for servo in self._targets(packet, by_id, ordered)]

    def _read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        if packet.motor_id == BROADCAST_ID or len(packet.params) != 2:
            return []
        replies: list[Reply] = []
        for servo in by_id[packet.motor_id]:
            code, data = servo.read(packet.params[0], packet.params[1])
            if not code:
                replies += _answer(servo, LEVEL_READ, data)
        return replies

    def _write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        if len(packet.params) < 2:
            return []
        # Answered from the old id and under the old status return level (see the Dynamixel handler).
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            level = servo.status_return_level
            servo.write(packet.params[0], packet.params[1:])
            if packet.motor_id != BROADCAST_ID and level >= LEVEL_ALL:
                replies.append(_status(servo, motor_id=packet.motor_id))
        return replies

    def _reg_write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        if len(packet.params) < 2:
            return []
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            servo.registered = (packet.params[0], packet.params[1:])
            if packet.motor_id != BROADCAST_ID:
                replies += _answer(servo, LEVEL_ALL)
        return replies

    def _action(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        replies: list[Reply] = []
        for servo in self._targets(packet, by_id, ordered):
            registered, servo.registered = servo.registered, None
            if registered:
                servo.write(*registered)
            if packet.motor_id != BROADCAST_ID:
                replies += _answer(servo, LEVEL_ALL)
        return replies

    def _sync_read(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or len(params) < 3:
            return []
        address, length = params[0], params[1]
        replies: list[Reply] = []
        for motor_id in params[2:]:
            for servo in by_id.get(motor_id, ()):
                code, data = servo.read(address, length)
                if not code:
                    replies += _answer(servo, LEVEL_READ, data)
        return replies

    def _sync_write(self, packet: Packet, by_id: ById, ordered: list[VirtualServo]) -> list[Reply]:
        params = packet.params
        if packet.motor_id != BROADCAST_ID or len(params) < 3:
            return []
        address, length = params[0], params[1]
        if length == 0 or (len(params) - 2) % (length + 1):
            return []
        for i in range(2, len(params), length + 1):
            for servo in by_id.get(params[i], ()):
                servo.write(address, params[i + 1:i + 1 + length])
        return []
