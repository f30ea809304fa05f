"""Text/CSV events: hand-written files, exact seconds-to-µs conversion against a Fraction
reference, layout detection, line numbers and byte offsets in errors, round trips."""

import logging
from fractions import Fraction

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
    make_events,
    open_source,
    read_events,
)
from spikesight.io.text import TextReader, TextWriter


def write(tmp_path, text, name="events.txt"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def rows(ev):
    return [tuple(r) for r in ev[["t", "x", "y", "p"]].tolist()]


def test_rpg_events_txt_with_geometry_line(tmp_path):
    text = "240 180\n0.003811000 96 133 0\n0.003820001 127 171 1\n1468940145.246418330 4 7 1\n"
    path = write(tmp_path, text)
    with open_source(path) as src:
        assert isinstance(src, TextReader)
        assert (src.info.width, src.info.height) == (240, 180)
        assert src.info.metadata["time_unit"] == "s"
        ev = np.concatenate(list(src))
    assert rows(ev) == [(3811, 96, 133, 0), (3820, 127, 171, 1), (1468940145246418, 4, 7, 1)]


def test_seconds_round_to_nearest_microsecond(tmp_path):
    times = ["0.0000004999", "0.0000005", "0.0000015", "1.5e-3", "2E-3", "12", "+12.0000005"]
    path = write(tmp_path, "".join(f"{t} 0 0 1\n" for t in times))
    got = read_events(path, geometry=(1, 1))["t"].tolist()
    assert got == [0, 1, 2, 1500, 2000, 12_000_000, 12_000_001]


def test_csv_with_named_columns_in_another_order(tmp_path):
    path = write(tmp_path, "x, y, timestamp, polarity\r\n3, 4, 100, -1\r\n5, 6, 101, 1\r\n", "e.csv")
    with TextReader(path, geometry=(8, 8)) as src:
        assert src.info.metadata["columns"] == "x,y,t,p"
        assert rows(np.concatenate(list(src))) == [(100, 3, 4, 0), (101, 5, 6, 1)]


def test_time_unit_option_and_comments(tmp_path):
    path = write(tmp_path, "# recorded by hand\n\n5 1 2 1\n# pause\n7 1 2 0\n")
    assert read_events(path, geometry=(2, 3))["t"].tolist() == [5, 7]
    assert read_events(path, geometry=(2, 3), time_unit="s")["t"].tolist() == [5_000_000, 7_000_000]
    with pytest.raises(ValueError):
        TextReader(path, time_unit="ms")


def test_geometry_falls_back_to_max_plus_one(tmp_path, caplog):
    path = write(tmp_path, "1,5,2,1\n2,9,0,0\n", "g.csv")
    with caplog.at_level(logging.INFO):
        src = TextReader(path)
    assert (src.info.width, src.info.height) == (10, 3)
    assert "largest x and y" in caplog.text
    assert TextReader(path, geometry=(20, 20)).info.width == 20


LINES = ["0.1 1 1 0\n", "0.2 2 2 1\n"]


@pytest.mark.parametrize(
    ("bad", "error", "reason", "words"),
    [
        ("0.3 x 2 1\n", EventFormatError, "not_a_number", "not a number"),
        ("0.3 2 2\n", EventFormatError, "wrong_column_count", "4 columns"),
        ("0.3 2 2 1 9\n", EventFormatError, "wrong_column_count", "4 columns"),
        ("0.3 2 2 1x\n", EventFormatError, "not_a_number", "not a number"),
        ("0.3 2 2 2\n", EventFormatError, "bad_polarity", "polarity"),
        ("0.3 20 2 1\n", CoordinateError, "outside_geometry", "outside"),
        ("0.3 -1 2 1\n", CoordinateError, "outside_geometry", "outside"),
        ("0.05 2 2 1\n", TimeOrderError, "time_backwards", "backwards"),
    ],
)
def test_bad_line_strict_and_lenient(tmp_path, bad, error, reason, words):
    text = "10 10\n" + LINES[0] + LINES[1] + bad + "0.4 3 3 1\n"
    path = write(tmp_path, text)
    with pytest.raises(error) as err:
        read_events(path)
    assert err.value.offset == len(("10 10\n" + LINES[0] + LINES[1]).encode())
    assert "line 4" in str(err.value) and words in str(err.value)
    with TextReader(path, strict=False) as src:
        assert np.concatenate(list(src))["t"].tolist() == [100_000, 200_000, 400_000]
        assert src.stats.skipped == {reason: 1}


def test_fraction_in_a_microsecond_file(tmp_path):
    path = write(tmp_path, "t,x,y,p\n5,1,1,1\n6.5,1,1,1\n", "f.csv")
    with pytest.raises(EventFormatError, match=r"line 3: t has a fraction"):
        read_events(path, geometry=(2, 2), time_unit="us")
    assert read_events(path, geometry=(2, 2))["t"].tolist() == [5_000_000, 6_500_000]  # auto: seconds


def test_truncated_last_line(tmp_path):
    path = write(tmp_path, "0.1 1 1 0\n0.2 1")
    with pytest.raises(EventFormatError, match="line 2"):
        read_events(path, geometry=(2, 2))


def test_empty_and_wrong_header(tmp_path):
    with pytest.raises(EmptyFileError):
        TextReader(write(tmp_path, ""))
    with pytest.raises(HeaderError, match="line 1"):
        TextReader(write(tmp_path, "time x y intensity\n1 2 3 4\n"))
    with pytest.raises(HeaderError, match="line 2"):
        TextReader(write(tmp_path, "640 480\nhello world\n"))
    only_header = TextReader(write(tmp_path, "t,x,y,p\n", "h.csv"), geometry=(1, 1))
    assert list(only_header) == []


def test_lines_longer_than_a_chunk(tmp_path):
    text = "".join(f"{i}.{i:06d}   {i}  {2 * i}\t{i % 2}\n" for i in range(200))
    path = write(tmp_path, text)
    want = read_events(path, geometry=(200, 400))
    assert want["t"].tolist()[:3] == [0, 1_000_001, 2_000_002]
    for chunk in (1, 5, 64):
        np.testing.assert_array_equal(read_events(path, geometry=(200, 400), chunk_bytes=chunk), want)


def test_seek_and_window(tmp_path):
    ev = make_events(np.arange(500) % 7, np.arange(500) % 5, np.arange(500) % 2, np.arange(500) * 3)
    path = tmp_path / "w.csv"
    with TextWriter(path, 7, 5) as w:
        w.write(ev)
    src = TextReader(path, geometry=(7, 5), chunk_bytes=256)
    src.seek(601)
    np.testing.assert_array_equal(next(src.slices(n_events=3)), ev[201:204])
    np.testing.assert_array_equal(src.read_window(30, 90), ev[10:30])


decimals = st.builds(
    lambda sign, whole, frac, exp: f"{sign}{whole}" + (f".{frac}" if frac is not None else "") + exp,
    st.sampled_from(["", "-", "+"]),
    st.one_of(st.integers(0, 10**7), st.integers(0, 10**14)),
    st.one_of(st.none(), st.text("0123456789", min_size=0, max_size=25)),
    st.sampled_from(["", "e-3", "E2", "e+1", "e0"]),
)


def reference_us(token):
    """Seconds to µs, rounded half away from zero, with exact rational arithmetic."""
    value = Fraction(token) * 1_000_000
    q = abs(value)
    r = int(q) + (1 if q - int(q) >= Fraction(1, 2) else 0)
    return -r if value < 0 else r


@settings(max_examples=100, deadline=None)
@given(token=decimals)
def test_seconds_parser_matches_fraction_reference(tmp_path_factory, token):
    path = tmp_path_factory.mktemp("d") / "one.txt"
    path.write_text(f"{token} 0 0 1\n")
    want = reference_us(token)
    if abs(want) < 2**63:
        assert read_events(path, geometry=(1, 1), time_unit="s")["t"].tolist() == [want]
    else:
        with pytest.raises(EventFormatError, match="out of range"):
            read_events(path, geometry=(1, 1), time_unit="s")


@st.composite
def event_arrays(draw, width=640, height=480):
    n = draw(st.integers(0, 60))
    ts = draw(st.lists(st.integers(-(10**12), 10**15), min_size=n, max_size=n))
    ts = np.sort(np.asarray(ts, dtype=np.int64))
    xs = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, height - 1), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    return make_events(np.asarray(xs, dtype=np.int64), ys, ps, ts)


