"""Splitting a client's byte stream into packets: partial reads, noise, resync, staleness."""

from __future__ import annotations

from drivers.dynamixel import protocol as dxl
from drivers.emulator.framing import DynamixelFramer, FeetechFramer
from drivers.feetech import protocol as ft


def _datas(frames: list) -> list[bytes]:
    return [f.data for f in frames]


def test_a_packet_split_byte_by_byte_comes_out_whole_with_its_first_byte_time() -> None:
    framer = DynamixelFramer()
    packet = dxl.sync_read(132, 4, [1, 2, 3])
    out = []
    for i, byte in enumerate(packet):
        out += framer.feed(bytes([byte]), 1.0 + i * 1e-4)
    assert _datas(out) == [packet]
    assert out[0].start_s == 1.0


def test_several_packets_in_one_read() -> None:
    framer = DynamixelFramer()
    packets = [dxl.ping(1), dxl.write(2, 64, b"\x01"), dxl.read(3, 132, 4)]
    assert _datas(framer.feed(b"".join(packets), 0.0)) == packets


def test_noise_before_a_header_is_skipped_and_counted() -> None:
    framer = DynamixelFramer()
    noise = b"\x00\x13\xff\xff\xfd"  # ends like the start of a header, but is not one
    packet = dxl.ping(1)
    assert _datas(framer.feed(noise + packet, 0.0)) == [packet]
    assert framer.discarded_bytes == len(noise)


def test_a_header_split_across_reads_is_kept() -> None:
    framer = DynamixelFramer()
    packet = dxl.ping(7)
    assert framer.feed(b"\x55" + packet[:2], 0.0) == []
    assert _datas(framer.feed(packet[2:], 0.001)) == [packet]


def test_an_impossible_length_resyncs_on_the_next_header() -> None:
    framer = DynamixelFramer()
    bogus = b"\xff\xff\xfd\x00\x01\x01\x00"  # length 1 cannot hold instruction and CRC
    packet = dxl.ping(1)
    assert _datas(framer.feed(bogus + packet, 0.0)) == [packet]


def test_an_unfinished_packet_is_forgotten_after_a_quiet_line() -> None:
    framer = DynamixelFramer(stale_s=0.01)
    dead = dxl.write(1, 116, b"\x00\x08\x00\x00")[:9]
    packet = dxl.ping(1)
    assert framer.feed(dead, 0.0) == []
    assert _datas(framer.feed(packet, 0.5)) == [packet]
    assert framer.discarded_bytes == len(dead)


def test_feetech_packets_even_when_data_contains_ff_ff() -> None:
    framer = FeetechFramer()
    packets = [ft.write(1, 42, b"\xff\xff"), ft.sync_write(42, 2, [(1, b"\xff\xff"), (2, b"\x00\x08")]),
               ft.ping(3)]
    stream = b"".join(packets)
    assert _datas(framer.feed(stream, 0.0)) == packets
    out = []
    for i in range(0, len(stream), 3):
        out += framer.feed(stream[i:i + 3], 0.0)
    assert _datas(out) == packets


def test_feetech_extra_ff_before_a_header() -> None:
    framer = FeetechFramer()
    packet = ft.read(1, 56, 2)
    assert _datas(framer.feed(b"\xff" + packet, 0.0)) == [packet]
