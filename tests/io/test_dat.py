"""Prophesee DAT: golden records packed by hand from the specification, the real EVK4 prefix
against a struct-unpacking reference, 32-bit wraps, seeking, triggers, bad input, round trips."""

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    make_events,
    open_source,
    read_events,
    write_events,
)
from spikesight.io.dat import DatReader, DatWriter

HEADER = b"% Date 2020-01-01 00:00:00\n% Version 2\n% Height 240\n% Width 304\n"


def cd_word(x, y, p):
    return x | (y << 14) | (p << 28)


def dat_file(tmp_path, records, header=HEADER, ev_type=0x0C, ev_size=8, name="rec_td.dat", tail=b""):
    body = b"".join(struct.pack("<II", t, w) for t, w in records)
    path = tmp_path / name
    path.write_bytes(header + bytes([ev_type, ev_size]) + body + tail)
    return path


def data_start(raw):
    """Offset of the type byte: the header ends at the first line not starting with '%'."""
    pos = 0
    while raw[pos : pos + 1] == b"%":
        pos = raw.index(b"\n", pos) + 1
    return pos


def reference_decode(path):
    """Slow, obviously correct: struct-unpack each 8-byte record as the specification lays it out."""
    raw = path.read_bytes()
    pos = data_start(raw)
    ev_type, ev_size = raw[pos], raw[pos + 1]
    rows = []
    for t, w in struct.iter_unpack("<II", raw[pos + 2 :]):
        rows.append((w & 0x3FFF, (w >> 14) & 0x3FFF, w >> 28, t))
    return ev_type, ev_size, rows


def test_golden_records(tmp_path):
    path = dat_file(tmp_path, [(10, cd_word(0, 0, 0)), (11, cd_word(303, 239, 1)), (11, cd_word(17, 5, 1))])
    with open_source(path) as src:
        assert isinstance(src, DatReader)
        assert (src.info.width, src.info.height) == (304, 240)
        assert src.info.event_count == 3
        assert (src.info.start_time, src.info.end_time) == (10, 11)
        ev = np.concatenate(list(src))
    assert ev["x"].tolist() == [0, 303, 17]
    assert ev["y"].tolist() == [0, 239, 5]
    assert ev["p"].tolist() == [0, 1, 1]
    assert ev["t"].tolist() == [10, 11, 11]


def test_real_evk4_prefix_matches_struct_reference(data_dir):
    path = data_dir / "evk4_td_prefix.dat"
    ev_type, ev_size, rows = reference_decode(path)
    assert (ev_type, ev_size) == (0x0C, 8)
    with open_source(path) as src:
        assert (src.info.width, src.info.height) == (1280, 720)
        assert src.info.event_count == len(rows) == 40_000
        ev = np.concatenate(list(src))
    first, last = rows[0], rows[-1]
    assert tuple(ev[0].tolist()) == first
    assert tuple(ev[-1].tolist()) == last
    want = np.array(rows, dtype=np.int64)
    for i, name in enumerate("xypt"):
        np.testing.assert_array_equal(ev[name], want[:, i])


def test_first_event_of_real_prefix_by_hand(data_dir):
    raw = (data_dir / "evk4_td_prefix.dat").read_bytes()
    start = data_start(raw) + 2
    t, w = struct.unpack_from("<II", raw, start)
    ev = read_events(data_dir / "evk4_td_prefix.dat")
    assert (int(ev["t"][0]), int(ev["x"][0]), int(ev["y"][0]), int(ev["p"][0])) == (
        t, w & 0x3FFF, (w >> 14) & 0x3FFF, w >> 28)


def test_gen1_without_geometry_defaults_to_atis_and_accepts_override(tmp_path, caplog):
    header = b"% Data file containing Event2D events.\n% Version 2\n% Date 2017-04-06 09:57:37\n"
    path = dat_file(tmp_path, [(5, cd_word(303, 239, 1))], header=header, ev_type=0x00)
    with caplog.at_level("INFO"):
        src = DatReader(path)
    assert (src.info.width, src.info.height) == (304, 240)
    assert "304x240" in caplog.text
    assert DatReader(path, geometry=(640, 480)).info.width == 640
    with pytest.raises(CoordinateError):
        read_events(path, geometry=(300, 200))


def test_timestamps_unwrap_across_32_bit_wraps(tmp_path):
    recs = [(2**32 - 5, 0), (2**32 - 1, 0), (3, 0), (2**31, 0), (2**32 - 2, 0), (7, 0)]
    ev = read_events(dat_file(tmp_path, recs))
    assert ev["t"].tolist() == [2**32 - 5, 2**32 - 1, 2**32 + 3, 2**32 + 2**31, 2 * 2**32 - 2, 2 * 2**32 + 7]


def test_time_backwards_strict_and_lenient(tmp_path):
    path = dat_file(tmp_path, [(100, 0), (90, cd_word(1, 1, 0)), (120, 0)])
    with pytest.raises(TimeOrderError) as err:
        read_events(path)
    assert err.value.offset == len(HEADER) + 2 + 8
    with DatReader(path, strict=False) as src:
        ev = np.concatenate(list(src))
        assert ev["t"].tolist() == [100, 120]
        assert src.stats.skipped == {"time_backwards": 1}


