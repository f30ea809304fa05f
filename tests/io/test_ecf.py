"""The ECF codec: chunks composed by hand from the format description for each packing mode and
timestamp case, slow reference implementations (decoder and encoder written line by line from the
description) against the fast ones, round trips, the real EVK4 chunks against the same recording's
EVT3 and DAT prefixes, byte-identical re-encoding of Prophesee's chunks, and fuzzed chunks."""

import struct
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io import EVENT_DTYPE, EventFormatError, make_events, read_events
from spikesight.io.ecf import (
    EcfChunkError,
    chunk_event_count,
    decode_batch,
    decode_chunk,
    decode_chunks,
    encode_chunk,
    encode_chunks,
)

DATA = Path(__file__).resolve().parents[1] / "data"
T_BIG = (1 << 32) + 5
DAT_SHIFT = 11_194_368  # t(ECF) - t(DAT) for this recording: checked below, not assumed


def u16(*values):
    return b"".join(struct.pack("<H", v) for v in values)


def u32(*values):
    return b"".join(struct.pack("<I", v) for v in values)


def header(n, yxp, xp, t0):
    return u32((n << 2) | (yxp << 1) | xp) + struct.pack("<Q", t0 & (2**64 - 1))


# -- chunks composed by hand --------------------------------------------------------------------

# packed y/x/p, first timestamp 0, equal timestamps, a 22 µs gap (needs a delta extension), a
# 14 µs step (fits a run token), n = 5 (not a multiple of 4) with garbage in the padding
GOLDEN_YXP = (
    header(5, 1, 0, 0)
    + bytes([0x02, 0xF6, 0xF1, 0x02, 0xE1])  # 2 at +0; gap 0x16 (nibbles 6, 1); 2 at +0; 1 at +14
    # v = y << 12 | x << 1 | p: 0x2003 (1,2,1), 0x7FFFFE (2047,2047,0), 0x000006 (3,0,0), 0x001001 (0,1,1)
    + u32(0x002003FE, 0x7FFF0006, 0x00001001)
    # 0x00600A (5,6,0) then three padding values (garbage: what a stale encoder buffer leaves)
    + u32(0x00600AAB, 0xDEADBEEF, 0x12345678)
)
WANT_YXP = [(1, 2, 1, 0), (2047, 2047, 0, 0), (3, 0, 0, 22), (0, 1, 1, 22), (5, 6, 0, 36)]

# y runs + packed x/p, first timestamp above 2^32, a gap of exactly 15 µs (one extension nibble 0xF)
GOLDEN_XP = (
    header(6, 0, 1, T_BIG)
    + bytes([0x02, 0x13, 0xFF, 0x01])  # 2 at +0, 3 at +1, gap 15, 1 at +0
    + u16((10 << 5) | 3, (700 << 5) | 2, (5 << 5) | 1)
    # v = x << 1 | p: 3, 0xFFE, 0x21, 0x1FE | 0x001, 0x800 and two garbage padding values
    + u16(0x003E, 0xFF21, 0x01FE)
    + u16(0x0010, 0x805A, 0xC3D2)
)
WANT_XP = [
    (1, 10, 1, T_BIG),
    (2047, 10, 0, T_BIG),
    (16, 10, 1, T_BIG + 1),
    (255, 700, 0, T_BIG + 1),
    (0, 700, 1, T_BIG + 1),
    (1024, 5, 0, T_BIG + 16),
]

# y runs + masked x + polarity runs; the last x word carries stale mask bits (41 and 43, past n)
GOLDEN_MASKED = (
    header(11, 0, 0, 7)
    + bytes([0x0B])  # 11 events at t0
    + u16((3 << 5) | 11)
    + u16(
        (100 << 5) | 0b10101,  # 100, 101, 103, 105
        (200 << 5) | 0b11110,  # 200, 201, 202, 203, 204
        7 << 5,  # 7
        (40 << 5) | 0b10100,  # 40, then phantom 41 and 43 beyond n: dropped
    )
    + bytes([0x83, 0x05, 0x81, 0x02])  # p: 1 x3, 0 x5, 1 x1, 0 x2
)
WANT_MASKED = [
    (x, 3, p, 7)
    for x, p in zip(
        [100, 101, 103, 105, 200, 201, 202, 203, 204, 7, 40], [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0], strict=True
    )
]


