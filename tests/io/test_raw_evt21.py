"""EVT 2.1: golden 64-bit words composed by hand from the specification, in both byte orders
(plain little-endian 64-bit words, and the IMX636 'legacy' order with the header half first)."""

import struct
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import CoordinateError, EventFormatError, TimeOrderError, UnknownWordError, make_events
from spikesight.io.raw import open_raw

W, H = 90, 32
HEADERS = {
    False: b"% evt 2.1\n% format EVT21;height=32;width=90\n% end\n",
    True: b"% evt 2.1\n% format EVT21;endianness=legacy;height=32;width=90\n% end\n",
}


def head(kind, low=0, x=0, y=0):
    """The 32-bit header half: type, time low, x, y (the EVT 2.0 layout)."""
    return (kind << 28) | (low << 22) | (x << 11) | y


def cd(p, low, x, y, mask):
    return head(p, low, x, y), mask


def th(v):
    return (0x8 << 28) | v, 0


def trig(low, ident, value):
    return (0xA << 28) | (low << 22) | (ident << 8) | value, 0


def encode(words, legacy):
    """Bytes of (header, payload) words: header half first (legacy), or one little-endian uint64."""
    if legacy:
        return b"".join(struct.pack("<II", h, p) for h, p in words)
    return b"".join(struct.pack("<Q", (h << 32) | p) for h, p in words)


def raw(tmp_path, words, legacy, name="t.raw", tail=b""):
    path = tmp_path / name
    path.write_bytes(HEADERS[legacy] + encode(words, legacy) + tail)
    return path


def decode(path, **kw):
    with open_raw(path, **kw) as src:
        parts = list(src)
        src.scan()
        ev = np.concatenate(parts) if parts else make_events([], [], [], [])
        return ev, src.triggers, src.stats


def rows(ev):
    return [tuple(int(v) for v in e) for e in ev]


def test_byte_order_of_both_variants():
    assert encode([(0x01020304, 0x05060708)], legacy=False) == bytes([8, 7, 6, 5, 4, 3, 2, 1])
    assert encode([(0x01020304, 0x05060708)], legacy=True) == bytes([4, 3, 2, 1, 8, 7, 6, 5])


@pytest.mark.parametrize("legacy", [False, True])
def test_every_word_type(tmp_path, legacy):
    words = [
        th(0x0ABCDEF),
        cd(0, 3, 32, 7, (1 << 0) | (1 << 5) | (1 << 31)),  # OFF at x = 32, 37, 63
        cd(1, 4, 64, 31, 0b110),  # ON at x = 65, 66
        trig(9, 17, 1),
        ((0xE << 28) | (4 << 22) | 0x0016, 1234), (0xF << 28, 99),  # OTHERS, CONTINUED: counted
        cd(1, 4, 0, 0, 0),  # an empty mask: no event
        th(0x0ABCDF0), cd(0, 1, 0, 1, 1),
    ]
    ev, triggers, stats = decode(raw(tmp_path, words, legacy))
    base = 0x0ABCDEF << 6
    assert rows(ev) == [(32, 7, 0, base + 3), (37, 7, 0, base + 3), (63, 7, 0, base + 3),
                        (65, 31, 1, base + 4), (66, 31, 1, base + 4), (0, 1, 0, (0x0ABCDF0 << 6) + 1)]
    assert triggers.tolist() == [(1, base + 9, 17)]
    assert stats.other == {"OTHERS": 1, "CONTINUED": 1, "EXT_TRIGGER": 1}
    with open_raw(raw(tmp_path, words, legacy)) as src:
        assert src.info.metadata["evt21_endianness"] == ("legacy" if legacy else "little")


def test_the_byte_order_matters(tmp_path):
    words = [th(1), cd(1, 0, 0, 0, 0b1)]
    path = tmp_path / "swapped.raw"
    path.write_bytes(HEADERS[False] + encode(words, legacy=True))  # legacy data, plain header
    ev, _, stats = decode(path)
    assert len(ev) == 0  # the time high lands in the payload half: no time base is ever seen
    assert stats.skipped == {"before_first_time_high": 2}
    path.write_bytes(HEADERS[True] + encode(words, legacy=True))
    assert rows(decode(path)[0]) == [(0, 0, 1, 64)]


