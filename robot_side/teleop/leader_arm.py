"""The leader arm: read in a process of its own, its newest pose always at hand.

A person moves the leader; the follower's control loop takes the leader's newest pose as its
command. Reading a bus of six servos takes about a millisecond of I/O and Python; done in
the loop's process it would share the interpreter with the loop and shift its periods. So
:class:`LeaderArm` starts a reader process (``spawn``) that opens the leader's bus read only,
turns its torque off (the operator's hand moves it), reads it at the leader config's
``control_rate_hz`` and publishes each pose in shared memory under a sequence counter (a
seqlock: the counter is odd while a pose is being written). :meth:`LeaderArm.latest` copies
the newest pose without waiting on anything.

A leader that stops answering does not stop the run: :meth:`latest` raises
:class:`LeaderLostError` once the newest pose is older than ``timeout_s`` or the reader
failed (with its error), and the caller holds the follower and ends the episode.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from multiprocessing import shared_memory
from multiprocessing.connection import Connection
from types import TracebackType

import numpy as np

from drivers.robot import RobotSpec
from drivers.robot_config import RobotConfig
from robot_side.errors import RobotSideError

log = logging.getLogger(__name__)

# Slots of the shared float64 block, then the pose.
SEQ, READ_TIME, STATUS, STOP, READS, FAILED_READS = range(6)
HEADER = 6
STARTING, RUNNING, FAILED, STOPPED = 0.0, 1.0, 2.0, 3.0
START_TIMEOUT_S = 30.0


class LeaderError(RobotSideError):
    """The leader arm cannot be used (wrong joints, no answer when starting)."""


class LeaderLostError(LeaderError):
    """The leader stopped answering, or its reader failed, during a run."""


@dataclass(frozen=True)
class LeaderReading:
    """The leader's newest pose in the follower's joint order (rad), its age (s) and how many
    poses the reader has published."""

    position_rad: np.ndarray
    age_s: float
    reads: int


class LeaderArm:
    """The leader arm of ``config`` (backend ``serial``: its port), read for a follower whose
    joints are ``follower`` (joint by joint, by name; every follower joint needs a leader joint).

    timeout_s: a pose older than this means the leader is lost.
    """

    def __init__(self, config: RobotConfig, follower: RobotSpec, *, timeout_s: float = 0.25) -> None:
        if config.backend != "serial" or not config.port:
            raise LeaderError(f"leader {config.name}: the reader needs its serial port (backend serial, port set); "
                              f"a virtual leader is started by robot_side.teleop.virtual_leader first")
        missing = [n for n in follower.joint_names if n not in config.joint_names]
        if missing:
            raise LeaderError(f"leader {config.name} has no joint {missing[0]!r} of follower {follower.name} "
                              f"(the leader's joints are {', '.join(config.joint_names)}; name them like the "
                              f"follower's)")
        if not timeout_s > 0:
            raise LeaderError(f"leader timeout must be positive, got {timeout_s!r}")
        self.config = config
        self.follower = follower
        self.timeout_s = timeout_s
        self.order = np.array([config.joint_names.index(n) for n in follower.joint_names])
        self._memory: shared_memory.SharedMemory | None = None
        self._block: np.ndarray | None = None
        self._process: mp.process.BaseProcess | None = None
        self._errors: Connection | None = None
        self._error: str | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> "LeaderArm":
        """Start the reader and wait for its first pose; raises :class:`LeaderError` (with the
        reader's error) when none comes within ``START_TIMEOUT_S``."""
        if self._process is not None:
            return self
        n = len(self.config.joints)
        self._memory = shared_memory.SharedMemory(create=True, size=(HEADER + n) * 8)
        self._block = np.ndarray((HEADER + n,), dtype=np.float64, buffer=self._memory.buf)
        self._block[:] = 0.0
        ctx = mp.get_context("spawn")
        receive, send = ctx.Pipe(duplex=False)
        self._errors = receive
        self._process = ctx.Process(target=read_leader, name=f"robot_rl-leader-{self.config.name}",
                                    args=(self.config, self._memory.name, n, send, os.getpid()), daemon=True)
        self._process.start()
        send.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._block[READS] < 1:
            if self._block[STATUS] == FAILED or not self._process.is_alive() or time.monotonic() > deadline:
                reason = self._reader_error() or (
                    f"no pose within {START_TIMEOUT_S:.0f} s (the reader is a spawned process: a script that "
                    f"opens a leader at import needs an `if __name__ == '__main__':` guard)")
                self.close()
                raise LeaderError(f"leader {self.config.name} on {self.config.port}: {reason}")
            time.sleep(0.01)
        log.info("leader %s on %s: reading at %g Hz", self.config.name, self.config.port, self.config.control_rate_hz)
        return self

    def close(self) -> None:
        """Stop the reader (its bus closes; a leader's torque stays off) and free the memory. Idempotent."""
        if self._block is not None:
            self._block[STOP] = 1.0
        if self._process is not None:
            self._process.join(timeout=5.0)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5.0)
            self._process = None
        if self._errors is not None:
            self._errors.close()
            self._errors = None
        self._block = None
        if self._memory is not None:
            self._memory.close()
            self._memory.unlink()
            self._memory = None

    def __enter__(self) -> "LeaderArm":
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- reading ---------------------------------------------------------------------------------
    def latest(self) -> LeaderReading:
        """The newest pose (never waits on the bus). Raises :class:`LeaderLostError` when the
        reader failed or its newest pose is older than ``timeout_s``."""
        block = self._block
        if block is None:
            raise LeaderLostError(f"leader {self.config.name} is not open")
        while True:
            seq = block[SEQ]
            if seq % 2 == 0:
                pose = block[HEADER:][self.order]
                read_time, reads = block[READ_TIME], block[READS]
                if block[SEQ] == seq:
                    break
        age = time.monotonic() - read_time
        if block[STATUS] == FAILED:
            raise LeaderLostError(f"leader {self.config.name}: {self._reader_error() or 'its reader failed'}")
        if age > self.timeout_s:
            raise LeaderLostError(f"leader {self.config.name}: no pose for {age * 1e3:.0f} ms (timeout "
                                  f"{self.timeout_s * 1e3:.0f} ms; {int(block[FAILED_READS])} failed reads)")
        return LeaderReading(pose, age, int(reads))

    @property
    def failed_reads(self) -> int:
        return 0 if self._block is None else int(self._block[FAILED_READS])

    def _reader_error(self) -> str | None:
        if self._error is None and self._errors is not None and self._errors.poll():
            try:
                self._error = self._errors.recv()
            except (EOFError, OSError):
                pass
        return self._error