def golden_long_runs():
    """130 events: a time run of 20 (3-byte token), a gap of 0x123456789 µs (9 nibbles, above
    2^32), a run of 110; y runs of 40 and 90 (escaped, >= 31); x = 0..129 in masked words of six;
    a polarity run of 128 (escaped, >= 127) then 2."""
    gap = 0x123456789
    ts = bytes([0x0F]) + u16(20) + bytes([0xF9, 0xF8, 0xF7, 0xF6, 0xF5, 0xF4, 0xF3, 0xF2, 0xF1])
    ts += bytes([0x0F]) + u16(110)
    ys = u16((9 << 5) | 31, 40, (1000 << 5) | 31, 90)
    xs = u16(*[((6 * k) << 5) | 0b11111 for k in range(21)], (126 << 5) | 0b11100)
    ps = bytes([0xFF]) + u16(128) + bytes([0x02])
    chunk = header(130, 0, 0, 1000) + ts + ys + xs + ps
    want = [
        (i, 9 if i < 40 else 1000, 1 if i < 128 else 0, 1000 if i < 20 else 1000 + gap) for i in range(130)
    ]
    return chunk, want


def rows(ev):
    return [(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in ev]


@pytest.mark.parametrize(
    ("chunk", "want"),
    [
        (GOLDEN_YXP, WANT_YXP),
        (GOLDEN_XP, WANT_XP),
        (GOLDEN_MASKED, WANT_MASKED),
        (golden_long_runs()[0], golden_long_runs()[1]),
        (header(0, 1, 0, 0), []),
    ],
    ids=["yxp", "xp", "masked-stale-bits", "long-runs", "empty"],
)
def test_golden_chunks_decode_to_the_events_worked_out_by_hand(chunk, want):
    ev = decode_chunk(chunk)
    assert ev.dtype == EVENT_DTYPE
    assert rows(ev) == want
    assert chunk_event_count(chunk) == len(want)
    assert rows(slow_decode(chunk)) == want  # the slow reference agrees with the hand-made answer


def test_strided_output_takes_the_column_path():
    """The packed y/x/p mode stores whole words into a contiguous output and columns otherwise."""
    wide = np.zeros(10, dtype=EVENT_DTYPE)
    out = wide[::2]
    z = np.zeros(1, np.int64)
    summary = decode_batch(np.frombuffer(GOLDEN_YXP, np.uint8), z, np.array([len(GOLDEN_YXP)]), z - 1, z, out)
    assert summary[0, 0] == 0 and rows(out) == WANT_YXP
    assert summary[0, 3:].tolist() == [2047, 2047, 1]  # largest x, largest y, time ordered


def test_the_encoder_reproduces_the_hand_made_chunks_without_stale_values():
    """Our encoder starts every chunk fresh: padding is zero and no mask bit points past n."""
    assert encode_chunk(make_events(*zip(*WANT_YXP, strict=True))) == GOLDEN_YXP[:-12] + u32(0x00600A00, 0, 0)
    assert encode_chunk(make_events(*zip(*WANT_XP, strict=True)), mode="xp") == GOLDEN_XP[:-6] + u16(
        0x0010, 0x8000, 0
    )
    fresh_masked = GOLDEN_MASKED[:-6] + u16(40 << 5) + GOLDEN_MASKED[-4:]
    assert encode_chunk(make_events(*zip(*WANT_MASKED, strict=True)), mode="masked") == fresh_masked
    chunk, want = golden_long_runs()
    assert encode_chunk(make_events(*zip(*want, strict=True)), mode="masked") == chunk


# -- bad chunks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunk", "offset", "match"),
    [
        (GOLDEN_YXP[:-1], 17, "ends inside a section"),
        (GOLDEN_YXP[:14], 14, "ends inside a section"),
        (GOLDEN_YXP[:7], 0, "ends inside a section"),
        (GOLDEN_YXP + b"\0", len(GOLDEN_YXP), "left over"),
        (header(1, 1, 0, 0) + bytes([0x02]) + u32(0, 0, 0), 12, "goes past the event count"),
        (header(2, 0, 0, 0) + bytes([0x02]) + u16((1 << 5) | 31, 3), 13, "goes past the event count"),
        (
            header(2, 0, 0, 0) + bytes([2]) + u16(2 << 5 | 2, 0b10000) + bytes([0x7F]) + u16(5),
            17,
            "past the event",
        ),
        (header(1, 1, 0, 0) + bytes([0xF1] * 17 + [0x01]) + u32(0, 0, 0), 28, "more than 16 nibbles"),
        (u32(65536 << 2 | 2) + bytes(8), 0, "more events than"),
    ],
    ids=["last-byte", "inside-ts", "short-header", "trailing", "t-run", "y-run", "p-run", "gap", "count"],
)
def test_corrupt_chunks_raise_with_the_byte_offset(chunk, offset, match):
    with pytest.raises(EcfChunkError, match=match) as err:
        decode_chunk(chunk)
    assert err.value.chunk_offset == offset and err.value.offset == offset
    assert isinstance(err.value, EventFormatError)
    with pytest.raises(EcfChunkError, match=f"chunk 1: .*{match}"):
        decode_chunks([GOLDEN_XP, chunk])


