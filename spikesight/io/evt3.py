"""Prophesee EVT 3.0: 16-bit little-endian words, type in the top 4 bits (decoder and writer).

Word types (Prophesee's EVT 3.0 specification):

=====  ============  =========================================================================
type   name          payload (bits 11..0)
=====  ============  =========================================================================
0x0    EVT_ADDR_Y    bit 11 system type (master/slave), bits 10..0 y: the current row
0x2    EVT_ADDR_X    bit 11 polarity, bits 10..0 x: one CD event at (x, current row, time)
0x3    VECT_BASE_X   bit 11 polarity, bits 10..0 x: base column and polarity of the next vectors
0x4    VECT_12       12-bit mask: events at base + i for each set bit i; then base += 12
0x5    VECT_8        8-bit mask (bits 7..0): as VECT_12; then base += 8
0x6    EVT_TIME_LOW  the low 12 bits of the 24-bit time
0x7    CONTINUED_4   4 bits of extra data for the previous word
0x8    EVT_TIME_HIGH the high 12 bits of the 24-bit time
0xA    EXT_TRIGGER   bits 11..8 trigger id, bit 0 value: a trigger at the current time
0xD    IMU           (defined by OpenEB) counted, not decoded
0xE    OTHERS        bits 11..0 subtype (vendor events): counted
0xF    CONTINUED_12  12 bits of extra data for the previous word
=====  ============  =========================================================================

Time: ``t = wraps * 2**24 + time_high << 12 | time_low`` µs. The 24-bit time wraps every
16.777216 s; our rule for a new EVT_TIME_HIGH value ``v`` after ``h``: ``v >= h`` moves forward;
``v < h`` with ``h - v >= 2048`` (half the 12-bit range) is a wrap; ``v < h`` by less than that is
time running backwards (TimeOrderError when strict; skipped and counted otherwise). A new time
high resets the time low to 0 (the sensor sends EVT_TIME_LOW next); an EVT_TIME_LOW below the
current one under the same time high is also time running backwards. Words before the first
EVT_TIME_HIGH have no time base: they are skipped and counted, as OpenEB does.

The writer emits what a sensor emits: EVT_TIME_HIGH/EVT_TIME_LOW when the time changes,
EVT_ADDR_Y when the row changes, EVT_ADDR_X for single events and, for runs of events on one
row with one time and polarity in increasing x within 32 columns, VECT_BASE_X followed by the
VECT_12, VECT_12, VECT_8 triple that Metavision's decoder expects. Gaps longer than half the
24-bit range are bridged by intermediate time highs, so wraps decode exactly.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .raw import (
    BEFORE_TIME_HIGH,
    DETAIL,
    NO_ROW,
    NO_VECTOR_BASE,
    OK,
    OUTSIDE_GEOMETRY,
    SKIP,
    STRICT,
    TIME_BACKWARDS,
    UNKNOWN_WORD,
    Codec,
    RawWriter,
)

EVT_ADDR_Y = 0x0
EVT_ADDR_X = 0x2
VECT_BASE_X = 0x3
VECT_12 = 0x4
VECT_8 = 0x5
EVT_TIME_LOW = 0x6
CONTINUED_4 = 0x7
EVT_TIME_HIGH = 0x8
EXT_TRIGGER = 0xA
IMU = 0xD
OTHERS = 0xE
CONTINUED_12 = 0xF

TYPE_NAMES = {CONTINUED_4: "CONTINUED_4", EXT_TRIGGER: "EXT_TRIGGER", IMU: "IMU", OTHERS: "OTHERS",
              CONTINUED_12: "CONTINUED_12"}

HALF_RANGE = 2048  # a time high falling by at least this much is a wrap
VECTOR_MIN_EVENTS = 5  # a vector (4 words) only where it saves words over EVT_ADDR_X

# decoder state: index -> meaning
S_HAVE_TH, S_TH, S_TL, S_WRAPS, S_Y, S_BASE_X, S_POL = range(7)


def initial_state() -> np.ndarray:
    """No time base, no row, no vector base yet."""
    return np.array([0, 0, 0, 0, -1, -1, 0], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _vector(mask, nbits, bx, bp, y, y_ok, t, ex, ey, ep, et, n, tally, width, height, strict):
    """Events of a VECT_12/VECT_8 word with validity ``mask``; returns (n, new base x, status)."""
    status = OK
    if bx < 0:
        status = NO_VECTOR_BASE
    elif mask != 0 and y < 0:
        status = NO_ROW
    elif mask != 0:
        top = 0
        m = mask >> 1
        while m != 0:
            m >>= 1
            top += 1
        if strict and (y >= height or bx + top >= width):
            b = 0  # the first set bit outside the geometry (the top bit is one)
            while ((mask >> b) & 1) == 0 or (bx + b < width and y < height):
                b += 1
            tally[DETAIL] = bx + b
            tally[DETAIL + 1] = y
            status = OUTSIDE_GEOMETRY
        else:
            for b in range(top + 1):
                if (mask >> b) & 1:
                    x = bx + b
                    if x < width and y_ok:
                        ex[n] = x
                        ey[n] = y
                        ep[n] = bp
                        et[n] = t
                        n += 1
                    else:
                        tally[SKIP + OUTSIDE_GEOMETRY] += 1
    if status == OK or (status == NO_ROW and not strict):
        bx += nbits
    return n, bx, status


@njit(cache=True, nogil=True)
def decode(words, pos, state, ex, ey, ep, et, tp, tt, tid, tally, width, height, flags):
    """Decode EVT 3.0 words from ``pos`` (see spikesight.io.raw for the protocol)."""
    strict = (flags & STRICT) != 0
    have_th = state[S_HAVE_TH]
    th = state[S_TH]
    tl = state[S_TL]
    wraps = state[S_WRAPS]
    y = state[S_Y]
    bx = state[S_BASE_X]
    bp = state[S_POL]
    y_ok = 0 <= y < height
    n = 0
    nt = 0
    status = OK
    i = pos
    nw = words.shape[0]
    while have_th == 0 and i < nw:
        w = np.int64(words[i])
        if (w >> 12) == EVT_TIME_HIGH:
            have_th = 1
            th = w & 0xFFF
        else:
            tally[SKIP + BEFORE_TIME_HIGH] += 1
        i += 1
    tbase = (wraps << 24) | (th << 12)
    while status == OK:
        # each word gives at most 12 events and one trigger: decode unchecked up to that bound
        room = min((ex.shape[0] - n) // 12, tp.shape[0] - nt)
        if room <= 0 or i >= nw:
            break
        stop = min(nw, i + room)
        for j in range(i, stop):
            w = np.int64(words[j])
            typ = w >> 12
            if typ == EVT_ADDR_X:
                x = w & 0x7FF
                if x < width and y_ok:
                    ex[n] = x
                    ey[n] = y
                    ep[n] = (w >> 11) & 1
                    et[n] = tbase + tl
                    n += 1
                elif y < 0:
                    status = NO_ROW
                elif strict:
                    tally[DETAIL] = x
                    tally[DETAIL + 1] = y
                    status = OUTSIDE_GEOMETRY
                else:
                    tally[SKIP + OUTSIDE_GEOMETRY] += 1
            elif typ == EVT_ADDR_Y:
                y = w & 0x7FF
                y_ok = y < height
            elif typ == EVT_TIME_LOW:
                v = w & 0xFFF
                if v >= tl:
                    tl = v
                else:
                    tally[DETAIL] = tbase + tl
                    tally[DETAIL + 1] = tbase + v
                    status = TIME_BACKWARDS
            elif typ == EVT_TIME_HIGH:
                v = w & 0xFFF
                if v != th:
                    if v > th or th - v >= HALF_RANGE:
                        wraps += v < th
                        th = v
                        tl = 0
                        tbase = (wraps << 24) | (th << 12)
                    else:
                        tally[DETAIL] = tbase + tl
                        tally[DETAIL + 1] = (wraps << 24) | (v << 12)
                        status = TIME_BACKWARDS
            elif typ == VECT_12:
                n, bx, status = _vector(w & 0xFFF, 12, bx, bp, y, y_ok, tbase + tl, ex, ey, ep, et, n, tally,
                                        width, height, strict)
            elif typ == VECT_8:
                n, bx, status = _vector(w & 0xFF, 8, bx, bp, y, y_ok, tbase + tl, ex, ey, ep, et, n, tally,
                                        width, height, strict)
            elif typ == VECT_BASE_X:
                bx = w & 0x7FF
                bp = (w >> 11) & 1
            elif typ == EXT_TRIGGER:
                tp[nt] = w & 1
                tt[nt] = tbase + tl
                tid[nt] = (w >> 8) & 0xF
                nt += 1
                tally[EXT_TRIGGER] += 1
            elif typ == CONTINUED_4:  # one branch per type: LLVM turns the chain into a jump table
                tally[typ] += 1
            elif typ == OTHERS:
                tally[typ] += 1
            elif typ == CONTINUED_12:
                tally[typ] += 1
            elif typ == IMU:
                tally[typ] += 1
            else:
                status = UNKNOWN_WORD
            if status != OK:
                if strict:
                    i = j
                    break
                tally[SKIP + status] += 1
                status = OK
        else:
            i = stop
    state[S_HAVE_TH] = have_th
    state[S_TH] = th
    state[S_TL] = tl
    state[S_WRAPS] = wraps
    state[S_Y] = y
    state[S_BASE_X] = bx
    state[S_POL] = bp
    return i, n, nt, status


def word_type(word: int, legacy: bool) -> int:
    return (word >> 12) & 0xF


CODEC = Codec(name="evt3", word_bytes=2, word_dtype="<u2", max_events_per_word=12, decode=decode,
              initial_state=initial_state, type_names=TYPE_NAMES, word_type=word_type)


# -- writer --------------------------------------------------------------------------------

# encoder state: whether a time high was written, the absolute time high (t >> 12), the time low,
# the current row (-1: none)
E_HAVE_TH, E_TH, E_TL, E_Y = range(4)


@njit(cache=True, nogil=True)
def _set_time(out, k, state, t):
    """Append the time words that move the decoder's time to ``t``; return the new length."""
    hi = t >> 12
    lo = t & 0xFFF
    if state[E_HAVE_TH] == 0 or hi != state[E_TH]:
        prev = state[E_TH] if state[E_HAVE_TH] else 0
        while hi - prev > HALF_RANGE:
            prev += HALF_RANGE
            out[k] = (EVT_TIME_HIGH << 12) | (prev & 0xFFF)
            k += 1
        out[k] = (EVT_TIME_HIGH << 12) | (hi & 0xFFF)
        k += 1
        state[E_HAVE_TH] = 1
        state[E_TH] = hi
        state[E_TL] = 0
    if lo != state[E_TL]:
        out[k] = (EVT_TIME_LOW << 12) | lo
        k += 1
        state[E_TL] = lo
    return k


