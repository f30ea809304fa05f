"""AEDAT 3.1 and 2.0 reading, on files composed here byte by byte from the specifications.

AEDAT 3.1 (iniVation's "AEDAT 3.1" page, libcaer ``events/common.h``, ``polarity.h``, ``special.h``):
28-byte little-endian packet headers (int16 type, int16 source, int32 size, ts offset, ts overflow,
capacity, number, valid), then ``capacity * size`` bytes; polarity data word: bit 0 valid, bit 1
polarity, bits 2-16 y, bits 17-31 x; time ``(overflow << 31) | timestamp``.
AEDAT 2.0 DVS128 (libcaer ``dvs128.c``): big-endian (uint32 address, uint32 timestamp);
x = 127 - ((a >> 1) & 0x7F), y = 127 - ((a >> 8) & 0x7F), ON when bit 0 is 0, bit 15 a sync event.
"""

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikesight.io import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnknownWordError,
    UnsupportedCodecError,
    UnsupportedFormatError,
    open_source,
)
from spikesight.io import aedat as aedat_module
from spikesight.io.aedat import AedatReader

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- AEDAT 3.1 composition ------------------------------------------------------------------

def header31(*sources: str, fmt: str = "RAW") -> bytes:
    lines = ["#!AER-DAT3.1", f"#Format: {fmt}"]
    lines += [f"#Source {i}: {d}" for i, d in enumerate(sources or ("DVS128",), start=1)]
    lines += ["#Start-Time: 2017-01-21 10:00:00 (TZ+0100)", "#!END-HEADER"]
    return "".join(line + "\r\n" for line in lines).encode()


def pol_word(x: int, y: int, p: int, valid: int = 1) -> int:
    return (x << 17) | (y << 2) | (p << 1) | valid


def special_word(kind: int, valid: int = 1) -> int:
    return (kind << 1) | valid


def packet(ev_type: int, words: list[tuple[int, int]], *, source: int = 1, overflow: int = 0,
           capacity: int | None = None) -> bytes:
    """A packet of 8-byte events given as (data, timestamp) words; empty slots up to capacity."""
    number = len(words)
    capacity = number if capacity is None else capacity
    valid = sum(d & 1 for d, _ in words)
    head = struct.pack("<hhiiiiii", ev_type, source, 8, 4, overflow, capacity, number, valid)
    body = b"".join(struct.pack("<II", d, ts) for d, ts in words)
    return head + body + bytes(8 * (capacity - number))


def blob_packet(ev_type: int, size: int, number: int, *, source: int = 1) -> bytes:
    """A packet of some other type (frames, IMU): ``number`` events of ``size`` bytes."""
    head = struct.pack("<hhiiiiii", ev_type, source, size, 4, 0, number, number, number)
    return head + bytes([0xAB]) * (size * number)


def read_all(path, **kw):
    with AedatReader(path, **kw) as src:
        chunks = list(src._record(src._chunks_from(None)))
        events = np.concatenate([c.events for c in chunks]) if chunks else None
        return events, src


def ref_decode31(data: bytes, source: int = 1):
    """Slow reference: every valid polarity event of ``source``, straight from the packet layout."""
    pos = data.index(b"#!END-HEADER\r\n") + len(b"#!END-HEADER\r\n")
    out = []
    while pos < len(data):
        ev_type, src, size, _, overflow, capacity, number, _ = struct.unpack_from("<hhiiiiii", data, pos)
        if ev_type == 1 and src == source:
            for i in range(number):
                d, ts = struct.unpack_from("<II", data, pos + 28 + 8 * i)
                if d & 1:
                    out.append(((d >> 17) & 0x7FFF, (d >> 2) & 0x7FFF, (d >> 1) & 1, (overflow << 31) | ts))
        pos += 28 + capacity * size
    return out