@settings(max_examples=60, deadline=None)
@given(ev=event_arrays(), ext=st.sampled_from([".txt", ".csv"]), chunk=st.integers(8, 300))
def test_round_trip(tmp_path_factory, ev, ext, chunk):
    path = tmp_path_factory.mktemp("rt") / f"events{ext}"
    with TextWriter(path, 640, 480) as w:
        w.write(ev)
    geometry = None if ext == ".txt" else (640, 480)
    with open_source(path, geometry=geometry, chunk_bytes=chunk) as src:
        assert (src.info.width, src.info.height) == (640, 480)
        parts = list(src)
    np.testing.assert_array_equal(np.concatenate(parts) if parts else ev[:0], ev)


def test_writer_formats(tmp_path):
    ev = make_events([1, 2], [3, 4], [0, 1], [-1, 1_234_567])
    with TextWriter(tmp_path / "a.txt", 10, 10) as w:
        w.write(ev)
    assert (tmp_path / "a.txt").read_text() == "10 10\n-0.000001 1 3 0\n1.234567 2 4 1\n"
    with TextWriter(tmp_path / "a.csv", 10, 10) as w:
        w.write(ev)
    assert (tmp_path / "a.csv").read_text() == "t,x,y,p\n-1,1,3,0\n1234567,2,4,1\n"
    with pytest.raises(ValueError, match="txt or"):
        TextWriter(tmp_path / "a.dat", 1, 1)