@njit(cache=True, nogil=True)
def encode(x, y, p, t, state, out, width):
    """Encode time-sorted events into ``out`` (uint16); return the number of words."""
    n = x.shape[0]
    k = 0
    i = 0
    while i < n:
        ti = t[i]
        k = _set_time(out, k, state, ti)
        yi = np.int64(y[i])
        if yi != state[E_Y]:
            out[k] = (EVT_ADDR_Y << 12) | yi
            k += 1
            state[E_Y] = yi
        xi = np.int64(x[i])
        pi = np.int64(p[i])
        x0 = xi if xi + 32 <= width else width - 32
        j = i + 1
        if x0 >= 0:
            while (j < n and t[j] == ti and y[j] == y[i] and p[j] == p[i] and x[j] > x[j - 1]
                   and np.int64(x[j]) < x0 + 32):
                j += 1
        if j - i >= VECTOR_MIN_EVENTS:
            mask = np.int64(0)
            for m in range(i, j):
                mask |= np.int64(1) << (np.int64(x[m]) - x0)
            out[k] = (VECT_BASE_X << 12) | (pi << 11) | x0
            out[k + 1] = (VECT_12 << 12) | (mask & 0xFFF)
            out[k + 2] = (VECT_12 << 12) | ((mask >> 12) & 0xFFF)
            out[k + 3] = (VECT_8 << 12) | ((mask >> 24) & 0xFF)
            k += 4
            i = j
        else:
            out[k] = (EVT_ADDR_X << 12) | (pi << 11) | xi
            k += 1
            i += 1
    return k


