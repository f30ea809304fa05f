"""The AEDAT 3.1 writer: bytes composed by hand from the format's description, and round trips."""

import struct

import numpy as np
import pytest

from spikesight.io import make_events
from spikesight.io.aedat import AedatReader
from spikesight.io.aedat31_writer import Aedat31Writer

HEADER = (
    b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n"
    b"#Start-Time: 2000-01-01 00:00:00 (TZ+0000)\r\n#!END-HEADER\r\n"
)


def _packet(overflow, events):
    n = len(events)
    head = struct.pack("<hhiiiiii", 1, 1, 8, 4, overflow, n, n, n)
    body = b"".join(struct.pack("<Ii", (x << 17) | (y << 2) | (p << 1) | 1, ts) for x, y, p, ts in events)
    return head + body


def test_bytes_by_hand(tmp_path):
    path = tmp_path / "a.aedat"
    big = (1 << 31) + 5  # the first time of the second overflow period
    with Aedat31Writer(path, 128, 128, packet_events=2) as w:
        w.write(make_events([1, 127, 3], [2, 0, 127], [1, 0, 1], [10, 20, 30]))
        w.write(make_events([64], [64], [0], [big]))
    want = (
        HEADER
        + _packet(0, [(1, 2, 1, 10), (127, 0, 0, 20)])
        + _packet(0, [(3, 127, 1, 30)])
        + _packet(1, [(64, 64, 0, 5)])
    )
    assert path.read_bytes() == want


@pytest.mark.parametrize("packet", [1, 7, 4096])
def test_round_trip_through_the_reader(tmp_path, rng, packet):
    n = 5000
    t = np.sort(rng.integers((1 << 31) - 10_000, (1 << 31) + 10_000, n))  # across an overflow
    ev = make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), rng.integers(0, 2, n), t)
    path = tmp_path / "b.aedat"
    with Aedat31Writer(path, 128, 128, packet_events=packet) as w:
        w.write(ev[:1234])
        w.write(ev[1234:])
    with AedatReader(path) as src:
        assert (src.info.width, src.info.height) == (128, 128)
        got = np.concatenate(list(src))
    np.testing.assert_array_equal(got, ev)


def test_bad_input(tmp_path):
    with Aedat31Writer(tmp_path / "c.aedat", 128, 128) as w:
        with pytest.raises(ValueError, match=">= 0"):
            w.write(make_events([1], [1], [1], [-3]))
        with pytest.raises(ValueError, match="geometry"):
            w.write(make_events([128], [1], [1], [3]))
        w.write(make_events([1], [1], [1], [100]))
        with pytest.raises(ValueError, match="time order"):
            w.write(make_events([1], [1], [1], [99]))
        with pytest.raises(ValueError, match="polarity"):
            w.write(make_events([1], [1], [2], [200]))
    with pytest.raises(ValueError, match="15-bit"):
        Aedat31Writer(tmp_path / "d.aedat", 1 << 16, 10)