@pytest.mark.parametrize(
    ("word", "error", "reason"),
    [(cd_word(304, 0, 0), CoordinateError, "outside_geometry"), (cd_word(0, 240, 1), CoordinateError,
     "outside_geometry"), (cd_word(3, 3, 2), EventFormatError, "bad_polarity")],
)
def test_bad_event_strict_and_lenient(tmp_path, word, error, reason):
    path = dat_file(tmp_path, [(1, 0), (2, word), (3, 0)])
    with pytest.raises(error) as err:
        read_events(path)
    assert err.value.offset == len(HEADER) + 2 + 8
    assert str(path) in str(err.value)
    with DatReader(path, strict=False) as src:
        assert np.concatenate(list(src))["t"].tolist() == [1, 3]
        assert src.stats.skipped == {reason: 1}


def test_truncated_last_event(tmp_path):
    path = dat_file(tmp_path, [(1, 0), (2, 0)], tail=b"\x01\x02\x03")
    with pytest.raises(TruncatedError) as err:
        read_events(path)
    assert err.value.offset == len(HEADER) + 2 + 16
    with DatReader(path, strict=False) as src:
        assert np.concatenate(list(src))["t"].tolist() == [1, 2]
        assert src.stats.skipped == {"truncated_event": 1}


def test_empty_and_headerless_and_bad_headers(tmp_path):
    empty = tmp_path / "e.dat"
    empty.write_bytes(b"")
    with pytest.raises(EmptyFileError):
        DatReader(empty)
    no_header = tmp_path / "n.dat"
    no_header.write_bytes(bytes([0x0C, 8]) + struct.pack("<II", 1, 0))
    with pytest.raises(HeaderError):
        DatReader(no_header)
    only_header = tmp_path / "h.dat"
    only_header.write_bytes(HEADER)
    with pytest.raises(TruncatedError) as err:
        DatReader(only_header)
    assert err.value.offset == len(HEADER)
    with pytest.raises(HeaderError, match="event size byte is 16"):
        DatReader(dat_file(tmp_path, [(1, 0)], ev_size=16))
    with pytest.raises(HeaderError, match="0x28"):
        DatReader(dat_file(tmp_path, [(1, 0)], ev_type=0x28))
    with pytest.raises(HeaderError, match="Width"):
        DatReader(dat_file(tmp_path, [(1, 0)], header=b"% Version 2\n% Width wide\n% Height 4\n"))


def test_header_without_events_is_an_empty_stream(tmp_path):
    path = dat_file(tmp_path, [])
    with DatReader(path) as src:
        assert src.info.event_count == 0
        assert list(src) == []
        src.seek(10)
        assert list(src.slices(delta_t=5)) == []


def test_trigger_file(tmp_path):
    recs = [(5, 1 | (3 << 26)), (9, 0 | (3 << 26)), (12, 1 | (60 << 26))]
    path = dat_file(tmp_path, recs, ev_type=0x0E, name="rec_trigger.dat")
    with DatReader(path) as src:
        assert list(src) == []
        src.scan()
        tr = src.triggers
        assert src.stats.other == {"trigger": 3}
    assert tr["t"].tolist() == [5, 9, 12]
    assert tr["p"].tolist() == [1, 0, 1]
    assert tr["id"].tolist() == [3, 3, 60]


