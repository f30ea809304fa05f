"""Prophesee's ECF event codec (HDF5 filter 0x8ECF): decode and encode single chunks.

Metavision SDK 4+ compresses ``/CD/events`` of its HDF5 recordings chunk by chunk with ECF
("Event Compression Format"). No HDF5 plugin for it ships on PyPI, so this module reads and
writes the raw chunk bytes itself (the HDF5 reader and writer move them with h5py's
``read_direct_chunk``/``write_direct_chunk``). Written from the format's description; every
chunk is independent, which lets a reader decode chunks in parallel and seek to any of them.

One chunk, little-endian, sections back to back with no lengths::

    u32  (n << 2) | (PACK_YXP << 1) | PACK_XP        n events, n <= 65535
    u64  t0                                           first timestamp
    TS   run tokens (hi nibble: delta 0..14, lo nibble: count, 15 -> u16 count follows)
         and delta extensions (bytes 0xF?: the nibbles of a larger gap, least significant first)
    PACK_YXP:  24 bits (y << 12 | x << 1 | p) per event, 4 events in 3 u32
    else:      y runs (u16: y << 5 | count, 31 -> u16 count follows), then
               PACK_XP: 12 bits (x << 1 | p) per event, 4 events in 3 u16
               else:    u16 words (x << 5 | mask: bit 4-j set -> also x + j + 1), then
                        polarity runs (u8: p << 7 | count, 127 -> u16 count follows)

Encoders that keep their buffers between chunks (Metavision's writer) may set mask bits for
values past n: a decoder drops them. Padding values of the packed sections are ignored.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from .errors import EventFormatError
from .events import EVENT_DTYPE

ECF_FILTER_ID = 0x8ECF
MAX_CHUNK_EVENTS = 65535
MAX_COORD = 2047
HEADER_BYTES = 12
MODES = {"masked": 0, "xp": 1, "yxp": 2}

OK, TRUNCATED, TOO_MANY, RUN_PAST_END, LONG_DELTA, TRAILING, COUNT_MISMATCH = range(7)
PROBLEMS = {
    TRUNCATED: "the chunk ends inside a section",
    TOO_MANY: "the header announces more events than the chunk can hold",
    RUN_PAST_END: "a run goes past the event count of the header",
    LONG_DELTA: "a time gap of more than 16 nibbles (64 bits)",
    TRAILING: "bytes left over after the last section",
    COUNT_MISMATCH: "the header's event count differs from the rows the dataset gives this chunk",
}
# columns of the per-chunk summary that the batch decoder fills
S_STATUS, S_OFFSET, S_COUNT, S_MAX_X, S_MAX_Y, S_ORDERED = range(6)
SUMMARY_COLUMNS = 6


class EcfChunkError(EventFormatError):
    """An ECF chunk that does not decode; ``offset`` is the byte offset in the file when known,
    ``chunk_offset`` the offset inside the chunk."""

    def __init__(
        self, path: str | os.PathLike | None, offset: int | None, message: str, chunk_offset: int
    ) -> None:
        super().__init__(path, offset, message)
        self.chunk_offset = chunk_offset


# -- decoder -----------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _u16(b, o):
    return np.int64(b[o]) | (np.int64(b[o + 1]) << 8)


@njit(cache=True, nogil=True)
def _u32(b, o):
    return (
        np.int64(b[o]) | (np.int64(b[o + 1]) << 8) | (np.int64(b[o + 2]) << 16) | (np.int64(b[o + 3]) << 24)
    )


@njit(cache=True, nogil=True)
def _yxp_value(w0, w1, w2, j):
    """Value ``j`` (0..3) of a packed y/x/p group of three u32."""
    if j == 0:
        return w0 >> 8
    if j == 1:
        return (w0 & 0xFF) | ((w1 >> 16) << 8)
    if j == 2:
        return (w1 & 0xFFFF) | ((w2 >> 24) << 16)
    return w2 & 0xFFFFFF


@njit(cache=True, nogil=True)
def _yxp_word(v):
    """x | y << 16 | p << 32 of a packed y/x/p value (the first 8 bytes of an EventCD record)."""
    return np.uint64(((v >> 1) & 0x7FF) | (((v >> 12) & 0x7FF) << 16) | ((v & 1) << 32))


@njit(cache=True, nogil=True)
def _yxp_to_words(buf, o, n, words, base):
    """Packed y/x/p section into ``words`` (one store per event); returns the largest x and y."""
    mx = 0
    my = 0
    full = n >> 2
    for g in range(full):
        w0 = _u32(buf, o)
        w1 = _u32(buf, o + 4)
        w2 = _u32(buf, o + 8)
        o += 12
        v0 = w0 >> 8
        v1 = (w0 & 0xFF) | ((w1 >> 16) << 8)
        v2 = (w1 & 0xFFFF) | ((w2 >> 24) << 16)
        v3 = w2 & 0xFFFFFF
        k = base + 4 * g
        words[k] = _yxp_word(v0)
        words[k + 1] = _yxp_word(v1)
        words[k + 2] = _yxp_word(v2)
        words[k + 3] = _yxp_word(v3)
        mx = max(mx, max(max(v0 & 0xFFE, v1 & 0xFFE), max(v2 & 0xFFE, v3 & 0xFFE)))
        my = max(my, max(max(v0 & 0x7FF000, v1 & 0x7FF000), max(v2 & 0x7FF000, v3 & 0x7FF000)))
    mx = mx >> 1
    my = (my >> 12) & 0x7FF
    if n & 3:  # the last group: values past n are padding
        w0 = _u32(buf, o)
        w1 = _u32(buf, o + 4)
        w2 = _u32(buf, o + 8)
        for j in range(n & 3):
            v = _yxp_value(w0, w1, w2, j)
            words[base + 4 * full + j] = _yxp_word(v)
            mx = max(mx, (v >> 1) & 0x7FF)
            my = max(my, (v >> 12) & 0x7FF)
    return mx, my


@njit(cache=True, nogil=True)
def _yxp_to_columns(buf, o, n, ox, oy, op, base):
    """Packed y/x/p section into the columns (where no word view exists)."""
    mx = 0
    my = 0
    for g in range((n + 3) >> 2):
        w0 = _u32(buf, o)
        w1 = _u32(buf, o + 4)
        w2 = _u32(buf, o + 8)
        o += 12
        for j in range(min(4, n - 4 * g)):
            v = _yxp_value(w0, w1, w2, j)
            k = base + 4 * g + j
            ox[k] = (v >> 1) & 0x7FF
            oy[k] = (v >> 12) & 0x7FF
            op[k] = v & 1
            mx = max(mx, (v >> 1) & 0x7FF)
            my = max(my, (v >> 12) & 0x7FF)
    return mx, my


@njit(cache=True, nogil=True)
def _put_xp(v, k, ox, op, mx):
    ox[k] = v >> 1
    op[k] = v & 1
    return max(mx, v >> 1)


@njit(cache=True, nogil=True)
def _decode_chunk(buf, lo, hi, want, ox, oy, op, ot, words, base):
    """Decode ``buf[lo:hi]`` into rows ``base..`` of the columns ``ox, oy, op, ot``.

    ``words``: the same rows seen as uint64 (x | y << 16 | p << 32 on a little-endian machine),
    for the packed y/x/p mode's single store per event; empty to store the columns one by one.
    ``want``: the event count the caller expects (-1: any count up to the columns' room).
    Returns ``(status, offset in the chunk, n, max x, max y, time ordered)``; on an error
    nothing past the failing section is meaningful.
    """
    size = hi - lo
    if size < 12:
        return TRUNCATED, 0, 0, 0, 0, 1
    hdr = _u32(buf, lo)
    n = hdr >> 2
    if want >= 0 and n != want:
        return COUNT_MISMATCH, 0, n, 0, 0, 1
    if n > MAX_CHUNK_EVENTS or base + n > ot.shape[0]:
        return TOO_MANY, 0, n, 0, 0, 1
    yxp = (hdr >> 1) & 1
    xp = hdr & 1
    cur = np.uint64(_u32(buf, lo + 4)) | (np.uint64(_u32(buf, lo + 8)) << np.uint64(32))
    o = lo + 12
    ordered = 1
    mx = 0
    my = 0
    # timestamps, byte by byte without branching on the byte's kind (gaps >= 15 µs are common
    # and random): an extension byte (0xF?) adds its nibble to ``acc``; a run token adds ``acc``
    # and its own delta to ``cur`` and emits its count. Writing slots i and i + 1 whatever the
    # count is harmless: a later token rewrites those it does not cover.
    acc = np.uint64(0)
    shift = 0
    i = 0
    while i < n:
        if o >= hi:
            return TRUNCATED, o - lo, n, mx, my, ordered
        v = np.int64(buf[o])
        o += 1
        ext = np.int64((v >> 4) == 15)
        keep = 1 - ext
        if ext & (shift == 64):
            return LONG_DELTA, o - 1 - lo, n, mx, my, ordered
        acc |= np.uint64((v & 15) * ext) << np.uint64(shift)
        shift = (shift + 4) * ext
        nxt = cur + np.uint64((v >> 4) * keep) + acc * np.uint64(keep)
        acc *= np.uint64(ext)
        ordered &= np.int64(np.int64(nxt) >= np.int64(cur))
        cur = nxt
        c = (v & 15) * keep
        tok = o - 1
        if c == 15:
            if o + 2 > hi:
                return TRUNCATED, tok - lo, n, mx, my, ordered
            c = _u16(buf, o)
            o += 2
        if c > n - i:
            return RUN_PAST_END, tok - lo, n, mx, my, ordered
        tv = np.int64(cur)
        ot[base + i] = tv
        if i + 1 < n:  # most runs are 1 or 2 events: fill two slots without a branch on c
            ot[base + i + 1] = tv
        if c > 2:
            for j in range(base + i + 2, base + i + c):
                ot[j] = tv
        i += c
    if yxp:
        groups = (n + 3) >> 2
        if o + 12 * groups > hi:
            return TRUNCATED, o - lo, n, mx, my, ordered
        if words.shape[0]:
            mx, my = _yxp_to_words(buf, o, n, words, base)
        else:
            mx, my = _yxp_to_columns(buf, o, n, ox, oy, op, base)
        o += 12 * groups
    else:
        i = 0
        while i < n:
            if o + 2 > hi:
                return TRUNCATED, o - lo, n, mx, my, ordered
            tok = o
            w = _u16(buf, o)
            o += 2
            c = w & 31
            if c == 31:
                if o + 2 > hi:
                    return TRUNCATED, tok - lo, n, mx, my, ordered
                c = _u16(buf, o)
                o += 2
            if c > n - i:
                return RUN_PAST_END, tok - lo, n, mx, my, ordered
            y = w >> 5
            if c:
                my = max(my, y)
            for j in range(base + i, base + i + c):
                oy[j] = y
            i += c
        if xp:
            groups = (n + 3) >> 2
            if o + 6 * groups > hi:
                return TRUNCATED, o - lo, n, mx, my, ordered
            for g in range(groups):
                w0 = _u16(buf, o)
                w1 = _u16(buf, o + 2)
                w2 = _u16(buf, o + 4)
                o += 6
                k = base + 4 * g
                left = n - 4 * g
                mx = _put_xp(w0 >> 4, k, ox, op, mx)
                if left > 1:
                    mx = _put_xp((w0 & 0xF) | ((w1 >> 8) << 4), k + 1, ox, op, mx)
                if left > 2:
                    mx = _put_xp((w1 & 0xFF) | ((w2 >> 12) << 8), k + 2, ox, op, mx)
                if left > 3:
                    mx = _put_xp(w2 & 0xFFF, k + 3, ox, op, mx)
        else:
            i = 0
            while i < n:
                if o + 2 > hi:
                    return TRUNCATED, o - lo, n, mx, my, ordered
                w = _u16(buf, o)
                o += 2
                x = w >> 5
                ox[base + i] = x
                mx = max(mx, x)
                i += 1
                m = w & 31
                if m:
                    for j in range(5):
                        if m & (16 >> j):
                            if i < n:  # bits past n come from a stale encoder buffer: dropped
                                ox[base + i] = x + j + 1
                                mx = max(mx, x + j + 1)
                            i += 1
            i = 0
            while i < n:
                if o >= hi:
                    return TRUNCATED, o - lo, n, mx, my, ordered
                tok = o
                v = np.int64(buf[o])
                o += 1
                c = v & 127
                if c == 127:
                    if o + 2 > hi:
                        return TRUNCATED, tok - lo, n, mx, my, ordered
                    c = _u16(buf, o)
                    o += 2
                if c > n - i:
                    return RUN_PAST_END, tok - lo, n, mx, my, ordered
                for j in range(base + i, base + i + c):
                    op[j] = v >> 7
                i += c
    if o != hi:
        return TRAILING, o - lo, n, mx, my, ordered
    return OK, 0, n, mx, my, ordered


@njit(cache=True, nogil=True)
def _decode_range(buf, starts, ends, want, bases, ox, oy, op, ot, words, summary, k0, k1):
    """Decode chunks ``k0..k1`` of a batch (chunk k: ``buf[starts[k]:ends[k]]`` into rows ``bases[k]..``)."""
    for k in range(k0, k1):
        r = _decode_chunk(buf, starts[k], ends[k], want[k], ox, oy, op, ot, words, bases[k])
        for c in range(SUMMARY_COLUMNS):
            summary[k, c] = r[c]


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


_POOL: ThreadPoolExecutor | None = None
_LITTLE = sys.byteorder == "little" and EVENT_DTYPE.itemsize == 16 and EVENT_DTYPE.fields["p"][1] == 4
_NO_WORDS = np.empty(0, np.uint64)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1), thread_name_prefix="ecf")
    return _POOL


def close_pool() -> None:
    """Stop the shared coding threads (the next decode or encode starts them again), for a
    process that must leave no thread running (a test session ending with ``os._exit``)."""
    global _POOL
    pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True)


def _split(weights: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Cut ``len(weights)`` items into at most ``parts`` contiguous ranges of similar total weight."""
    k = len(weights)
    parts = max(1, min(parts, k))
    if parts == 1:
        return [(0, k)]
    cum = np.cumsum(weights)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, parts) / parts, side="left") + 1
    bounds = sorted({0, k, *np.minimum(cuts, k).tolist()})
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def decode_batch(
    buf: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    want: np.ndarray,
    bases: np.ndarray,
    out: np.ndarray,
    threads: int = 1,
) -> np.ndarray:
    """Decode several chunks of one buffer into ``out`` (an :data:`EVENT_DTYPE` array).

    Chunk ``k`` is ``buf[starts[k]:ends[k]]``, holds ``want[k]`` events (-1: what its header
    says) and fills ``out[bases[k]:]``. With ``threads > 1`` the chunks are shared among
    threads (the decoder releases the GIL). Returns the per-chunk summary (int64, one row per
    chunk): status (0 = OK, else a key of :data:`PROBLEMS`), offset of the problem inside the
    chunk, event count, largest x, largest y, and 1 when the chunk's times never decrease.
    """
    k = len(starts)
    summary = np.zeros((k, SUMMARY_COLUMNS), np.int64)
    if not k:
        return summary
    words = out.view(np.uint64)[0::2] if _LITTLE and out.flags.c_contiguous else _NO_WORDS
    cols = (out["x"], out["y"], out["p"], out["t"], words)
    args = (
        buf,
        starts.astype(np.int64),
        ends.astype(np.int64),
        want.astype(np.int64),
        bases.astype(np.int64),
    )
    ranges = _split(ends - starts, threads) if threads > 1 else [(0, k)]
    if len(ranges) == 1:
        _decode_range(*args, *cols, summary, 0, k)
    else:
        jobs = [_pool().submit(_decode_range, *args, *cols, summary, a, b) for a, b in ranges]
        for job in jobs:
            job.result()
    return summary