def read_leader(config: RobotConfig, memory_name: str, n: int, errors: Connection, parent_pid: int) -> None:
    """The reader process: open the leader read only, torque off, publish a pose every period
    until told to stop or the parent is gone; on an error, publish FAILED and send the reason."""
    import signal

    from drivers.bus_robot import BusRobot
    from drivers.clock import sleep_until
    from drivers.errors import TransientBusError
    from robot_side.process_watch import ProcessWatch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent owns Ctrl-C and stops the reader itself
    memory = shared_memory.SharedMemory(name=memory_name)
    block = np.ndarray((HEADER + n,), dtype=np.float64, buffer=memory.buf)
    parent = ProcessWatch(parent_pid)
    robot = BusRobot(config, read_only=True)
    try:
        robot.open()
        # A leader is moved by hand: its servos never hold (a read-only robot writes nothing
        # else, and never a goal).
        robot.bus.write_raw("torque_enable", np.zeros(len(robot.motors), dtype=np.int64),
                            [m.name for m in robot.motors])
        block[STATUS] = RUNNING
        period = 1.0 / config.control_rate_hz
        next_s = time.monotonic()
        while block[STOP] == 0.0 and not parent.gone():
            try:
                state = robot.read()
            except TransientBusError:
                block[FAILED_READS] += 1
            else:
                block[SEQ] += 1.0
                block[HEADER:] = state.position_rad
                block[READ_TIME] = state.timestamp_s
                block[READS] += 1.0
                block[SEQ] += 1.0
            next_s += period
            if next_s < time.monotonic():
                next_s = time.monotonic()  # behind: no burst of reads to catch up
            sleep_until(next_s)
        block[STATUS] = STOPPED
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        block[STATUS] = FAILED
        try:
            errors.send(f"{type(exc).__name__}: {exc}")
        except OSError:
            pass
    finally:
        try:
            robot.bus.close()
        except Exception:  # noqa: BLE001 - the port may be gone already
            pass
        parent.close()
        del block
        memory.close()
        errors.close()

