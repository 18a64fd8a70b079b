"""Bus cycle benchmark: one SYNC_READ of present position + one SYNC_WRITE of goal position.

Cases: 6 STS3215 (Feetech, SO-101) and 9 XM430-W350 (Dynamixel 2.0, D'Claw), emulated at
1 Mbps with wire timing and return delay 0, in a separate process. Measured for our drivers
and for the vendor's SDK doing the same cycle in the same run, against the wire-time limit
(bytes on the wire x 10 bits / baud). The machine may be shared, so the clients take turns:
each round runs every client for ``--cycles`` cycles on a fresh emulator, and the table gives
the median over rounds (p99 over all cycles). Ours runs twice: as shipped (it sleeps until
just before a reply is due, then polls) and polling the whole wait as the SDKs do
(``SerialTransport(spin_s=math.inf)``, a robot config's ``poll_replies: true``). On the 9 XM430 both our bus and the SDK
also run the cycle with FAST_SYNC_READ, each row compared with the SDK doing the same. The
client's CPU time per cycle is recorded too: the share of a core the bus leaves to nothing
else. Prints a table and writes bench/results/bus.json.

    python bench/bus.py [--cycles 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from drivers.bus_factory import make_bus
from drivers.dynamixel import protocol as dxl
from drivers.feetech import protocol as ft
from drivers.motor import Motor
from drivers.transport import SerialTransport

from virtual_bus_process import VirtualBusProcess  # noqa: E402  (bench/ is the script's folder)

BAUD = 1_000_000
RESULTS = Path(__file__).resolve().parent / "results"


def wire_bytes(protocol: str, n: int, fast: bool = False) -> int:
    """Bytes on the wire for one cycle (request, replies, sync write)."""
    ids = list(range(1, n + 1))
    if protocol == "feetech":
        read = len(ft.sync_read(56, 2, ids)) + n * (ft.STATUS_OVERHEAD + 2)
        write = len(ft.sync_write(42, 2, [(i, b"\0\0") for i in ids]))
    else:
        reply = dxl.fast_sync_size(4, n) if fast else n * (dxl.STATUS_OVERHEAD + 4)
        read = len(dxl.sync_read(132, 4, ids)) + reply
        write = len(dxl.sync_write(116, 4, [(i, b"\0\0\0\0") for i in ids]))
    return read + write


def time_cycles(cycle: Callable[[], None], n: int) -> tuple[np.ndarray, float]:
    """Each cycle's wall time (s), and the client's CPU time per cycle (s): what it leaves
    for the rest of a robot's small computer."""
    for _ in range(50):
        cycle()
    out = np.empty(n)
    cpu = time.thread_time()
    for k in range(n):
        t0 = time.perf_counter()
        cycle()
        out[k] = time.perf_counter() - t0
    return out, (time.thread_time() - cpu) / n


def ours(port: str, protocol: str, model: str, n_motors: int, fast: bool, poll: bool = False) -> Callable[[], None]:
    motors = [Motor(f"m{i}", i, model) for i in range(1, n_motors + 1)]
    kwargs = {"fast_sync_read": True} if fast else {}
    transport = SerialTransport(port, BAUD, spin_s=math.inf) if poll else port
    bus = make_bus(protocol, transport, motors, baud=BAUD, return_delay_s=0.0, **kwargs).open()

    def cycle() -> None:
        bus.write_raw("goal_position", bus.read_raw("present_position"))

    return cycle


def dynamixel_sdk(port: str, n_motors: int, fast: bool = False) -> Callable[[], None]:
    """The SDK's GroupSyncRead (``fast``: its FAST_SYNC_READ, ``fastSyncRead``) and GroupSyncWrite."""
    import dynamixel_sdk as sdk

    handler = sdk.PortHandler(port)
    handler.openPort()
    handler.setBaudRate(BAUD)
    packet = sdk.PacketHandler(2.0)
    reader = sdk.GroupSyncRead(handler, packet, 132, 4)
    writer = sdk.GroupSyncWrite(handler, packet, 116, 4)
    ids = range(1, n_motors + 1)
    for i in ids:
        reader.addParam(i)

    read = reader.fastSyncRead if fast else reader.txRxPacket

    def cycle() -> None:
        if read() != sdk.COMM_SUCCESS:
            raise RuntimeError("dynamixel_sdk sync read failed")
        writer.clearParam()
        for i in ids:
            writer.addParam(i, list(reader.getData(i, 132, 4).to_bytes(4, "little", signed=False)))
        writer.txPacket()

    return cycle