@njit(cache=True, nogil=True)
def encode_triggers(p, t, ident, state, out):
    """Encode time-sorted triggers into ``out`` (uint16); return the number of words."""
    k = 0
    for i in range(p.shape[0]):
        k = _set_time(out, k, state, t[i])
        out[k] = (EXT_TRIGGER << 12) | (np.int64(ident[i]) << 8) | np.int64(p[i])
        k += 1
    return k


class Evt3Writer(RawWriter):
    """Write events (and triggers) as a Prophesee RAW EVT 3.0 file that Metavision reads."""

    encoding = "evt3"
    word_dtype = "<u2"
    max_trigger_id = 15

    def _initial_state(self) -> np.ndarray:
        return np.array([0, 0, 0, -1], dtype=np.int64)

    def _capacity(self, n: int, t_last: int) -> int:
        prev = int(self._state[E_TH]) if self._state[E_HAVE_TH] else 0
        return 4 * n + max(0, ((t_last >> 12) - prev) // HALF_RANGE) + 2

    def _encode(self, events: np.ndarray, out: np.ndarray) -> int:
        return encode(events["x"], events["y"], events["p"], events["t"], self._state, out, self.width)

    def _encode_triggers(self, triggers: np.ndarray, out: np.ndarray) -> int:
        return encode_triggers(triggers["p"], triggers["t"], triggers["id"], self._state, out)