def test_tiny_inputs():
    with pytest.raises(EcfChunkError, match="ends inside a section"):
        decode_chunk(b"\x02\x00")
    with pytest.raises(EcfChunkError, match="4-byte header"):
        chunk_event_count(b"\x02\x00")
    with pytest.raises(EcfChunkError):
        decode_chunk(b"")
    assert len(decode_chunks([])) == 0


def test_encoder_rejects_what_ecf_cannot_hold():
    with pytest.raises(ValueError, match="non-decreasing time; event 2"):
        encode_chunk(make_events([1, 2, 3], [1, 1, 1], [0, 0, 0], [5, 6, 4]))
    with pytest.raises(ValueError, match=r"x in 0\.\.2047; got x=2048"):
        encode_chunk(make_events([2048], [1], [0], [5]))
    with pytest.raises(ValueError, match=r"y in 0\.\.2047"):
        encode_chunk(make_events([1], [4000], [0], [5]))
    with pytest.raises(ValueError, match="polarity"):
        encode_chunk(make_events([1], [1], [-1], [5]))
    with pytest.raises(ValueError, match="at most 65535"):
        encode_chunk(make_events(*np.zeros((4, 65536), np.int64)))
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        encode_chunks(make_events([1], [1], [0], [5]), 70000)
    with pytest.raises(ValueError, match="unknown ECF mode"):
        encode_chunk(make_events([1], [1], [0], [5]), mode="zip")


# -- slow references, written line by line from the format description ---------------------------


class SlowError(Exception):
    pass