def feetech_sdk(port: str, n_motors: int) -> Callable[[], None]:
    import scservo_sdk as sdk

    handler = sdk.PortHandler(port)
    handler.openPort()
    handler.setBaudRate(BAUD)
    packet = sdk.PacketHandler(0)
    reader = sdk.GroupSyncRead(handler, packet, 56, 2)
    writer = sdk.GroupSyncWrite(handler, packet, 42, 2)
    ids = range(1, n_motors + 1)
    for i in ids:
        reader.addParam(i)

    def cycle() -> None:
        if reader.txRxPacket() != sdk.COMM_SUCCESS:
            raise RuntimeError("scservo_sdk sync read failed")
        writer.clearParam()
        for i in ids:
            writer.addParam(i, list(reader.getData(i, 56, 2).to_bytes(2, "little")))
        writer.txPacket()

    return cycle


def summarize(name: str, rounds: list[tuple[np.ndarray, float]], limit_s: float) -> dict[str, float | str]:
    times = [t for t, _ in rounds]
    p50 = float(np.median([np.percentile(t, 50) for t in times]))
    cpu = float(np.median([c for _, c in rounds]))
    return {"client": name, "cycles_per_s": float(np.median([1.0 / t.mean() for t in times])), "p50_ms": p50 * 1e3,
            "p99_ms": float(np.percentile(np.concatenate(times), 99)) * 1e3, "x_wire_time": p50 / limit_s,
            "cpu_ms_per_cycle": cpu * 1e3, "cpu_share": cpu / float(np.median([t.mean() for t in times])),
            "round_p50_ms": [float(np.percentile(t, 50)) * 1e3 for t in times]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=2000, help="cycles per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = [("feetech", "STS3215", 6), ("dynamixel", "XM430-W350", 9)]
    results = []
    for protocol, model, n in cases:
        limit = wire_bytes(protocol, n) * 10 / BAUD
        case = {"protocol": protocol, "model": model, "motors": n, "wire_bytes": wire_bytes(protocol, n),
                "wire_time_ms": limit * 1e3, "rows": []}
        vb_args = ("--protocol", protocol, "--model", model, "--ids", f"1-{n}", "--baud", str(BAUD),
                   "--return-delay-us", "0", "--wire-timing")
        clients = [("robot_rl", lambda port: ours(port, protocol, model, n, False)),
                   ("robot_rl polling", lambda port: ours(port, protocol, model, n, False, poll=True)),
                   ("vendor SDK", (lambda port: feetech_sdk(port, n)) if protocol == "feetech"
                    else (lambda port: dynamixel_sdk(port, n)))]
        if protocol == "dynamixel":
            clients += [("robot_rl fast sync read", lambda port: ours(port, protocol, model, n, True)),
                        ("robot_rl fast polling", lambda port: ours(port, protocol, model, n, True, poll=True)),
                        ("vendor SDK fast sync read", lambda port: dynamixel_sdk(port, n, fast=True))]
        times: dict[str, list[tuple[np.ndarray, float]]] = {name: [] for name, _ in clients}
        for round_index in range(args.rounds):
            for name, make in clients:
                with VirtualBusProcess(*vb_args) as port:
                    times[name].append(time_cycles(make(port), args.cycles))
            print(f"{case['motors']} x {model}: round {round_index + 1} of {args.rounds} done", flush=True)
        for name, _ in clients:
            fast = "fast" in name
            row = summarize(name, times[name], wire_bytes(protocol, n, fast) * 10 / BAUD)
            row["wire_time_ms"] = wire_bytes(protocol, n, fast) * 10 / BAUD * 1e3
            case["rows"].append(row)
        # Each against the SDK doing the same instruction: FAST_SYNC_READ rows against the SDK's.
        for row in case["rows"]:
            fast = "fast" in row["client"]
            sdk = next(r for r in case["rows"] if r["client"] == "vendor SDK" + (" fast sync read" if fast else ""))
            row["speedup_vs_sdk"] = sdk["p50_ms"] / row["p50_ms"]
        results.append(case)

    print(f"\nSync read (present position) + sync write (goal position) at {BAUD} baud, emulated wire timing, "
          f"return delay 0, {args.rounds} rounds of {args.cycles} cycles per client (median over rounds)")
    print(f"{'bus':<26} {'client':<26} {'cycles/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'wire ms':>8} "
          f"{'x wire':>7} {'vs SDK':>7} {'CPU ms':>7} {'CPU %':>6}")
    for case in results:
        label = f"{case['motors']} x {case['model']}"
        for row in case["rows"]:
            print(f"{label:<26} {row['client']:<26} {row['cycles_per_s']:>9.0f} {row['p50_ms']:>8.3f} "
                  f"{row['p99_ms']:>8.3f} {row['wire_time_ms']:>8.3f} {row['x_wire_time']:>7.2f} "
                  f"{row['speedup_vs_sdk']:>6.2f}x {row['cpu_ms_per_cycle']:>7.3f} {100 * row['cpu_share']:>5.0f}%")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "bus.json"
    out.write_text(json.dumps({"baud": BAUD, "cycles": args.cycles, "rounds": args.rounds, "cases": results}, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