def as_tuples(events):
    return [(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in events]


# -- AEDAT 3.1: values ----------------------------------------------------------------------

def test_aedat31_golden(tmp_path):
    body = (
        packet(0, [(special_word(1), 0), (special_word(2), 50), (special_word(3), 60)])
        + packet(1, [(pol_word(5, 7, 1), 100), (pol_word(9, 9, 0, valid=0), 110), (pol_word(127, 0, 0), 120)])
        + blob_packet(2, 40, 2)
        + packet(1, [(pol_word(3, 4, 1), 5)], overflow=1)
    )
    path = tmp_path / "g.aedat"
    path.write_bytes(header31("DVS128") + body)
    ev, src = read_all(path)
    assert (src.info.width, src.info.height) == (128, 128)
    assert src.info.metadata["source"] == "1: DVS128"
    assert as_tuples(ev) == [(5, 7, 1, 100), (127, 0, 0, 120), (3, 4, 1, (1 << 31) + 5)]
    assert src.stats.skipped == {"invalid_event": 1}
    assert src.stats.other == {"special_timestamp_reset": 1, "frame": 2}
    assert src.triggers.tolist() == [(1, 50, 0), (0, 60, 0)]


def test_aedat31_capacity_beyond_number_and_other_sources(tmp_path):
    body = (
        packet(1, [(pol_word(1, 2, 1), 10), (pol_word(3, 4, 0), 11)], capacity=5)
        + packet(1, [(pol_word(100, 100, 1), 12)], source=2)
        + packet(1, [(pol_word(6, 7, 1), 13)])
    )
    path = tmp_path / "c.aedat"
    path.write_bytes(header31("DVS128", "DAVIS346B") + body)
    ev, src = read_all(path)
    assert as_tuples(ev) == [(1, 2, 1, 10), (3, 4, 0, 11), (6, 7, 1, 13)]
    assert src.stats.other == {"source2_polarity": 1}


def test_aedat31_single_source_takes_packets_of_any_source_id(tmp_path):
    path = tmp_path / "one.aedat"
    path.write_bytes(header31("DVS128") + packet(1, [(pol_word(1, 2, 1), 10)], source=0))
    ev, src = read_all(path)
    assert as_tuples(ev) == [(1, 2, 1, 10)]
    assert src.stats.other == {}


@pytest.mark.parametrize(("source", "size"), [("DVS128", (128, 128)), ("DAVIS240C", (240, 180)),
                                                ("DAVIS346B", (346, 260)), ("DAVIS640", (640, 480))])
def test_aedat31_geometry_from_source_line(tmp_path, source, size):
    path = tmp_path / "s.aedat"
    path.write_bytes(header31(source) + packet(1, [(pol_word(size[0] - 1, size[1] - 1, 1), 1)]))
    ev, src = read_all(path)
    assert (src.info.width, src.info.height) == size
    assert as_tuples(ev) == [(size[0] - 1, size[1] - 1, 1, 1)]


def test_aedat31_unknown_source_needs_geometry(tmp_path):
    path = tmp_path / "u.aedat"
    path.write_bytes(header31("Mystery9000") + packet(1, [(pol_word(9, 9, 1), 1)]))
    with pytest.raises(GeometryError):
        AedatReader(path)
    ev, src = read_all(path, geometry=(10, 10))
    assert (src.info.width, src.info.height) == (10, 10)
    assert as_tuples(ev) == [(9, 9, 1, 1)]


def test_aedat31_bad_events_strict_and_lenient(tmp_path):
    words = [(pol_word(1, 1, 1), 100), (pol_word(128, 5, 1), 101), (pol_word(2, 2, 0), 90),
             (pol_word(3, 3, 1), 0x80000005), (pol_word(4, 4, 1), 102)]
    head = header31("DVS128")
    path = tmp_path / "b.aedat"
    path.write_bytes(head + packet(1, words))
    first_event = len(head) + 28
    with pytest.raises(CoordinateError) as info:
        read_all(path)
    assert info.value.offset == first_event + 8
    ev, src = read_all(path, strict=False)
    assert as_tuples(ev) == [(1, 1, 1, 100), (4, 4, 1, 102)]
    assert src.stats.skipped == {"outside_geometry": 1, "time_backwards": 1, "negative_timestamp": 1}
    path.write_bytes(head + packet(1, [words[0], words[2]]))
    with pytest.raises(TimeOrderError) as info:
        read_all(path)
    assert info.value.offset == first_event + 8
    path.write_bytes(head + packet(1, [words[0], words[3]]))
    with pytest.raises(UnknownWordError) as info:
        read_all(path)
    assert info.value.offset == first_event + 8


def test_aedat31_truncated_packet(tmp_path):
    head = header31("DVS128")
    first = packet(1, [(pol_word(1, 1, 1), 10)])
    second = packet(1, [(pol_word(2, 2, 1), 20), (pol_word(3, 3, 0), 30), (pol_word(4, 4, 1), 40)])
    path = tmp_path / "t.aedat"
    path.write_bytes(head + first + second[: 28 + 8 * 2 + 3])
    with pytest.raises(TruncatedError) as info:
        read_all(path)
    assert info.value.offset == len(head) + len(first)
    ev, src = read_all(path, strict=False)
    assert as_tuples(ev) == [(1, 1, 1, 10), (2, 2, 1, 20), (3, 3, 0, 30)]
    assert src.stats.skipped == {"truncated_packet": 1}
    path.write_bytes(head + first + second[:10])
    with pytest.raises(TruncatedError) as info:
        read_all(path)
    assert info.value.offset == len(head) + len(first)
    ev, src = read_all(path, strict=False)
    assert as_tuples(ev) == [(1, 1, 1, 10)]
    assert src.stats.skipped == {"truncated_packet": 1}


def test_aedat31_malformed_packet_header(tmp_path):
    head = header31("DVS128")
    bad = struct.pack("<hhiiiiii", 1, 1, 8, 4, 0, 2, 3, 3)  # number > capacity
    path = tmp_path / "m.aedat"
    path.write_bytes(head + packet(1, [(pol_word(1, 1, 1), 10)]) + bad + bytes(16))
    with pytest.raises(UnknownWordError) as info:
        read_all(path)
    assert info.value.offset == len(head) + 36
    ev, src = read_all(path, strict=False)
    assert as_tuples(ev) == [(1, 1, 1, 10)]
    assert src.stats.skipped == {"bad_packet_header": 1}


@pytest.mark.parametrize(("data", "error"), [
    (b"", EmptyFileError),
    (b"hello world\r\n", HeaderError),
    (b"#!AER-DAT3.0\r\n#Source 1: DVS128\r\n", UnsupportedFormatError),
    (b"#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: DVS128\r\n", TruncatedError),
    (b"#!AER-DAT3.1\r\n#Format: RAW\r\nxx\r\n#!END-HEADER\r\n", HeaderError),
    (header31("DVS128", fmt="SerializedTS"), UnsupportedCodecError),
])
def test_aedat_bad_headers(tmp_path, data, error):
    path = tmp_path / "h.aedat"
    path.write_bytes(data)
    with pytest.raises(error):
        AedatReader(path)


def _many_packets(n_packets=12, per=5):
    t, body = 0, b""
    for _ in range(n_packets):
        ws = []
        for j in range(per):
            t += 3
            ws.append((pol_word(j, (t // 3) % 128, t % 2), t))
        body += packet(1, ws) + blob_packet(3, 36, 1)
    return header31("DVS128") + body


def test_aedat31_chunks_also_end_after_many_skipped_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(aedat_module, "SCAN_BYTES", 100)
    data = _many_packets()
    path = tmp_path / "scan.aedat"
    path.write_bytes(data)
    with AedatReader(path, chunk_events=1000) as src:
        chunks = list(src._chunks_from(None))
        assert len(chunks) > 2
        assert as_tuples(np.concatenate([c.events for c in chunks])) == ref_decode31(data)
        assert sum(c.other.get("imu6", 0) for c in chunks) == 12


def test_aedat31_bounded_chunks_seek_and_windows(tmp_path):
    data = _many_packets()
    path = tmp_path / "many.aedat"
    path.write_bytes(data)
    want, _ = read_all(path)
    assert as_tuples(want) == ref_decode31(data)
    with AedatReader(path, chunk_events=2) as src:
        chunks = list(src._chunks_from(None))
        assert max(len(c.events) for c in chunks) <= 2
        np.testing.assert_array_equal(np.concatenate([c.events for c in chunks]), want)
        src.scan()
        assert src.info.event_count == len(want)
        assert src.stats.other == {"imu6": 12}
        t = int(want["t"][31])  # inside a packet: resumes from a checkpoint within it
        src.seek(t)
        np.testing.assert_array_equal(next(src.slices(n_events=4)), want[31:35])
        np.testing.assert_array_equal(src.read_window(40, 100), want[(want["t"] >= 40) & (want["t"] < 100)])


@st.composite
def aedat31_files(draw):
    """Valid AEDAT 3.1 bodies: polarity packets (some events invalid, some empty slots, some
    overflow steps) mixed with special and IMU packets."""
    t, overflow, body = 0, 0, b""
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["pol", "pol", "special", "imu"]))
        if kind == "pol":
            if draw(st.booleans()) and draw(st.booleans()):
                overflow, t = overflow + 1, 0
            ws = []
            for _ in range(draw(st.integers(0, 12))):
                t += draw(st.integers(0, 1000))
                x, y = draw(st.integers(0, 127)), draw(st.integers(0, 127))
                ws.append((pol_word(x, y, draw(st.integers(0, 1)), draw(st.integers(0, 1))), t))
            body += packet(1, ws, overflow=overflow, capacity=len(ws) + draw(st.integers(0, 3)))
        elif kind == "special":
            body += packet(0, [(special_word(draw(st.integers(0, 18))), t)], overflow=overflow)
        else:
            body += blob_packet(3, 36, draw(st.integers(0, 3)))
    return header31("DVS128") + body


@FAST
@given(data=aedat31_files(), chunk=st.integers(1, 20))
def test_aedat31_matches_reference(tmp_path, data, chunk):
    path = tmp_path / "r.aedat"
    path.write_bytes(data)
    with AedatReader(path, chunk_events=chunk) as src:
        got = [e for piece in src for e in as_tuples(piece)]
    assert got == ref_decode31(data)


@FAST
@given(data=aedat31_files(), cut=st.integers(0, 10_000),
       flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       tail=st.binary(max_size=64), strict=st.booleans())
def test_aedat31_fuzz_gives_events_or_format_errors(tmp_path, data, cut, flips, tail, strict):
    head = len(header31("DVS128"))
    body = bytearray(data[head:])
    for at, value in flips:
        if body:
            body[at % len(body)] = value
    path = tmp_path / "f.aedat"
    path.write_bytes(data[:head] + bytes(body[: cut % (len(body) + 1)]) + tail)
    try:
        with AedatReader(path, strict=strict, chunk_events=7) as src:
            for piece in src:
                assert piece.dtype.names == ("x", "y", "p", "t")
    except EventFormatError:
        pass


# -- AEDAT 2.0 ------------------------------------------------------------------------------

HEADER20 = (b"#!AER-DAT2.0\r\n# This is a raw AE data file - do not edit\r\n"
            b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n"
            b"# Timestamps tick is 1 us\r\n# AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n")


def dvs128_address(raw_x: int, raw_y: int, bit0: int) -> int:
    return (raw_y << 8) | (raw_x << 1) | bit0


def records(rows) -> bytes:
    return b"".join(struct.pack(">II", a, t) for a, t in rows)


def test_aedat20_golden(tmp_path):
    rows = [(dvs128_address(0, 0, 0), 10), (dvs128_address(127, 127, 1), 11), (dvs128_address(10, 20, 1), 12),
            (0x8000, 13), (0x80000000 | 0x1234, 14), (dvs128_address(1, 2, 0), 15)]
    path = tmp_path / "g20.aedat"
    path.write_bytes(HEADER20 + records(rows))
    ev, src = read_all(path)
    assert (src.info.width, src.info.height) == (128, 128)
    assert src.info.metadata["aechip"] == "ch.unizh.ini.jaer.chip.retina.DVS128"
    assert as_tuples(ev) == [(127, 127, 1, 10), (0, 0, 0, 11), (117, 107, 0, 12), (126, 125, 1, 15)]
    assert src.triggers.tolist() == [(1, 13, 0)]
    assert src.stats.other == {"special": 1}
    with open_source(path) as opened:
        assert isinstance(opened, AedatReader)


def test_aedat20_timestamp_wrap_and_backwards(tmp_path):
    a = dvs128_address(5, 5, 0)
    path = tmp_path / "w.aedat"
    path.write_bytes(HEADER20 + records([(a, 0xFFFFFF00), (a, 0x10), (a, 0x20)]))
    ev, _ = read_all(path)
    assert ev["t"].tolist() == [0xFFFFFF00, (1 << 32) + 0x10, (1 << 32) + 0x20]
    path.write_bytes(HEADER20 + records([(a, 1000), (a, 900), (a, 1100)]))
    with pytest.raises(TimeOrderError) as info:
        read_all(path)
    assert info.value.offset == len(HEADER20) + 8
    ev, src = read_all(path, strict=False)
    assert ev["t"].tolist() == [1000, 1100]
    assert src.stats.skipped == {"time_backwards": 1}


def test_aedat20_unknown_address_and_truncation(tmp_path):
    a = dvs128_address(5, 5, 0)
    path = tmp_path / "x.aedat"
    path.write_bytes(HEADER20 + records([(a, 1), (0x00010000 | a, 2), (a, 3)]) + b"\x00\x01\x02")
    with pytest.raises(UnknownWordError) as info:
        read_all(path)
    assert info.value.offset == len(HEADER20) + 8
    ev, src = read_all(path, strict=False)
    assert ev["t"].tolist() == [1, 3]
    assert src.stats.skipped == {"unknown_address": 1, "truncated_record": 1}
    path.write_bytes(HEADER20 + records([(a, 1)]) + b"\x00\x01\x02")
    with pytest.raises(TruncatedError) as info:
        read_all(path)
    assert info.value.offset == len(HEADER20) + 8


def test_aedat20_unsupported_chip_and_geometry(tmp_path):
    path = tmp_path / "d.aedat"
    davis = b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n"
    path.write_bytes(davis + records([(0, 1)]))
    with pytest.raises(UnsupportedFormatError):
        AedatReader(path)
    path.write_bytes(b"#!AER-DAT2.0\r\n" + records([(dvs128_address(0, 0, 1), 7)]))
    ev, _ = read_all(path)
    assert as_tuples(ev) == [(127, 127, 0, 7)]
    with pytest.raises(GeometryError):
        AedatReader(path, geometry=(240, 180))


def test_long_headers_are_read_whole(tmp_path):
    prefs = b"".join(b'# <entry key="DVS128.pref%05d" value="%d"/>\r\n' % (i, i) for i in range(3000))
    path = tmp_path / "long20.aedat"
    path.write_bytes(HEADER20 + prefs + records([(dvs128_address(3, 4, 0), 9)]))
    assert len(prefs) > 1 << 16
    ev, _ = read_all(path)
    assert as_tuples(ev) == [(124, 123, 1, 9)]
    head = header31("DVS128")
    path = tmp_path / "long31.aedat"
    long_line = b"#" + b"x" * 100_000 + b"\r\n"  # before #!END-HEADER (its last 14 bytes)
    path.write_bytes(head[:-14] + long_line + head[-14:] + packet(1, [(pol_word(1, 2, 1), 3)]))
    ev, _ = read_all(path)
    assert as_tuples(ev) == [(1, 2, 1, 3)]


def test_aedat20_chunks_and_seek(tmp_path):
    rows = [(dvs128_address(i % 128, (i * 7) % 128, i % 2), 10 * i) for i in range(100)]
    path = tmp_path / "s.aedat"
    path.write_bytes(HEADER20 + records(rows))
    want, _ = read_all(path)
    with AedatReader(path, chunk_events=9) as src:
        assert max(len(c.events) for c in src._chunks_from(None)) <= 9
        src.scan()
        src.seek(505)
        np.testing.assert_array_equal(next(src.slices(n_events=3)), want[51:54])


def ref_decode20(data: bytes):
    """Slow reference for time-ordered DVS128 records whose steps are below 2^31 µs."""
    out, last = [], None
    for off in range(len(HEADER20), len(data) - 7, 8):
        a, raw = struct.unpack_from(">II", data, off)
        t = raw if last is None else last - last % (1 << 32) + raw
        if last is not None and t < last:
            t += 1 << 32
        last = t
        if not a & 0x8000:
            out.append((127 - ((a >> 1) & 0x7F), 127 - ((a >> 8) & 0x7F), 1 - (a & 1), t))
    return out


@FAST
@given(steps=st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 1 << 28)), max_size=80),
       start=st.integers(0, (1 << 32) - 1), chunk=st.integers(1, 30))
def test_aedat20_matches_reference(tmp_path, steps, start, chunk):
    t, rows = start, []
    for a, dt in steps:
        t = (t + dt) % (1 << 32)
        rows.append((a, t))
    data = HEADER20 + records(rows)
    path = tmp_path / "r20.aedat"
    path.write_bytes(data)
    with AedatReader(path, chunk_events=chunk) as src:
        got = [e for piece in src for e in as_tuples(piece)]
    assert got == ref_decode20(data)


@FAST
@given(body=st.binary(max_size=400), strict=st.booleans())
def test_aedat20_fuzz_gives_events_or_format_errors(tmp_path, body, strict):
    path = tmp_path / "f20.aedat"
    path.write_bytes(HEADER20 + body)
    try:
        with AedatReader(path, strict=strict, chunk_events=5) as src:
            for piece in src:
                assert piece.dtype.names == ("x", "y", "p", "t")
    except EventFormatError:
        pass
