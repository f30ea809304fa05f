"""The time origin of a RAW file (``% spikesight_t0_us``): RAW holds times below 2**40 µs, so a
stream on a later clock (DV cameras stamp µs since the Unix epoch) is written relative to its
first event, and that time is kept in the header. Golden files composed by hand, the writer's
header read back, a malformed value refused, and the header padded so that a file cut at any
page boundary ends on a whole word."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import HeaderError, make_events, open_source, read_events
from spikesight.io.evt2 import Evt2Writer
from spikesight.io.evt3 import Evt3Writer
from spikesight.io.raw_header import HEADER_ALIGN, T0_KEY, format_header, parse_header

T0 = 1_700_000_000_123_456  # µs since the epoch: beyond the 2**40 µs RAW holds


def evt3_words(t: int, x: int, y: int, p: int) -> list[int]:
    """One CD event in EVT 3.0: TIME_HIGH (t[23:12]), TIME_LOW (t[11:0]), ADDR_Y, ADDR_X (pol in bit 11)."""
    return [0x8000 | (t >> 12), 0x6000 | (t & 0xFFF), y, 0x2000 | (p << 11) | x]


def test_a_hand_written_file_with_a_time_origin_reports_it_and_keeps_its_own_times(tmp_path):
    head = f"% evt 3.0\n% format EVT3;height=32;width=64\n% {T0_KEY} {T0}\n% end\n".encode()
    words = evt3_words(0x001_005, 3, 4, 1) + evt3_words(0x002_00A, 5, 6, 0)
    path = tmp_path / "epoch.raw"
    path.write_bytes(head + np.array(words, dtype="<u2").tobytes())
    with open_source(path) as src:
        assert src.info.metadata[T0_KEY] == str(T0)
        ev = np.concatenate(list(src))
    assert ev["t"].tolist() == [0x001_005, 0x002_00A]  # the file's times: nothing shifted silently
    assert ev[["x", "y", "p"]].tolist() == [(3, 4, 1), (5, 6, 0)]


@pytest.mark.parametrize("value", ["soon", "1.5e15", ""])
def test_a_time_origin_that_is_not_an_integer_is_refused_naming_it(tmp_path, value):
    head = f"% evt 3.0\n% format EVT3;height=32;width=64\n% {T0_KEY} {value}\n% end\n".encode()
    with pytest.raises(HeaderError, match=T0_KEY):
        parse_header(head, "bad.raw")


@pytest.mark.parametrize("writer", [Evt3Writer, Evt2Writer])
def test_the_writer_stores_the_origin_and_the_reader_returns_it(tmp_path, writer):
    path = tmp_path / "rel.raw"
    ev = make_events([1, 2, 3], [4, 5, 6], [0, 1, 0], [0, 70, 5_000_000])
    with writer(path, 64, 32, header={T0_KEY: T0}) as w:
        w.write(ev)
    with open_source(path) as src:
        assert int(src.info.metadata[T0_KEY]) == T0
        assert src.info.width == 64 and src.info.height == 32
    np.testing.assert_array_equal(read_events(path), ev)


def test_a_file_without_an_origin_says_none():
    assert T0_KEY not in parse_header(format_header("evt3", 64, 32)).fields


@pytest.mark.parametrize("bad", [{"two words": 1}, {"": 1}, {"k": "a\nb"}])
def test_header_fields_that_would_break_the_header_are_refused(bad):
    with pytest.raises(ValueError):
        format_header("evt3", 64, 32, bad)


@settings(max_examples=60, deadline=None)
@given(w=st.integers(1, 2048), h=st.integers(1, 2048), t0=st.integers(0, 10**17),
       encoding=st.sampled_from(["evt2", "evt3"]))
def test_headers_with_extra_fields_end_on_a_word_boundary_and_parse_back(w, h, t0, encoding):
    head = format_header(encoding, w, h, {T0_KEY: t0})
    assert len(head) % HEADER_ALIGN == 0
    parsed = parse_header(head + b"\x00" * 8)
    assert parsed.data_offset == len(head)
    assert int(parsed.fields[T0_KEY]) == t0 and parsed.geometry == (w, h)


@pytest.mark.parametrize("writer", [Evt3Writer, Evt2Writer])
@pytest.mark.parametrize("t0", [T0, 10 * T0 + 1])  # 16 and 17 digits: unpadded, odd and even lengths
def test_a_file_cut_at_any_page_boundary_reads_strictly(tmp_path, writer, t0):
    """A killed writer's last write stops at a page boundary of the file: with the header
    padded, that is always a whole word, so the prefix reads without a truncation error."""
    path = tmp_path / "long.raw"
    n = 6000
    t = np.arange(n, dtype=np.int64) * 13
    ev = make_events(t % 64, (t // 64) % 32, t % 2, t)
    with writer(path, 64, 32, header={T0_KEY: t0}) as w:
        w.write(ev)
    data = path.read_bytes()
    cut_path = tmp_path / "cut.raw"
    for cut in range(4096, len(data), 4096):
        cut_path.write_bytes(data[:cut])
        back = read_events(cut_path)  # strict
        np.testing.assert_array_equal(back, ev[: len(back)])