def as_byte_array(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A 1-D uint8 view of ``data`` (no copy where possible)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def chunk_event_count(data: bytes | bytearray | memoryview | np.ndarray) -> int:
    """The event count in a chunk's header (the chunk must hold at least 4 bytes)."""
    b = as_byte_array(data)
    if len(b) < 4:
        raise EcfChunkError(None, 0, f"an ECF chunk needs a 4-byte header; got {len(b)} bytes", 0)
    return int(b[:4].view("<u4")[0]) >> 2


def problem(status: int, chunk_offset: int, n: int) -> str:
    """Words for a non-zero status of the batch decoder."""
    text = PROBLEMS.get(int(status), f"status {status}")
    return f"{text} (byte {chunk_offset} of the chunk, header count {n})"


def decode_chunk(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Decode one ECF chunk into a fresh :data:`EVENT_DTYPE` array.

    Raises :class:`EcfChunkError` (an ``EventFormatError``; ``offset`` = byte offset in the
    chunk) when the bytes are not a whole, valid chunk.
    """
    b = as_byte_array(data)
    n = min(chunk_event_count(b), MAX_CHUNK_EVENTS + 1) if len(b) >= 4 else 0
    out = np.zeros(n, dtype=EVENT_DTYPE)
    z = np.zeros(1, np.int64)
    summary = decode_batch(b, z, np.array([len(b)]), z - 1, z, out)
    status, off, count = (int(v) for v in summary[0, :3])
    if status:
        raise EcfChunkError(None, off, problem(status, off, count), off)
    return out


def decode_chunks(
    chunks: Sequence[bytes | bytearray | memoryview | np.ndarray], threads: int = 1
) -> np.ndarray:
    """Decode a sequence of ECF chunks into one event array (in parallel with ``threads > 1``)."""
    arrays = [as_byte_array(c) for c in chunks]
    counts = np.array([chunk_event_count(a) for a in arrays], np.int64)
    if len(counts) and int(counts.max()) > MAX_CHUNK_EVENTS:
        k = int(np.argmax(counts))
        raise EcfChunkError(None, 0, f"chunk {k}: {problem(TOO_MANY, 0, int(counts[k]))}", 0)
    ends = np.cumsum([len(a) for a in arrays], dtype=np.int64)
    starts = ends - np.array([len(a) for a in arrays], np.int64)
    bases = np.cumsum(counts) - counts
    out = np.zeros(int(counts.sum()), dtype=EVENT_DTYPE)
    buf = np.concatenate(arrays) if arrays else np.empty(0, np.uint8)
    summary = decode_batch(buf, starts, ends, counts, bases, out, threads)
    bad = np.flatnonzero(summary[:, S_STATUS])
    if len(bad):
        k = int(bad[0])
        status, off, n = (int(v) for v in summary[k, :3])
        raise EcfChunkError(None, off, f"chunk {k}: {problem(status, off, n)}", off)
    return out


# -- encoder -----------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _pick_mode(x, y, lo, hi):
    """The packing the reference encoder chooses from the first quarter of the events
    (2 = packed y/x/p, 1 = y runs + packed x/p, 0 = y runs + masked x + p runs)."""
    n = hi - lo
    m = n if n < 16 else np.int64(0.25 * n + 0.5)
    limit = np.int64(m * 20.0 / 100 + 0.5)
    count = 0
    prev = y[lo] if n else 0
    for i in range(lo + 1, lo + m):
        if y[i] == prev:
            count += 1
            if count > limit:
                break
        else:
            prev = y[i]
    if count <= limit:
        return 2
    limit = np.int64(m * 8.0 / 100 + 0.5)
    count = 0
    cur = np.int64(x[lo])
    prev = cur
    for i in range(lo + 1, lo + m):
        xi = np.int64(x[i])
        if xi > prev and xi <= cur + 5:
            count += 1
            if count > limit:
                return 0
        else:
            cur = xi
        prev = xi
    return 1


@njit(cache=True, nogil=True)
def _put16(out, o, v):
    out[o] = v & 0xFF
    out[o + 1] = (v >> 8) & 0xFF
    return o + 2


@njit(cache=True, nogil=True)
def _put32(out, o, v):
    out[o] = v & 0xFF
    out[o + 1] = (v >> 8) & 0xFF
    out[o + 2] = (v >> 16) & 0xFF
    out[o + 3] = (v >> 24) & 0xFF
    return o + 4


@njit(cache=True, nogil=True)
def _encode_chunk(x, y, p, t, lo, hi, mode, out, o):
    """Encode events ``lo..hi`` (times non-decreasing, x/y <= 2047, p in {0, 1}) at ``out[o:]``;
    ``mode`` -1 picks the packing as the reference encoder does. Returns the chunk's size in bytes."""
    n = hi - lo
    if mode < 0:
        mode = _pick_mode(x, y, lo, hi)
    start = o
    o = _put32(out, o, (n << 2) | ((1 if mode == 2 else 0) << 1) | (1 if mode == 1 else 0))
    cur = np.uint64(t[lo]) if n else np.uint64(0)
    o = _put32(out, o, np.int64(cur & np.uint64(0xFFFFFFFF)))
    o = _put32(out, o, np.int64(cur >> np.uint64(32)))
    i = lo
    while i < hi:
        ti = np.uint64(t[i])
        dt = ti - cur
        if dt >= np.uint64(15):
            while dt > np.uint64(0):
                out[o] = 0xF0 | np.int64(dt & np.uint64(15))
                o += 1
                dt >>= np.uint64(4)
            dt = np.uint64(0)
        cur = ti
        c = 1
        while i + c < hi and t[i + c] == t[i]:
            c += 1
        d = np.int64(dt) << 4
        if c >= 15:
            out[o] = d | 15
            o = _put16(out, o + 1, c)
        else:
            out[o] = d | c
            o += 1
        i += c
    if mode == 2:
        for g in range(lo, hi, 4):
            v0 = (np.int64(y[g]) << 12) | (np.int64(x[g]) << 1) | np.int64(p[g])
            v1 = v2 = v3 = 0
            if g + 1 < hi:
                v1 = (np.int64(y[g + 1]) << 12) | (np.int64(x[g + 1]) << 1) | np.int64(p[g + 1])
            if g + 2 < hi:
                v2 = (np.int64(y[g + 2]) << 12) | (np.int64(x[g + 2]) << 1) | np.int64(p[g + 2])
            if g + 3 < hi:
                v3 = (np.int64(y[g + 3]) << 12) | (np.int64(x[g + 3]) << 1) | np.int64(p[g + 3])
            o = _put32(out, o, ((v0 << 8) | (v1 & 0xFF)) & 0xFFFFFFFF)
            o = _put32(out, o, (((v1 >> 8) << 16) | (v2 & 0xFFFF)) & 0xFFFFFFFF)
            o = _put32(out, o, (((v2 >> 16) << 24) | (v3 & 0xFFFFFF)) & 0xFFFFFFFF)
        return o - start
    i = lo
    while i < hi:
        c = 1
        while i + c < hi and y[i + c] == y[i]:
            c += 1
        if c >= 31:
            o = _put16(out, o, (np.int64(y[i]) << 5) | 31)
            o = _put16(out, o, c)
        else:
            o = _put16(out, o, (np.int64(y[i]) << 5) | c)
        i += c
    if mode == 1:
        for g in range(lo, hi, 4):
            v0 = (np.int64(x[g]) << 1) | np.int64(p[g])
            v1 = v2 = v3 = 0
            if g + 1 < hi:
                v1 = (np.int64(x[g + 1]) << 1) | np.int64(p[g + 1])
            if g + 2 < hi:
                v2 = (np.int64(x[g + 2]) << 1) | np.int64(p[g + 2])
            if g + 3 < hi:
                v3 = (np.int64(x[g + 3]) << 1) | np.int64(p[g + 3])
            o = _put16(out, o, ((v0 << 4) | (v1 & 0xF)) & 0xFFFF)
            o = _put16(out, o, (((v1 >> 4) << 8) | (v2 & 0xFF)) & 0xFFFF)
            o = _put16(out, o, (((v2 >> 8) << 12) | (v3 & 0xFFF)) & 0xFFFF)
        return o - start
    i = lo
    while i < hi:
        xi = np.int64(x[i])
        w = xi << 5
        i += 1
        for j in range(5):
            if i < hi and np.int64(x[i]) == xi + j + 1:
                w |= 16 >> j
                i += 1
        o = _put16(out, o, w)
    i = lo
    while i < hi:
        c = 1
        while i + c < hi and p[i + c] == p[i]:
            c += 1
        b = np.int64(p[i]) << 7
        if c >= 127:
            out[o] = b | 127
            o = _put16(out, o + 1, c)
        else:
            out[o] = b | c
            o += 1
        i += c
    return o - start


@njit(cache=True, nogil=True)
def _encode_range(x, y, p, t, bounds, mode, out, out_starts, sizes, k0, k1):
    for k in range(k0, k1):
        sizes[k] = _encode_chunk(x, y, p, t, bounds[k], bounds[k + 1], mode, out, out_starts[k])


def max_encoded_size(n: int | np.ndarray) -> int | np.ndarray:
    """An upper bound on the bytes of one encoded chunk of ``n`` events: the header, at most
    19 bytes of time per event (a 16-nibble gap and a 3-byte token) and 5 of coordinates."""
    return HEADER_BYTES + 19 * n + 5 * n + 12


def check_encodable(events: np.ndarray) -> None:
    """Raise ``ValueError`` for what ECF cannot hold: time going backwards, x or y above 2047,
    polarity other than 0 and 1."""
    if not len(events):
        return
    t = events["t"]
    if bool(np.any(t[1:] < t[:-1])):
        i = int(np.argmax(t[1:] < t[:-1])) + 1
        raise ValueError(
            f"ECF needs non-decreasing time; event {i} has t={int(t[i])} after t={int(t[i - 1])}"
        )
    for name in ("x", "y"):
        v = events[name].astype(np.int64)
        if int(v.max()) > MAX_COORD or int(v.min()) < 0:
            raise ValueError(f"ECF holds {name} in 0..{MAX_COORD}; got {name}={int(v.max())}")
    p = events["p"]
    if bool(np.any((p != 0) & (p != 1))):
        raise ValueError("ECF holds polarity 0 or 1 only")


def encode_chunks(
    events: np.ndarray, chunk: int, mode: str | None = None, threads: int = 1, check: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encode ``events`` as consecutive ECF chunks of ``chunk`` events (the last one shorter).

    Returns ``(buffer, starts, sizes)``: chunk k is ``buffer[starts[k]:starts[k] + sizes[k]]``.
    ``mode``: ``None`` chooses the packing per chunk as Prophesee's encoder does (so its bytes
    match), else ``"yxp"``, ``"xp"`` or ``"masked"``. ``check=False`` skips
    :func:`check_encodable` for callers that checked already.
    """
    if not 0 < chunk <= MAX_CHUNK_EVENTS:
        raise ValueError(f"an ECF chunk holds 1..{MAX_CHUNK_EVENTS} events, not {chunk}")
    code = -1 if mode is None else MODES.get(mode)
    if code is None:
        raise ValueError(f"unknown ECF mode {mode!r}; use None or one of {sorted(MODES)}")
    if check:
        check_encodable(events)
    n = len(events)
    bounds = np.append(np.arange(0, n, chunk, dtype=np.int64), np.int64(n))
    if n == 0:
        bounds = np.zeros(2, np.int64)
    k = len(bounds) - 1
    room = max_encoded_size(np.diff(bounds))
    starts = np.cumsum(room) - room
    out = np.empty(int(room.sum()), np.uint8)
    sizes = np.zeros(k, np.int64)
    cols = (events["x"], events["y"], events["p"], events["t"])
    ranges = _split(np.diff(bounds), threads) if threads > 1 else [(0, k)]
    if len(ranges) == 1:
        _encode_range(*cols, bounds, code, out, starts, sizes, 0, k)
    else:
        jobs = [
            _pool().submit(_encode_range, *cols, bounds, code, out, starts, sizes, a, b) for a, b in ranges
        ]
        for job in jobs:
            job.result()
    return out, starts, sizes


def encode_chunk(events: np.ndarray, mode: str | None = None) -> bytes:
    """Encode up to 65535 events as one ECF chunk (``mode`` as in :func:`encode_chunks`)."""
    if len(events) > MAX_CHUNK_EVENTS:
        raise ValueError(f"an ECF chunk holds at most {MAX_CHUNK_EVENTS} events, not {len(events)}")
    out, starts, sizes = encode_chunks(events, max(1, len(events)), mode)
    return out[starts[0] : starts[0] + sizes[0]].tobytes()