def slow_decode(chunk: bytes) -> np.ndarray:
    def need(o, k):
        if o + k > len(chunk):
            raise SlowError("truncated")

    need(0, 12)
    hdr = struct.unpack_from("<I", chunk, 0)[0]
    n, yxp, xp = hdr >> 2, (hdr >> 1) & 1, hdr & 1
    if n > 65535:
        raise SlowError("count")
    cur = struct.unpack_from("<Q", chunk, 4)[0]
    o = 12
    t = []
    while len(t) < n:
        need(o, 1)
        if chunk[o] >> 4 != 0xF:
            b = chunk[o]
            o += 1
            cur = (cur + (b >> 4)) % 2**64
            c = b & 0xF
            if c == 0xF:
                need(o, 2)
                c = struct.unpack_from("<H", chunk, o)[0]
                o += 2
            if len(t) + c > n:
                raise SlowError("run")
            t += [cur - 2**64 if cur >= 2**63 else cur] * c
        else:
            dt = k = 0
            while o < len(chunk) and chunk[o] >> 4 == 0xF:
                if k == 16:
                    raise SlowError("gap")
                dt |= (chunk[o] & 0xF) << (4 * k)
                k += 1
                o += 1
            cur = (cur + dt) % 2**64
    x, y, p = [], [], []
    if yxp:
        for _ in range((n + 3) // 4):
            need(o, 12)
            w0, w1, w2 = struct.unpack_from("<3I", chunk, o)
            o += 12
            for v in (
                w0 >> 8,
                (w0 & 0xFF) | ((w1 >> 16) << 8),
                (w1 & 0xFFFF) | ((w2 >> 24) << 16),
                w2 & 0xFFFFFF,
            ):
                y.append((v >> 12) & 0x7FF)
                x.append((v >> 1) & 0x7FF)
                p.append(v & 1)
    else:
        while len(y) < n:
            need(o, 2)
            w = struct.unpack_from("<H", chunk, o)[0]
            o += 2
            c = w & 31
            if c == 31:
                need(o, 2)
                c = struct.unpack_from("<H", chunk, o)[0]
                o += 2
            if len(y) + c > n:
                raise SlowError("run")
            y += [w >> 5] * c
        if xp:
            for _ in range((n + 3) // 4):
                need(o, 6)
                w0, w1, w2 = struct.unpack_from("<3H", chunk, o)
                o += 6
                for v in (
                    w0 >> 4,
                    (w0 & 0xF) | ((w1 >> 8) << 4),
                    (w1 & 0xFF) | ((w2 >> 12) << 8),
                    w2 & 0xFFF,
                ):
                    x.append(v >> 1)
                    p.append(v & 1)
        else:
            while len(x) < n:
                need(o, 2)
                w = struct.unpack_from("<H", chunk, o)[0]
                o += 2
                x.append(w >> 5)
                for j in range(5):
                    if w & (1 << (4 - j)):
                        x.append((w >> 5) + j + 1)
            while len(p) < n:
                need(o, 1)
                b = chunk[o]
                o += 1
                c = b & 127
                if c == 127:
                    need(o, 2)
                    c = struct.unpack_from("<H", chunk, o)[0]
                    o += 2
                if len(p) + c > n:
                    raise SlowError("run")
                p += [b >> 7] * c
    if o != len(chunk):
        raise SlowError("trailing")
    return make_events(x[:n], y[:n], p[:n], t) if n else make_events([], [], [], [])


def slow_encode(ev: np.ndarray, mode: str | None = None) -> bytes:
    xs, ys, ps, ts = (ev[k].astype(np.int64).tolist() for k in "xypt")
    n = len(ts)
    if mode is None:  # the reference encoder's choice, from the first quarter of the events
        m = n if n < 16 else int(0.25 * n + 0.5)
        mode = "yxp"
        same_y = sum(1 for i in range(1, m) if ys[i] == ys[i - 1])
        if same_y > int(m * 20.0 / 100 + 0.5):
            mode = "xp"
            near, cur_x = 0, xs[0]
            for i in range(1, m):
                if xs[i - 1] < xs[i] <= cur_x + 5:
                    near += 1
                else:
                    cur_x = xs[i]
            if near > int(m * 8.0 / 100 + 0.5):
                mode = "masked"
    out = bytearray(header(n, mode == "yxp", mode == "xp", ts[0] if n else 0))
    cur, i = (ts[0] if n else 0), 0
    while i < n:
        delta = ts[i] - cur
        if delta >= 15:
            while delta:
                out.append(0xF0 | (delta & 0xF))
                delta >>= 4
        cur = ts[i]
        c = 1
        while i + c < n and ts[i + c] == cur:
            c += 1
        out += bytes([(delta << 4) | 0xF]) + u16(c) if c >= 15 else bytes([(delta << 4) | c])
        i += c

    def runs(values):
        i = 0
        while i < n:
            c = 1
            while i + c < n and values[i + c] == values[i]:
                c += 1
            yield values[i], c
            i += c

    pad = [0, 0, 0]
    if mode == "yxp":
        v = [(y << 12) | (x << 1) | p for x, y, p in zip(xs, ys, ps, strict=True)] + pad
        for g in range(0, n, 4):
            v0, v1, v2, v3 = v[g : g + 4]
            out += u32(((v0 << 8) | (v1 & 0xFF)) & 0xFFFFFFFF, ((v1 >> 8) << 16) | (v2 & 0xFFFF))
            out += u32(((v2 >> 16) << 24) | (v3 & 0xFFFFFF))
        return bytes(out)
    for y, c in runs(ys):
        out += u16((y << 5) | 31, c) if c >= 31 else u16((y << 5) | c)
    if mode == "xp":
        v = [(x << 1) | p for x, p in zip(xs, ps, strict=True)] + pad
        for g in range(0, n, 4):
            v0, v1, v2, v3 = v[g : g + 4]
            out += u16(
                ((v0 << 4) | (v1 & 0xF)) & 0xFFFF, ((v1 >> 4) << 8) | (v2 & 0xFF), ((v2 >> 8) << 12) | v3
            )
        return bytes(out)
    i = 0
    while i < n:
        x, word = xs[i], xs[i] << 5
        i += 1
        for j in range(5):
            if i < n and xs[i] == x + j + 1:
                word |= 1 << (4 - j)
                i += 1
        out += u16(word)
    for p, c in runs(ps):
        out += bytes([(p << 7) | 0x7F]) + u16(c) if c >= 127 else bytes([(p << 7) | c])
    return bytes(out)


@st.composite
def event_arrays(draw, max_size=200):
    """Events shaped to reach every mode and escape: shared rows, runs of neighbouring x, runs of
    equal times, big and small gaps, polarity runs."""
    n = draw(st.integers(0, max_size))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows_ = rng.integers(0, draw(st.sampled_from([1, 3, 2048])), n)
    y = np.sort(rows_) if draw(st.booleans()) else rows_
    x = (rng.integers(0, 2048) + np.cumsum(rng.integers(0, draw(st.sampled_from([2, 4, 9, 2048])), n))) % 2048
    p = (np.cumsum(rng.random(n) < draw(st.sampled_from([0.005, 0.5]))) % 2).astype(np.int16)
    steps = rng.choice(
        [0, 0, 1, 14, 15, 16, 1000, 2**33 + 7], size=n, p=[0.5, 0.2, 0.1, 0.05, 0.05, 0.04, 0.04, 0.02]
    )
    t = draw(st.sampled_from([0, 5, 11_200_224, -40, 2**40])) + np.cumsum(steps)
    return make_events(x, y, p, t)


@settings(max_examples=80, deadline=None)
@given(ev=event_arrays(), mode=st.sampled_from([None, "yxp", "xp", "masked"]))
def test_encoder_matches_the_slow_reference_and_round_trips(ev, mode):
    chunk = encode_chunk(ev, mode=mode)
    assert chunk == slow_encode(ev, mode)
    back = decode_chunk(chunk)
    for k in "xypt":
        np.testing.assert_array_equal(back[k], ev[k])
    np.testing.assert_array_equal(slow_decode(chunk)["t"], ev["t"])


@settings(max_examples=40, deadline=None)
@given(ev=event_arrays(max_size=400), chunk=st.integers(1, 90), threads=st.sampled_from([1, 2, 3]))
def test_multi_chunk_round_trip_in_parallel(ev, chunk, threads):
    buf, starts, sizes = encode_chunks(ev, chunk, threads=threads)
    pieces = [buf[a : a + s] for a, s in zip(starts, sizes, strict=True)]
    assert len(pieces) == max(1, -(-len(ev) // chunk))
    back = decode_chunks(pieces, threads=threads)
    for k in "xypt":
        np.testing.assert_array_equal(back[k], ev[k])


# -- the real recording ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_chunks():
    with h5py.File(DATA / "evk4_ecf_prefix.hdf5", "r") as f:
        d = f["CD/events"]
        got = [d.id.read_direct_chunk((k,)) for k in range(0, d.shape[0], d.chunks[0])]
    assert all(mask == 0 for mask, _ in got)
    return [data for _, data in got]


def test_real_chunks_decode_to_the_recordings_evt3_and_dat_events(real_chunks):
    ev = decode_chunks(real_chunks, threads=2)
    assert len(ev) == 163_840 == 10 * 16384
    evt3 = read_events(DATA / "evk4_evt3_prefix.raw")[: len(ev)]
    for k in "xypt":
        np.testing.assert_array_equal(ev[k], evt3[k])
    dat = read_events(DATA / "evk4_td_prefix.dat")
    assert len(dat) == 40_000
    for k in "xyp":
        np.testing.assert_array_equal(ev[k][:40_000], dat[k])
    shift = ev["t"][:40_000] - dat["t"]
    assert (shift == DAT_SHIFT).all()
    assert rows(ev[:3]) == [(484, 315, 1, 11_200_224), (474, 231, 0, 11_200_225), (450, 309, 1, 11_200_225)]
    assert real_chunks[0][:20].hex() == "02000100e0e6aa00000000000112221113121121"


def test_real_chunks_reencode_byte_for_byte(real_chunks):
    """Prophesee's encoder wrote these chunks; ours, choosing the packing the same way, writes the
    same bytes (all ten are packed y/x/p)."""
    ev = decode_chunks(real_chunks)
    buf, starts, sizes = encode_chunks(ev, 16384, threads=2)
    ours = [bytes(buf[a : a + s]) for a, s in zip(starts, sizes, strict=True)]
    assert ours == real_chunks
    for mode in ("xp", "masked"):
        buf, starts, sizes = encode_chunks(ev, 16384, mode=mode)
        back = decode_chunks([buf[a : a + s] for a, s in zip(starts, sizes, strict=True)])
        np.testing.assert_array_equal(back, ev)
    assert slow_encode(ev[:16384]) == real_chunks[0]


# -- fuzz ----------------------------------------------------------------------------------------

SEEDS = [GOLDEN_YXP, GOLDEN_XP, GOLDEN_MASKED, golden_long_runs()[0]]


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 10_000),
    insert=st.binary(max_size=8),
)
@pytest.mark.timeout(120)
def test_mutated_chunks_give_events_or_an_event_format_error(seed, edits, cut, insert):
    chunk = bytearray(seed)
    for pos, value in edits:
        chunk[pos % len(chunk)] = value
    chunk = bytes(chunk[: max(cut % (len(chunk) + 2), 0)]) + insert
    try:
        ev = decode_chunk(chunk)
    except EventFormatError:
        with pytest.raises(SlowError):
            slow_decode(chunk)
        return
    assert len(ev) == chunk_event_count(chunk)
    np.testing.assert_array_equal(ev, slow_decode(chunk))


@settings(max_examples=100, deadline=None)
@given(data=st.binary(max_size=200))
def test_random_bytes_never_crash(data):
    try:
        decode_chunk(data)
    except EventFormatError:
        pass
