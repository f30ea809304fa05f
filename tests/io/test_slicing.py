"""Slicing, seeking and windows of the EventSource base, against a plain numpy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import Checkpoint, Chunk, EventSource, StreamInfo, make_events
from spikesight.io.memory import ArraySource


def _events(ts):
    ts = np.sort(np.asarray(ts, dtype=np.int64))
    n = len(ts)
    return make_events(np.arange(n) % 7, np.arange(n) % 5, np.arange(n) % 2, ts)


class SequentialSource(EventSource):
    """Only decodes forward (like a RAW file): exercises the time index of the base class."""

    def __init__(self, events, chunk):
        super().__init__(None)
        self.ev = events
        self.chunk = chunk
        self.decoded = 0
        self.info = StreamInfo(7, 5, "test")

    def _chunks_from(self, cp):
        start = 0 if cp is None else cp.offset
        for i in range(start, len(self.ev), self.chunk):
            self.decoded += 1
            yield Chunk(Checkpoint(i), self.ev[i : i + self.chunk])


def ref_delta_t(ev, dt):
    t0 = int(ev["t"][0])
    last = int(ev["t"][-1])
    out = []
    while t0 <= last:
        out.append(ev[(ev["t"] >= t0) & (ev["t"] < t0 + dt)])
        t0 += dt
    return out


def ref_mixed(ev, dt, n):
    out = []
    for w in ref_delta_t(ev, dt):
        if len(w) == 0:
            out.append(w)
        for i in range(0, len(w), n):
            out.append(w[i : i + n])
    return out


timestamps = st.lists(st.integers(0, 5000), min_size=1, max_size=300)


@settings(max_examples=60, deadline=None)
@given(ts=timestamps, dt=st.integers(1, 700), chunk=st.integers(1, 50))
def test_delta_t_matches_reference(ts, dt, chunk):
    ev = _events(ts)
    got = list(SequentialSource(ev, chunk).slices(delta_t=dt))
    want = ref_delta_t(ev, dt)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=60, deadline=None)
@given(ts=timestamps, n=st.integers(1, 40), chunk=st.integers(1, 50))
def test_n_events_matches_reference(ts, n, chunk):
    ev = _events(ts)
    got = list(SequentialSource(ev, chunk).slices(n_events=n))
    want = [ev[i : i + n] for i in range(0, len(ev), n)]
    assert [len(g) for g in got] == [len(w) for w in want]
    np.testing.assert_array_equal(np.concatenate(got), ev)


@settings(max_examples=60, deadline=None)
@given(ts=timestamps, dt=st.integers(1, 700), n=st.integers(1, 40), chunk=st.integers(1, 50))
def test_mixed_mode_ends_at_whichever_comes_first(ts, dt, n, chunk):
    ev = _events(ts)
    got = list(SequentialSource(ev, chunk).slices(delta_t=dt, n_events=n))
    want = ref_mixed(ev, dt, n)
    assert [len(g) for g in got] == [len(w) for w in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


def test_windows_report_bounds_and_empty_windows():
    ev = _events([100, 101, 350])
    wins = list(ArraySource(ev, 7, 5).windows(delta_t=100))
    got = [(w.t_start, w.t_end, len(w.events)) for w in wins]
    assert got == [(100, 200, 2), (200, 300, 0), (300, 400, 1)]


def test_seek_uses_index_and_does_not_redecode_prefix():
    ev = _events(np.arange(0, 100_000, 10))
    src = SequentialSource(ev, 100)
    src.scan()
    assert src.info.event_count == len(ev)
    full = src.decoded
    src.decoded = 0
    src.seek(60_000)
    first = next(src.slices(n_events=5))
    np.testing.assert_array_equal(first["t"], [60_000, 60_010, 60_020, 60_030, 60_040])
    assert src.decoded <= 2 < full


def test_seek_before_index_built_decodes_forward_once():
    ev = _events(np.arange(0, 10_000, 10))
    src = SequentialSource(ev, 10)
    src.seek(5_005)
    assert next(src.slices(n_events=1))["t"][0] == 5_010
    src.decoded = 0
    src.seek(2_000)
    assert next(src.slices(n_events=1))["t"][0] == 2_000
    assert src.decoded == 1


def test_read_window_does_not_move_position():
    ev = _events(np.arange(0, 1000, 3))
    src = SequentialSource(ev, 16)
    it = src.slices(delta_t=100)
    a = next(it)
    w = src.read_window(500, 600)
    np.testing.assert_array_equal(w, ev[(ev["t"] >= 500) & (ev["t"] < 600)])
    b = next(it)
    np.testing.assert_array_equal(a, ev[ev["t"] < 100])
    np.testing.assert_array_equal(b, ev[(ev["t"] >= 100) & (ev["t"] < 200)])


def test_empty_source_yields_nothing():
    src = ArraySource(_events([])[:0], 7, 5)
    assert list(src.slices(delta_t=10)) == []
    assert list(src.slices(n_events=10)) == []


def test_bad_slice_arguments():
    src = ArraySource(_events([1, 2]), 7, 5)
    with pytest.raises(ValueError):
        next(src.slices())
    with pytest.raises(ValueError):
        next(src.slices(delta_t=0))
    with pytest.raises(ValueError):
        next(src.slices(n_events=-1))
