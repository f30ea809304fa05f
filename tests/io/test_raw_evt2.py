"""EVT 2.0: golden words composed by hand from the specification, a slow reference decoder
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
from spikesight.io.evt2 import Evt2Writer
from spikesight.io.raw import open_raw

W, H = 64, 32
HEADER = b"% evt 2.0\n% geometry 64x32\n% end\n"


def cd(p, low, x, y):
    return (p << 28) | (low << 22) | (x << 11) | y


def th(v):
    return (0x8 << 28) | v


def trig(low, ident, value):
    return (0xA << 28) | (low << 22) | (ident << 8) | value


def raw(tmp_path, words, name="t.raw", tail=b""):
    path = tmp_path / name
    path.write_bytes(HEADER + np.asarray(words, dtype="<u4").tobytes() + tail)
    return path


def decode(path, **kw):
    with open_raw(path, **kw) as src:
        parts = list(src)
        src.scan()
        ev = np.concatenate(parts) if parts else make_events([], [], [], [])
        return ev, src.triggers, src.stats


def rows(ev):
    return [tuple(int(v) for v in e) for e in ev]


def test_every_word_type(tmp_path):
    words = [
        th(0x1234567),  # time high: t = 0x1234567 << 6 | low
        cd(1, 5, 17, 9), cd(0, 6, 0, 31), cd(1, 6, 63, 0),
        trig(7, 21, 1),  # trigger id 21, value 1, low 7
        (0xE << 28) | (8 << 22) | 0x0014, (0xF << 28) | 0xABCDEF, (0xD << 28) | 1,  # OTHERS, CONTINUED, IMU
        th(0x1234568), cd(0, 0, 2, 3),
    ]
    ev, triggers, stats = decode(raw(tmp_path, words))
    base = 0x1234567 << 6
    assert rows(ev) == [(17, 9, 1, base + 5), (0, 31, 0, base + 6), (63, 0, 1, base + 6),
                        (2, 3, 0, base + 64)]
    assert triggers.tolist() == [(1, base + 7, 21)]
    assert stats.other == {"OTHERS": 1, "CONTINUED": 1, "IMU": 1, "EXT_TRIGGER": 1}


def test_time_high_wraps_every_2_pow_34_us(tmp_path):
    top = (1 << 28) - 1
    words = [th(top), cd(1, 63, 0, 0), th(0), cd(1, 1, 1, 0), th(1 << 27), cd(1, 0, 2, 0),
             th(0), cd(1, 0, 3, 0)]
    ev, _, _ = decode(raw(tmp_path, words))
    assert ev["t"].tolist() == [2**34 - 1, 2**34 + 1, 2**34 + 2**33, 2 * 2**34]


def test_time_running_backwards(tmp_path):
    path = raw(tmp_path, [th(1 << 27), cd(1, 3, 0, 0), th(5), cd(1, 3, 1, 0)])
    with pytest.raises(TimeOrderError) as e:
        decode(path)
    assert e.value.offset == len(HEADER) + 4 * 2
    ev, _, stats = decode(path, strict=False)
    assert len(ev) == 2
    assert stats.skipped == {"time_backwards": 1}
    path = raw(tmp_path, [th(9), cd(1, 3, 0, 0), cd(1, 2, 1, 0)], name="low.raw")
    with pytest.raises(TimeOrderError):
        decode(path)
    ev, _, stats = decode(path, strict=False)
    assert rows(ev) == [(0, 0, 1, 9 * 64 + 3)]
    assert stats.skipped == {"time_backwards": 1}


def test_words_before_the_first_time_high_are_skipped_and_counted(tmp_path):
    ev, _, stats = decode(raw(tmp_path, [cd(1, 0, 1, 1), trig(0, 0, 1), th(3), cd(1, 0, 1, 1)]))
    assert rows(ev) == [(1, 1, 1, 3 * 64)]
    assert stats.skipped == {"before_first_time_high": 2}


@pytest.mark.parametrize(("words", "error"), [
    ([th(0), 0x2000_0000], UnknownWordError),
    ([th(0), 0x9000_0000], UnknownWordError),
    ([th(0), cd(1, 0, W, 0)], CoordinateError),
    ([th(0), cd(0, 0, 0, H)], CoordinateError),
])
def test_bad_words_name_their_offset(tmp_path, words, error):
    path = raw(tmp_path, words)
    with pytest.raises(error) as e:
        decode(path)
    assert e.value.offset == len(HEADER) + 4 * (len(words) - 1)
    assert isinstance(e.value, EventFormatError)
    _, _, stats = decode(path, strict=False)
    assert sum(stats.skipped.values()) == 1


class RefError(Exception):
    pass


def reference(words, width, height, strict):
    """Decode word by word: (events, triggers, other counts, skipped counts), or RefError(index)."""
    events, triggers, other, skipped = [], [], Counter(), Counter()
    names = {0xA: "EXT_TRIGGER", 0xD: "IMU", 0xE: "OTHERS", 0xF: "CONTINUED"}
    high, wraps, last_low = None, 0, 0
    for i, w in enumerate(words):
        kind = w >> 28
        low, x, y = (w >> 22) & 63, (w >> 11) & 0x7FF, w & 0x7FF
        reason = None
        if high is None:
            if kind == 0x8:
                high = w & (2**28 - 1)
            else:
                skipped["before_first_time_high"] += 1
            continue
        if kind in (0, 1):
            if low < last_low:
                reason = "time_backwards"
            elif x >= width or y >= height:
                reason = "outside_geometry"
            else:
                events.append((x, y, kind, wraps * 2**34 + high * 64 + low))
                last_low = low
        elif kind == 0x8:
            v = w & (2**28 - 1)
            if v > high or high - v >= 2**27:
                wraps += v < high
                high, last_low = v, 0
            elif v < high:
                reason = "time_backwards"
        elif kind in names:
            other[names[kind]] += 1
            if kind == 0xA:
                triggers.append((w & 1, wraps * 2**34 + high * 64 + low, (w >> 8) & 31))
        else:
            reason = "unknown_word"
        if reason is not None:
            if strict:
                raise RefError(i)
            skipped[reason] += 1
    return events, triggers, dict(other), dict(skipped)


def word_strategy():
    return st.one_of(
        st.builds(cd, st.integers(0, 1), st.integers(0, 63), st.integers(0, W + 2), st.integers(0, H + 2)),
        st.builds(cd, st.integers(0, 1), st.integers(0, 63), st.integers(0, 7), st.integers(0, 7)),
        st.builds(th, st.integers(0, 2**28 - 1)), st.builds(th, st.sampled_from([0, 1, 2, 2**27, 2**28 - 1])),
        st.builds(trig, st.integers(0, 63), st.integers(0, 31), st.integers(0, 1)),
        st.integers(0, 2**32 - 1),
    )


@settings(max_examples=80, deadline=None)
@given(words=st.lists(word_strategy(), max_size=100), strict=st.booleans(), chunk=st.integers(1, 30))
def test_matches_reference_decoder(tmp_path_factory, words, strict, chunk):
    words = [th(0), *words]
    path = raw(tmp_path_factory.mktemp("ref"), words)
    try:
        want = reference(words, W, H, strict)
    except RefError as e:
        with pytest.raises(EventFormatError) as got:
            decode(path, strict=strict, chunk_bytes=4 * chunk)
        assert got.value.offset == len(HEADER) + 4 * e.args[0]
        return
    ev, triggers, stats = decode(path, strict=strict, chunk_bytes=4 * chunk, max_events=3)
    assert rows(ev) == want[0]
    assert triggers.tolist() == sorted(want[1], key=lambda trig_: trig_[1])  # the source sorts them by time
    assert stats.other == want[2]
    assert stats.skipped == want[3]


# -- writer -----------------------------------------------------------------------------------

def body_words(path):
    data = path.read_bytes()
    return np.frombuffer(data[data.index(b"% end\n") + 6:], dtype="<u4").tolist()


def test_writer_emits_the_words_of_the_specification(tmp_path):
    path = tmp_path / "w.raw"
    t = (0x1234567 << 6) + 5
    with open_writer(path, W, H, format="evt2") as w:
        assert isinstance(w, Evt2Writer)
        w.write(make_events([17, 0, 2], [9, 31, 3], [1, 0, 0], [t, t + 1, t + 59]))
        w.write_triggers(np.array([(1, t + 60, 21)], dtype=TRIGGER_DTYPE))
    assert path.read_bytes().startswith(
        b"% evt 2.0\n% format EVT2;height=32;width=64\n% geometry 64x32\n% end\n")
    assert body_words(path) == [th(0x1234567), cd(1, 5, 17, 9), cd(0, 6, 0, 31), th(0x1234568),
                                cd(0, 0, 2, 3), trig(1, 21, 1)]


def events_strategy(width, height, max_t):
    event = st.tuples(st.integers(0, width - 1), st.integers(0, height - 1), st.integers(0, 1),
                      st.one_of(st.integers(0, max_t), st.integers(0, 5000)))
    return st.lists(event, max_size=200).map(_to_events)


def _to_events(rows_):
    rows_ = sorted(rows_, key=lambda r: r[3])
    if not rows_:
        return make_events([], [], [], [])
    x, y, p, t = zip(*rows_, strict=True)
    return make_events(x, y, p, t)


@settings(max_examples=60, deadline=None)
@given(ev=events_strategy(640, 480, 3 * 2**34), split=st.integers(0, 200))
def test_round_trip_spanning_several_wraps(tmp_path_factory, ev, split):
    path = tmp_path_factory.mktemp("rt") / "rt.raw"
    with Evt2Writer(path, 640, 480) as w:
        w.write(ev[:split])
        w.write(ev[split:])
    np.testing.assert_array_equal(read_events(path, chunk_bytes=32, max_events=5), ev)


def test_round_trip_with_triggers_across_a_wrap(tmp_path):
    path = tmp_path / "trig.raw"
    trig_in = np.array([(1, 2**34 + 70, 31)], dtype=TRIGGER_DTYPE)
    with Evt2Writer(path, W, H) as w:
        w.write(make_events([1, 2], [1, 2], [1, 0], [2**34 - 2, 2**34 + 3]))
        w.write_triggers(trig_in)
        w.write(make_events([3], [3], [1], [2**34 + 70]))
    ev, triggers, _ = decode(path)
    assert ev["t"].tolist() == [2**34 - 2, 2**34 + 3, 2**34 + 70]
    np.testing.assert_array_equal(triggers, trig_in)


def test_writer_rejects_what_it_cannot_store(tmp_path):
    with pytest.raises(ValueError):
        Evt2Writer(tmp_path / "big.raw", 640, 4000)
    with Evt2Writer(tmp_path / "w.raw", W, H) as w:
        with pytest.raises(ValueError, match="polarity"):
            w.write(make_events([1], [1], [-1], [0]))
        with pytest.raises(ValueError, match="2\\*\\*40"):
            w.write(make_events([1], [1], [1], [2**40]))
        with pytest.raises(ValueError, match="id"):
            w.write_triggers(np.array([(1, 0, 32)], dtype=TRIGGER_DTYPE))
