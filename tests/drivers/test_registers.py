"""Register encodings against hand-computed bytes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from drivers.dynamixel.tables import XL430_W250, XM430_W350
from drivers.errors import ConfigurationError
from drivers.feetech.tables import STS3215


def test_dynamixel_twos_complement() -> None:
    reg = XM430_W350["goal_position"]
    assert reg.encode(-1) == b"\xff\xff\xff\xff"
    assert reg.encode(2048) == bytes([0x00, 0x08, 0, 0])
    assert reg.decode(b"\xfe\xff\xff\xff") == -2


def test_feetech_sign_magnitude_bit15_and_bit11() -> None:
    assert STS3215["goal_position"].encode(-5) == bytes([0x05, 0x80])
    assert STS3215["goal_position"].decode(bytes([0x05, 0x80])) == -5
    assert STS3215["homing_offset"].encode(-100) == (100 | 1 << 11).to_bytes(2, "little")
    assert STS3215["homing_offset"].decode((100 | 1 << 11).to_bytes(2, "little")) == -100
    assert STS3215["present_load"].decode((7 | 1 << 10).to_bytes(2, "little")) == -7


@pytest.mark.parametrize("table,name", [(XM430_W350, "goal_position"), (XM430_W350, "present_velocity"),
                                        (STS3215, "goal_position"), (STS3215, "homing_offset"),
                                        (STS3215, "present_load"), (XL430_W250, "present_load")])
def test_array_codec_matches_scalar_codec(table, name) -> None:
    reg = table[name]
    lo, hi = reg.raw_limits
    raw = np.array([lo, hi, 0, 1, -1 if lo < 0 else 2, (lo + hi) // 2])
    block = reg.encode_array(raw)
    assert [bytes(row) for row in block] == [reg.encode(int(v)) for v in raw]
    assert np.array_equal(reg.decode_array(block), raw)


@pytest.mark.parametrize("table,name", [(XM430_W350, "goal_position"), (XM430_W350, "present_velocity"),
                                        (XM430_W350, "torque_enable"), (STS3215, "goal_position"),
                                        (STS3215, "homing_offset"), (STS3215, "present_load"),
                                        (XL430_W250, "present_load")])
def test_word_codec_matches_scalar_codec(table, name) -> None:
    reg = table[name]
    lo, hi = reg.raw_limits
    raw = [lo, hi, 0, 1, -1 if lo < 0 else min(2, hi), (lo + hi) // 2]
    fmt = "<" + reg.word_format * len(raw)
    packed = struct.pack(fmt, *reg.encode_words(raw))
    assert packed == b"".join(reg.encode(v) for v in raw)
    assert reg.decode_words(struct.unpack(fmt, packed)) == raw


def test_out_of_range_names_register_and_motor() -> None:
    with pytest.raises(ConfigurationError, match=r"goal_position of motor 7"):
        STS3215["goal_position"].encode_array(np.array([0, 40000]), [3, 7])
    with pytest.raises(ConfigurationError, match=r"goal_position of motor 7: allowed -32767..32767"):
        STS3215["goal_position"].encode_words([0, -40000, 5], [3, 7, 9])
    with pytest.raises(ConfigurationError, match="outside register id"):
        XM430_W350["id"].encode(253)


def test_unknown_register_lists_known_names() -> None:
    with pytest.raises(ConfigurationError, match="has no register 'present_postion'"):
        XM430_W350["present_postion"]


def test_si_units() -> None:
    assert XM430_W350["present_position"].to_si(4096) == pytest.approx(2 * np.pi)
    assert XM430_W350["present_velocity"].to_si(1) == pytest.approx(0.229 * 2 * np.pi / 60)
    assert XM430_W350["present_current"].to_si(100) == pytest.approx(0.269)
    assert STS3215["present_velocity"].to_si(4096) == pytest.approx(2 * np.pi)


def test_baud_register_values() -> None:
    assert XM430_W350.baud_value(1_000_000) == 3
    assert STS3215.baud_value(1_000_000) == 0
    with pytest.raises(ConfigurationError, match="cannot run at 12345 baud"):
        STS3215.baud_value(12345)