@pytest.mark.parametrize("legacy", [False, True])
def test_time_wrap_and_backwards(tmp_path, legacy):
    top = (1 << 28) - 1
    words = [th(top), cd(1, 63, 0, 0, 1), th(0), cd(1, 1, 0, 0, 1), th(1 << 27), cd(1, 0, 0, 0, 1)]
    ev, _, _ = decode(raw(tmp_path, words, legacy))
    assert ev["t"].tolist() == [2**34 - 1, 2**34 + 1, 2**34 + 2**33]
    path = raw(tmp_path, [*words, th(5)], legacy, name="back.raw")
    with pytest.raises(TimeOrderError) as e:
        decode(path)
    assert e.value.offset == len(HEADERS[legacy]) + 8 * len(words)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize(("word", "error", "skipped"), [
    ((0x3 << 28, 0), UnknownWordError, 1),
    (cd(0, 0, 64, 0, 1 << 31 | 1 << 30 | 1), CoordinateError, 2),  # x = 64 fits; 94 and 95 do not
    (cd(0, 0, 0, H, 0b11), CoordinateError, 2),
])
def test_bad_words(tmp_path, legacy, word, error, skipped):
    path = raw(tmp_path, [th(0), word], legacy)
    with pytest.raises(error) as e:
        decode(path)
    assert e.value.offset == len(HEADERS[legacy]) + 8
    _, _, stats = decode(path, strict=False)
    assert sum(stats.skipped.values()) == skipped


def reference(words, width, height, strict):
    """Decode word by word from (header, payload) pairs, or raise IndexError(index) when strict."""
    events, triggers, other, skipped = [], [], Counter(), Counter()
    high, wraps, last_low = None, 0, 0
    for i, (h, payload) in enumerate(words):
        kind, low, x, y = h >> 28, (h >> 22) & 63, (h >> 11) & 0x7FF, h & 0x7FF
        if high is None:
            if kind == 0x8:
                high = h & (2**28 - 1)
            else:
                skipped["before_first_time_high"] += 1
            continue
        reason = None
        if kind in (0, 1):
            bits = [b for b in range(32) if payload >> b & 1]
            if low < last_low:
                reason = "time_backwards"
            elif strict and any(x + b >= width or y >= height for b in bits):
                reason = "outside_geometry"
            elif bits:
                last_low = low
                for b in bits:
                    if x + b < width and y < height:
                        events.append((x + b, y, kind, wraps * 2**34 + high * 64 + low))
                    else:
                        skipped["outside_geometry"] += 1
        elif kind == 0x8:
            v = h & (2**28 - 1)
            if v > high or high - v >= 2**27:
                wraps += v < high
                high, last_low = v, 0
            elif v < high:
                reason = "time_backwards"
        elif kind == 0xA:
            triggers.append((h & 1, wraps * 2**34 + high * 64 + low, (h >> 8) & 31))
            other["EXT_TRIGGER"] += 1
        elif kind in (0xE, 0xF):
            other["OTHERS" if kind == 0xE else "CONTINUED"] += 1
        else:
            reason = "unknown_word"
        if reason is not None:
            if strict:
                raise IndexError(i)
            skipped[reason] += 1
    return events, triggers, dict(other), dict(skipped)


def word_strategy():
    return st.one_of(
        st.builds(cd, st.integers(0, 1), st.integers(0, 63), st.sampled_from([0, 32, 64, 96]),
                  st.integers(0, H + 1), st.integers(0, 2**32 - 1)),
        st.builds(th, st.integers(0, 2**28 - 1)), st.builds(th, st.sampled_from([0, 1, 2**27, 2**28 - 1])),
        st.builds(trig, st.integers(0, 63), st.integers(0, 31), st.integers(0, 1)),
        st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    )


@settings(max_examples=60, deadline=None)
@given(words=st.lists(word_strategy(), max_size=60), strict=st.booleans(), legacy=st.booleans(),
       chunk=st.integers(1, 20))
def test_matches_reference_decoder(tmp_path_factory, words, strict, legacy, chunk):
    words = [th(0), *words]
    path = raw(tmp_path_factory.mktemp("ref"), words, legacy)
    try:
        want = reference(words, W, H, strict)
    except IndexError as e:
        with pytest.raises(EventFormatError) as got:
            decode(path, strict=strict, chunk_bytes=8 * chunk)
        assert got.value.offset == len(HEADERS[legacy]) + 8 * e.args[0]
        return
    ev, triggers, stats = decode(path, strict=strict, chunk_bytes=8 * chunk, max_events=40)
    assert rows(ev) == want[0]
    assert triggers.tolist() == sorted(want[1], key=lambda trig_: trig_[1])  # the source sorts them by time
    assert stats.other == want[2]
    assert stats.skipped == want[3]
