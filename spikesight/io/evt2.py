"""Prophesee EVT 2.0: 32-bit little-endian words, type in the top 4 bits (decoder and writer).

Word layouts (Prophesee's EVT 2.0 specification; bit 31 is the most significant):

=====  =============  =========================================================================
type   name           bits 27..0
=====  =============  =========================================================================
0x0    CD_OFF         27..22 time low (6 bits), 21..11 x, 10..0 y: an OFF event (p = 0)
0x1    CD_ON          as CD_OFF: an ON event (p = 1)
0x8    EVT_TIME_HIGH  27..0 time high (28 bits)
0xA    EXT_TRIGGER    27..22 time low, 12..8 trigger id, 0 value
0xD    IMU            (defined by OpenEB: 1 IMU word + 5 CONTINUED) counted, not decoded
0xE    OTHERS         27..22 time low, 15..0 subtype (vendor events): counted
0xF    CONTINUED      extra data for the previous word: counted
=====  =============  =========================================================================

Time: ``t = wraps * 2**34 + time_high << 6 | time_low`` µs (the 34-bit time wraps every 4.77 h).
Our rule for a new time high ``v`` after ``h``: ``v >= h`` moves forward; ``v < h`` with
``h - v >= 2**27`` (half the 28-bit range) is a wrap; a smaller drop is time running backwards,
as is a CD event whose time low is below the previous CD event's under the same time high
(TimeOrderError when strict; skipped and counted otherwise). Trigger times are not checked
against CD times. Words before the first EVT_TIME_HIGH have no time base: skipped and counted.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .raw import (
    BEFORE_TIME_HIGH,
    DETAIL,
    OK,
    OUTSIDE_GEOMETRY,
    SKIP,
    STRICT,
    TIME_BACKWARDS,
    UNKNOWN_WORD,
    Codec,
    RawWriter,
)

CD_OFF = 0x0
CD_ON = 0x1
EVT_TIME_HIGH = 0x8
EXT_TRIGGER = 0xA
IMU = 0xD
OTHERS = 0xE
CONTINUED = 0xF

TYPE_NAMES = {EXT_TRIGGER: "EXT_TRIGGER", IMU: "IMU", OTHERS: "OTHERS", CONTINUED: "CONTINUED"}

TIME_HIGH_MASK = (1 << 28) - 1
HALF_RANGE = 1 << 27  # a time high falling by at least this much is a wrap

# decoder state: index -> meaning
S_HAVE_TH, S_TH, S_WRAPS, S_LAST_LOW = range(4)


def initial_state() -> np.ndarray:
    """No time base yet."""
    return np.zeros(4, dtype=np.int64)


@njit(cache=True, nogil=True)
def decode(words, pos, state, ex, ey, ep, et, tp, tt, tid, tally, width, height, flags):
    """Decode EVT 2.0 words from ``pos`` (see spikesight.io.raw for the protocol)."""
    strict = (flags & STRICT) != 0
    have_th = state[S_HAVE_TH]
    th = state[S_TH]
    wraps = state[S_WRAPS]
    last_low = state[S_LAST_LOW]
    n = 0
    nt = 0
    status = OK
    i = pos
    nw = words.shape[0]
    while have_th == 0 and i < nw:
        w = np.int64(words[i])
        if (w >> 28) == EVT_TIME_HIGH:
            have_th = 1
            th = w & TIME_HIGH_MASK
            last_low = 0
        else:
            tally[SKIP + BEFORE_TIME_HIGH] += 1
        i += 1
    tbase = (wraps << 34) | (th << 6)
    while status == OK:
        room = min(ex.shape[0] - n, tp.shape[0] - nt)  # each word gives at most one event or trigger
        if room <= 0 or i >= nw:
            break
        stop = min(nw, i + room)
        for j in range(i, stop):
            w = np.int64(words[j])
            typ = w >> 28
            if typ <= CD_ON:
                low = (w >> 22) & 63
                x = (w >> 11) & 0x7FF
                y = w & 0x7FF
                if ((low - last_low) | (width - 1 - x) | (height - 1 - y)) >= 0:  # in order, inside
                    ex[n] = x
                    ey[n] = y
                    ep[n] = typ
                    et[n] = tbase + low
                    n += 1
                    last_low = low
                elif low < last_low:
                    tally[DETAIL] = tbase + last_low
                    tally[DETAIL + 1] = tbase + low
                    status = TIME_BACKWARDS
                else:
                    tally[DETAIL] = x
                    tally[DETAIL + 1] = y
                    status = OUTSIDE_GEOMETRY
            elif typ == EVT_TIME_HIGH:
                v = w & TIME_HIGH_MASK
                if v != th:
                    if v > th or th - v >= HALF_RANGE:
                        wraps += v < th
                        th = v
                        last_low = 0
                        tbase = (wraps << 34) | (th << 6)
                    else:
                        tally[DETAIL] = tbase + last_low
                        tally[DETAIL + 1] = (wraps << 34) | (v << 6)
                        status = TIME_BACKWARDS
            elif typ == EXT_TRIGGER:
                tp[nt] = w & 1
                tt[nt] = tbase + ((w >> 22) & 63)
                tid[nt] = (w >> 8) & 0x1F
                nt += 1
                tally[EXT_TRIGGER] += 1
            elif typ == OTHERS or typ == CONTINUED or typ == IMU:
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
    state[S_WRAPS] = wraps
    state[S_LAST_LOW] = last_low
    return i, n, nt, status


def word_type(word: int, legacy: bool) -> int:
    return (word >> 28) & 0xF


CODEC = Codec(name="evt2", word_bytes=4, word_dtype="<u4", max_events_per_word=1, decode=decode,
              initial_state=initial_state, type_names=TYPE_NAMES, word_type=word_type)


# -- writer --------------------------------------------------------------------------------

# encoder state: whether a time high was written, and the absolute time high (t >> 6)
E_HAVE_TH, E_TH = range(2)


@njit(cache=True, nogil=True)
def _set_time_high(out, k, state, t):
    """Append the EVT_TIME_HIGH words that move the decoder's time base to ``t``; return the new length."""
    hi = t >> 6
    if state[E_HAVE_TH] == 0 or hi != state[E_TH]:
        prev = state[E_TH] if state[E_HAVE_TH] else 0
        while hi - prev > HALF_RANGE:
            prev += HALF_RANGE
            out[k] = (EVT_TIME_HIGH << 28) | (prev & TIME_HIGH_MASK)
            k += 1
        out[k] = (EVT_TIME_HIGH << 28) | (hi & TIME_HIGH_MASK)
        k += 1
        state[E_HAVE_TH] = 1
        state[E_TH] = hi
    return k