def wrapped_file(tmp_path, n=5000, seed=3):
    """Records whose 32-bit times wrap twice: returns the path and the true (unwrapped) times."""
    rng = np.random.default_rng(seed)
    t = 2**32 - 10**7 + np.cumsum(rng.integers(0, 4 * 2**32 // n, n))
    words = np.empty((n, 2), dtype="<u4")
    words[:, 0] = t % 2**32
    words[:, 1] = np.arange(n) % 300
    path = tmp_path / "wrap_td.dat"
    path.write_bytes(HEADER + b"\x0c\x08" + words.tobytes())
    return path, t


def test_seek_is_a_binary_search_and_matches_reference(tmp_path):
    path, t = wrapped_file(tmp_path)
    src = DatReader(path, chunk_events=333)
    assert src.info.end_time == t[-1]
    start = len(HEADER) + 2
    t0, tk, tn = int(t[0]), int(t[1234]), int(t[-1])
    for target in (t0 - 5, t0, tk, tk + 1, 2**33 + 17, tn, tn + 1):
        cp = src._checkpoint_for(target)
        k = int(np.searchsorted(t, target, side="left"))
        assert (0 if cp is None else (cp.offset - start) // 8) == k
        src.seek(target)
        got = next(src.slices(n_events=3), None)
        want = t[k : k + 3]
        assert (got["t"].tolist() if got is not None else []) == want.tolist()
    for t0, t1 in ((2**32, 2**32 + 10**8), (int(t[100]), int(t[4000]))):
        w = src.read_window(t0, t1)
        np.testing.assert_array_equal(w["t"], t[(t >= t0) & (t < t1)])


def reference_lenient(records, width, height):
    """The documented rules, one record at a time: a step back of more than 2^31 µs is a wrap,
    a smaller one is dropped; so are polarities above 1 and events outside the geometry."""
    hi, last, out, skipped = 0, -1, [], {}
    for t32, w in records:
        t, wrap = hi + t32, 0
        if t < last:
            if last - t <= 2**31:
                skipped["time_backwards"] = skipped.get("time_backwards", 0) + 1
                continue
            t, wrap = t + 2**32, 2**32
        x, y, p = w & 0x3FFF, (w >> 14) & 0x3FFF, w >> 28
        reason = "bad_polarity" if p > 1 else "outside_geometry" if x >= width or y >= height else None
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        hi, last = hi + wrap, t
        out.append((x, y, p, t))
    return out, skipped


records = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 3000), st.integers(2**32 - 3000, 2**32 - 1)),
        st.builds(cd_word, st.integers(0, 320), st.integers(0, 250), st.sampled_from([0, 1, 1, 0, 2, 15])),
    ),
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(recs=records, chunk=st.integers(1, 40))
def test_lenient_decoding_matches_reference(tmp_path_factory, recs, chunk):
    path = dat_file(tmp_path_factory.mktemp("len"), recs)
    want, skipped = reference_lenient(recs, 304, 240)
    with DatReader(path, strict=False, chunk_events=chunk) as src:
        parts = list(src)
        got = np.concatenate(parts).tolist() if parts else []
        src.scan()
        assert src.stats.skipped == skipped
    assert [tuple(e) for e in got] == want


def test_writer_header_and_words(tmp_path):
    path = tmp_path / "out.dat"
    with DatWriter(path, 640, 480) as w:
        w.write(make_events([1, 639], [2, 479], [1, 0], [2**32 - 3, 2**32 + 3]))
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    assert b"% Version 2" in lines and b"% Width 640" in lines and b"% Height 480" in lines
    assert any(ln.startswith(b"% Date ") for ln in lines)
    start = data_start(raw)
    assert raw[start : start + 2] == b"\x0c\x08"
    words = struct.unpack_from("<IIII", raw, start + 2)
    assert words == (2**32 - 3, 1 | (2 << 14) | (1 << 28), 3, 639 | (479 << 14))
    np.testing.assert_array_equal(read_events(path)["t"], [2**32 - 3, 2**32 + 3])


def test_writer_refuses_what_dat_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="14-bit"):
        DatWriter(tmp_path / "a.dat", 20000, 10)
    with DatWriter(tmp_path / "b.dat", 10, 10) as w, pytest.raises(ValueError, match="polarity"):
        w.write(make_events([1], [1], [2], [0]))
    with DatWriter(tmp_path / "c.dat", 10, 10) as w, pytest.raises(ValueError, match="first event"):
        w.write(make_events([1], [1], [1], [2**32]))
    with DatWriter(tmp_path / "d.dat", 10, 10) as w, pytest.raises(ValueError, match="first event"):
        w.write(make_events([1], [1], [1], [-1]))
    with DatWriter(tmp_path / "e.dat", 10, 10) as w:
        w.write(make_events([1], [1], [1], [5]))
        with pytest.raises(ValueError, match="gap"):
            w.write(make_events([1], [1], [1], [5 + 2**31]))


@st.composite
def event_arrays(draw, width=1280, height=720):
    n = draw(st.integers(0, 120))
    t0 = draw(st.integers(0, 2**32 - 1))
    gaps = draw(st.lists(st.sampled_from([0, 1, 7, 999, 2**30, 2**31 - 1]), min_size=n, max_size=n))
    # the first event sits at t0 (a DAT file starts inside [0, 2^32)); gaps follow it
    t = t0 + np.cumsum(np.asarray([0, *gaps[1:]], dtype=np.int64))[:n]
    xs = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, height - 1), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(np.asarray(xs, dtype=np.int64), ys, ps, t)


@settings(max_examples=60, deadline=None)
@given(ev=event_arrays(), split=st.integers(0, 120), chunk=st.integers(1, 50))
def test_round_trip(tmp_path_factory, ev, split, chunk):
    path = tmp_path_factory.mktemp("rt") / "x_td.dat"
    with DatWriter(path, 1280, 720) as w:
        w.write(ev[:split])
        w.write(ev[split:])
    with open_source(path, chunk_events=chunk) as src:
        parts = list(src)
        assert src.info.event_count == len(ev)
    np.testing.assert_array_equal(np.concatenate(parts) if parts else ev[:0], ev)


def test_write_events_then_detect(tmp_path):
    ev = make_events([1, 2], [3, 4], [0, 1], [10, 20])
    path = tmp_path / "plain.dat"
    write_events(path, ev, 5, 5)
    np.testing.assert_array_equal(read_events(path), ev)
    assert open_source(path).info.format == "dat"
