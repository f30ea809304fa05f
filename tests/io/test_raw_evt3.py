"""EVT 3.0: golden words composed by hand from the specification, a slow reference decoder
against the fast one, and write -> read round trips."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import (
    TRIGGER_DTYPE,
    CoordinateError,
    EventFormatError,
    TimeOrderError,
    UnknownWordError,
    make_events,
    open_writer,
    read_events,
)
from spikesight.io.evt3 import Evt3Writer
from spikesight.io.raw import open_raw

W, H = 64, 32
HEADER = b"% evt 3.0\n% format EVT3;height=32;width=64\n% end\n"


def th(v):
    return 0x8000 | v


def tl(v):
    return 0x6000 | v


def ay(y, system=0):
    return (system << 11) | y


def ax(x, p):
    return 0x2000 | (p << 11) | x


def base(x, p):
    return 0x3000 | (p << 11) | x


def v12(mask):
    return 0x4000 | mask


def v8(mask):
    return 0x5000 | mask


def trig(ident, value):
    return 0xA000 | (ident << 8) | value


def raw(tmp_path, words, name="t.raw", tail=b""):
    path = tmp_path / name
    path.write_bytes(HEADER + np.asarray(words, dtype="<u2").tobytes() + tail)
    return path


def decode(path, **kw):
    with open_raw(path, **kw) as src:
        parts = list(src)
        src.scan()
        ev = np.concatenate(parts) if parts else make_events([], [], [], [])
        return ev, src.triggers, src.stats


def rows(ev):
    return [tuple(int(v) for v in e) for e in ev]


T0 = 0x123456


def test_every_word_type(tmp_path):
    words = [
        th(0x123), tl(0x456), ay(5), ax(7, 1),  # one ON event at (7, 5), t = 0x123456
        base(10, 0), v12(0b1000_0000_0101), v8(0b1000_0001),  # OFF at x = 10, 12, 21 then 22, 29
        tl(0x457), ay(6, system=1), ax(3, 0),  # the system bit is not part of y
        trig(3, 1),  # trigger id 3, value 1, at the current time
        0xE014, 0xF0AB, 0xF0CD, 0x7005, 0xD000,  # OTHERS, 2x CONTINUED_12, CONTINUED_4, IMU: counted
    ]
    ev, triggers, stats = decode(raw(tmp_path, words))
    t1 = T0 + 1
    assert rows(ev) == [(7, 5, 1, T0), (10, 5, 0, T0), (12, 5, 0, T0), (21, 5, 0, T0), (22, 5, 0, T0),
                        (29, 5, 0, T0), (3, 6, 0, t1)]
    assert triggers.tolist() == [(1, t1, 3)]
    assert stats.other == {"OTHERS": 1, "CONTINUED_12": 2, "CONTINUED_4": 1, "IMU": 1, "EXT_TRIGGER": 1}
    assert stats.skipped == {}


def test_vector_base_advances_by_12_and_8_and_keeps_polarity(tmp_path):
    words = [th(0), tl(9), ay(1), base(0, 1), v12(1), v12(1), v8(1), v12(0b11)]
    ev, _, _ = decode(raw(tmp_path, words))
    assert rows(ev) == [(0, 1, 1, 9), (12, 1, 1, 9), (24, 1, 1, 9), (32, 1, 1, 9), (33, 1, 1, 9)]


def test_time_wraps_every_2_pow_24_us(tmp_path):
    words = [
        th(0xFFF), tl(0xFFF), ay(0), ax(0, 1),  # t = 2**24 - 1
        th(0x000), tl(1), ax(1, 1),  # 0xFFF -> 0x000: a wrap
        th(0x800), ax(2, 1),  # a new time high resets the time low: t = 2**24 + 0x800000
        th(0x000), ax(3, 1),  # 0x800 -> 0: a fall of exactly half the range is a wrap
        th(0x7FF), th(0xFFF), th(0x000), ax(4, 0),  # forward, forward, wrap
    ]
    ev, _, _ = decode(raw(tmp_path, words))
    assert ev["t"].tolist() == [2**24 - 1, 2**24 + 1, 2**24 + 0x800000, 2 * 2**24, 3 * 2**24]


def test_time_high_falling_less_than_half_the_range_runs_backwards(tmp_path):
    words = [th(0x800), tl(5), ay(0), ax(0, 1), th(0x001), ax(1, 1)]
    path = raw(tmp_path, words)
    with pytest.raises(TimeOrderError) as e:
        decode(path)
    assert e.value.offset == len(HEADER) + 2 * 4
    ev, _, stats = decode(path, strict=False)
    assert ev["t"].tolist() == [0x800005, 0x800005]
    assert stats.skipped == {"time_backwards": 1}


def test_time_low_backwards(tmp_path):
    path = raw(tmp_path, [th(1), tl(7), ay(0), ax(0, 1), tl(6), ax(1, 1)])
    with pytest.raises(TimeOrderError, match="backwards"):
        decode(path)
    ev, _, stats = decode(path, strict=False)
    assert ev["t"].tolist() == [4096 + 7, 4096 + 7]
    assert stats.skipped == {"time_backwards": 1}


def test_words_before_the_first_time_high_are_skipped_and_counted(tmp_path):
    ev, _, stats = decode(raw(tmp_path, [tl(3), ay(2), ax(1, 1), th(2), tl(3), ay(2), ax(1, 1)]))
    assert rows(ev) == [(1, 2, 1, 2 * 4096 + 3)]
    assert stats.skipped == {"before_first_time_high": 3}


@pytest.mark.parametrize("chunk_bytes", [2, 4, 6, 10, 64])
def test_chunk_boundaries_inside_vectors_and_continued_words(tmp_path, chunk_bytes):
    words = [th(1), tl(2), ay(3), base(4, 1), v12(0xFFF), v12(0x001), v8(0x80),
             0xE016, 0xF001, 0xF002, 0x7003,  # OTHERS with its CONTINUED_12, CONTINUED_12, CONTINUED_4
             th(0xFFF), th(0), tl(1), ay(4), ax(5, 0), base(40, 0), v12(0x800), v8(0x01)]
    path = raw(tmp_path, words)
    want = decode(path)
    got = decode(path, chunk_bytes=chunk_bytes, max_events=12)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[2].other == want[2].other
    assert len(want[0]) == 12 + 2 + 1 + 2


# -- a slow reference decoder, written straight from the specification ----------------------------

class RefError(Exception):
    pass


def reference(words, width, height, strict):
    """Decode word by word: (events, triggers, other counts, skipped counts), or RefError(index)."""
    events, triggers, other, skipped = [], [], Counter(), Counter()
    names = {0x7: "CONTINUED_4", 0xD: "IMU", 0xE: "OTHERS", 0xF: "CONTINUED_12"}
    high, low, wraps, row, vbase, vpol = None, 0, 0, None, None, 0

    def bad(i, reason):
        if strict:
            raise RefError(i)
        skipped[reason] += 1

    for i, w in enumerate(words):
        kind, payload = w >> 12, w & 0xFFF
        if high is None:
            if kind == 0x8:
                high = payload
            else:
                skipped["before_first_time_high"] += 1
            continue
        now = wraps * 2**24 + high * 4096 + low
        if kind == 0x0:
            row = payload & 0x7FF
        elif kind == 0x2:
            x = payload & 0x7FF
            if row is None:
                bad(i, "no_row_address")
            elif x >= width or row >= height:
                bad(i, "outside_geometry")
            else:
                events.append((x, row, payload >> 11, now))
        elif kind == 0x3:
            vbase, vpol = payload & 0x7FF, payload >> 11
        elif kind in (0x4, 0x5):
            size = 12 if kind == 0x4 else 8
            bits = [b for b in range(size) if payload >> b & 1]
            if vbase is None:
                bad(i, "no_vector_base")
                continue
            if bits and row is None:
                bad(i, "no_row_address")
            elif strict and any(vbase + b >= width or row >= height for b in bits):
                raise RefError(i)
            else:
                for b in bits:
                    if vbase + b < width and row < height:
                        events.append((vbase + b, row, vpol, now))
                    else:
                        skipped["outside_geometry"] += 1
            vbase += size
        elif kind == 0x6:
            if payload < low:
                bad(i, "time_backwards")
            else:
                low = payload
        elif kind == 0x8:
            if payload > high or high - payload >= 2048:
                wraps += payload < high
                high, low = payload, 0
            elif payload < high:
                bad(i, "time_backwards")
        elif kind == 0xA:
            triggers.append((payload & 1, now, payload >> 8))
            other["EXT_TRIGGER"] += 1
        elif kind in names:
            other[names[kind]] += 1
        else:
            bad(i, "unknown_word")
    return events, triggers, dict(other), dict(skipped)


def word_strategy():
    small = st.integers(0, 12)
    return st.one_of(
        st.builds(th, st.integers(0, 0xFFF)), st.builds(th, st.sampled_from([0, 1, 2, 0x7FF, 0x800, 0xFFF])),
        st.builds(tl, st.integers(0, 0xFFF)), st.builds(tl, small),
        st.builds(ay, st.integers(0, H + 3), st.integers(0, 1)),
        st.builds(ax, st.integers(0, W + 3), st.integers(0, 1)),
        st.builds(base, st.integers(0, W + 3), st.integers(0, 1)),
        st.builds(v12, st.integers(0, 0xFFF)), st.builds(v8, st.integers(0, 0xFF)),
        st.builds(trig, st.integers(0, 15), st.integers(0, 1)),
        st.integers(0, 0xFFFF),
    )


@settings(max_examples=80, deadline=None)
@given(words=st.lists(word_strategy(), max_size=120), strict=st.booleans(), chunk=st.integers(1, 40))
def test_matches_reference_decoder(tmp_path_factory, words, strict, chunk):
    words = [th(0), ay(1), base(0, 1), *words]  # a time base, a row and a vector base, mostly
    path = raw(tmp_path_factory.mktemp("ref"), words)
    try:
        want = reference(words, W, H, strict)
    except RefError as e:
        with pytest.raises(EventFormatError) as got:
            decode(path, strict=strict, chunk_bytes=2 * chunk)
        assert got.value.offset == len(HEADER) + 2 * e.args[0]
        return
    ev, triggers, stats = decode(path, strict=strict, chunk_bytes=2 * chunk, max_events=12)
    assert rows(ev) == want[0]
    assert triggers.tolist() == want[1]
    assert stats.other == want[2]
    assert stats.skipped == want[3]


# -- writer -----------------------------------------------------------------------------------

def body_words(path):
    data = path.read_bytes()
    return np.frombuffer(data[data.index(b"% end\n") + 6:], dtype="<u2").tolist()


def test_writer_emits_the_words_of_the_specification(tmp_path):
    path = tmp_path / "w.raw"
    with Evt3Writer(path, W, H) as w:
        w.write(make_events([7, 3, 9], [5, 5, 6], [1, 0, 1], [T0, T0, T0 + 1]))
    assert path.read_bytes().startswith(
        b"% evt 3.0\n% format EVT3;height=32;width=64\n% geometry 64x32\n% end\n")
    assert body_words(path) == [th(0x123), tl(0x456), ay(5), ax(7, 1), ax(3, 0), tl(0x457), ay(6), ax(9, 1)]


def test_writer_uses_vectors_for_runs_on_a_row(tmp_path):
    path = tmp_path / "v.raw"
    xs = [10, 11, 12, 20, 30, 41]  # all within 32 columns of x = 10, increasing
    with Evt3Writer(path, W, H) as w:
        w.write(make_events(xs, [4] * 6, [0] * 6, [5] * 6))
    mask = sum(1 << (x - 10) for x in xs)
    assert body_words(path) == [th(0), tl(5), ay(4), base(10, 0), v12(mask & 0xFFF), v12(mask >> 12 & 0xFFF),
                                v8(mask >> 24)]
    np.testing.assert_array_equal(read_events(path)["x"], xs)


def test_writer_keeps_vectors_inside_the_sensor(tmp_path):
    path = tmp_path / "edge.raw"
    xs = [50, 51, 52, 53, 63]  # a base of 50 would reach x = 81: the base moves to 64 - 32 = 32
    with Evt3Writer(path, W, H) as w:
        w.write(make_events(xs, [0] * 5, [1] * 5, [0] * 5))
    mask = sum(1 << (x - 32) for x in xs)
    assert body_words(path) == [th(0), ay(0), base(32, 1), v12(mask & 0xFFF), v12(mask >> 12 & 0xFFF),
                                v8(mask >> 24)]
    np.testing.assert_array_equal(read_events(path)["x"], xs)


def test_writer_bridges_long_gaps_so_wraps_decode(tmp_path):
    path = tmp_path / "gap.raw"
    t = [0, 5 * 2**24 + 3, 5 * 2**24 + 2**23, 40 * 2**24]
    with Evt3Writer(path, W, H) as w:
        w.write(make_events([1, 2, 3, 4], [0] * 4, [1] * 4, t))
    assert read_events(path)["t"].tolist() == t


def events_strategy(width, height, max_t):
    """Time-sorted events with bursts on one row and time (so vectors are used) and long gaps."""
    burst = st.tuples(st.integers(0, max_t), st.integers(0, height - 1), st.integers(0, 1),
                      st.lists(st.integers(0, width - 1), min_size=1, max_size=40))
    return st.lists(burst, max_size=30).map(lambda bursts: _flatten(sorted(bursts, key=lambda b: b[0])))


def _flatten(bursts):
    rows_ = [(x, y, p, t) for t, y, p, xs in bursts for x in sorted(set(xs))]
    if not rows_:
        return make_events([], [], [], [])
    x, y, p, t = zip(*rows_, strict=True)
    return make_events(x, y, p, t)


@settings(max_examples=60, deadline=None)
@given(ev=events_strategy(1280, 720, 5 * 2**24), split=st.integers(0, 600))
def test_round_trip_spanning_several_wraps(tmp_path_factory, ev, split):
    path = tmp_path_factory.mktemp("rt") / "rt.raw"
    with open_writer(path, 1280, 720) as w:
        assert isinstance(w, Evt3Writer)
        w.write(ev[:split])
        w.write(ev[split:])
    np.testing.assert_array_equal(read_events(path, chunk_bytes=64, max_events=50), ev)


@settings(max_examples=40, deadline=None)
@given(ev=events_strategy(33, 7, 3 * 2**24))
def test_round_trip_on_a_narrow_sensor(tmp_path_factory, ev):
    path = tmp_path_factory.mktemp("narrow") / "n.raw"
    with Evt3Writer(path, 33, 7) as w:
        w.write(ev)
    np.testing.assert_array_equal(read_events(path), ev)


def test_round_trip_with_triggers(tmp_path):
    path = tmp_path / "trig.raw"
    trig_in = np.array([(1, 50, 0), (0, 2**24 + 10, 15)], dtype=TRIGGER_DTYPE)
    with Evt3Writer(path, W, H) as w:
        w.write(make_events([1], [1], [1], [40]))
        w.write_triggers(trig_in[:1])
        w.write(make_events([2], [2], [0], [60]))
        w.write_triggers(trig_in[1:])
        with pytest.raises(ValueError, match="time order"):
            w.write_triggers(trig_in[:1])
    ev, triggers, _ = decode(path)
    assert rows(ev) == [(1, 1, 1, 40), (2, 2, 0, 60)]
    np.testing.assert_array_equal(triggers, trig_in)


def test_writer_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(ValueError):
        Evt3Writer(tmp_path / "big.raw", 4096, 720)
    with Evt3Writer(tmp_path / "w.raw", W, H) as w:
        with pytest.raises(ValueError, match="polarity"):
            w.write(make_events([1], [1], [2], [0]))
        with pytest.raises(ValueError, match="2\\*\\*40"):
            w.write(make_events([1], [1], [1], [-5]))
        with pytest.raises(ValueError, match="geometry"):
            w.write(make_events([W], [1], [1], [0]))
        with pytest.raises(ValueError, match="id"):
            w.write_triggers(np.array([(1, 0, 16)], dtype=TRIGGER_DTYPE))
        w.write(make_events([1], [1], [1], [100]))
        with pytest.raises(ValueError, match="time order"):
            w.write(make_events([1], [1], [1], [99]))


@pytest.mark.parametrize(("words", "error"), [
    ([th(0), 0x9000], UnknownWordError),
    ([th(0), 0x1234], UnknownWordError),
    ([th(0), ay(H), ax(0, 1)], CoordinateError),
    ([th(0), ay(0), ax(W, 1)], CoordinateError),
    ([th(0), ay(0), base(W - 4, 0), v12(0b10000)], CoordinateError),
    ([th(0), ax(1, 1)], EventFormatError),
    ([th(0), ay(0), v12(1)], EventFormatError),
])
def test_bad_words_name_their_offset(tmp_path, words, error):
    path = raw(tmp_path, words)
    with pytest.raises(error) as e:
        decode(path)
    assert e.value.offset == len(HEADER) + 2 * (len(words) - 1)
    assert str(path) in str(e.value)
    _, _, stats = decode(path, strict=False)
    assert sum(stats.skipped.values()) == 1