@njit(cache=True, nogil=True)
def encode(x, y, p, t, state, out):
    """Encode time-sorted events into ``out`` (uint32); return the number of words."""
    k = 0
    for i in range(x.shape[0]):
        ti = t[i]
        k = _set_time_high(out, k, state, ti)
        out[k] = (np.int64(p[i]) << 28) | ((ti & 63) << 22) | (np.int64(x[i]) << 11) | np.int64(y[i])
        k += 1
    return k


@njit(cache=True, nogil=True)
def encode_triggers(p, t, ident, state, out):
    """Encode time-sorted triggers into ``out`` (uint32); return the number of words."""
    k = 0
    for i in range(p.shape[0]):
        ti = t[i]
        k = _set_time_high(out, k, state, ti)
        out[k] = (EXT_TRIGGER << 28) | ((ti & 63) << 22) | (np.int64(ident[i]) << 8) | np.int64(p[i])
        k += 1
    return k


class Evt2Writer(RawWriter):
    """Write events (and triggers) as a Prophesee RAW EVT 2.0 file that Metavision reads."""

    encoding = "evt2"
    word_dtype = "<u4"
    max_trigger_id = 31

    def _initial_state(self) -> np.ndarray:
        return np.zeros(2, dtype=np.int64)

    def _capacity(self, n: int, t_last: int) -> int:
        prev = int(self._state[E_TH]) if self._state[E_HAVE_TH] else 0
        return 2 * n + max(0, ((t_last >> 6) - prev) // HALF_RANGE) + 2

    def _encode(self, events: np.ndarray, out: np.ndarray) -> int:
        return encode(events["x"], events["y"], events["p"], events["t"], self._state, out)

    def _encode_triggers(self, triggers: np.ndarray, out: np.ndarray) -> int:
        return encode_triggers(triggers["p"], triggers["t"], triggers["id"], self._state, out)
