"""Prophesee EVT 2.1: 64-bit words, type in the top 4 bits, CD events in vectors of 32 pixels (decoder).

Each 64-bit word is a 32-bit header (laid out as an EVT 2.0 word) and a 32-bit payload:

=====  =============  ======================================================================
type   name           header bits 27..0; payload
=====  =============  ======================================================================
0x0    EVT_NEG        27..22 time low, 21..11 x (a multiple of 32), 10..0 y; payload: a
                      validity mask, bit i set for an OFF event at (x + i, y)
0x1    EVT_POS        as EVT_NEG, for ON events
0x8    EVT_TIME_HIGH  27..0 time high (28 bits); payload unused
0xA    EXT_TRIGGER    27..22 time low, 12..8 trigger id, 0 value; payload unused
0xE    OTHERS         27..22 time low, 15..0 subtype; payload: vendor data (counted)
0xF    CONTINUED      extra data (counted)
=====  =============  ======================================================================

Byte order (Prophesee's EVT 2.1 page and OpenEB's ``Evt21Raw``/``Evt21LegacyRaw``): a plain
file holds each 64-bit word little-endian, so the payload (low half) comes first and the header
second. IMX636-family files (``endianness=legacy`` in the format line, or a Prophesee system
older than the EVK2 Saphir) send the header half first, each half little-endian. Time follows
EVT 2.0's rules (see :mod:`spikesight.io.evt2`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .raw import (
    BEFORE_TIME_HIGH,
    DETAIL,
    LEGACY,
    OK,
    OUTSIDE_GEOMETRY,
    SKIP,
    STRICT,
    TIME_BACKWARDS,
    UNKNOWN_WORD,
    Codec,
)

EVT_NEG = 0x0
EVT_POS = 0x1
EVT_TIME_HIGH = 0x8
EXT_TRIGGER = 0xA
OTHERS = 0xE
CONTINUED = 0xF

TYPE_NAMES = {EXT_TRIGGER: "EXT_TRIGGER", OTHERS: "OTHERS", CONTINUED: "CONTINUED"}

TIME_HIGH_MASK = (1 << 28) - 1
HALF_RANGE = 1 << 27

S_HAVE_TH, S_TH, S_WRAPS, S_LAST_LOW = range(4)


def initial_state() -> np.ndarray:
    """No time base yet."""
    return np.zeros(4, dtype=np.int64)


@njit(cache=True, nogil=True)
def decode(words, pos, state, ex, ey, ep, et, tp, tt, tid, tally, width, height, flags):
    """Decode EVT 2.1 words (given as pairs of uint32 halves) from word ``pos``."""
    strict = (flags & STRICT) != 0
    hi_first = 0 if (flags & LEGACY) != 0 else 1  # index of the header half within a word
    have_th = state[S_HAVE_TH]
    th = state[S_TH]
    wraps = state[S_WRAPS]
    last_low = state[S_LAST_LOW]
    n = 0
    nt = 0
    status = OK
    i = pos
    nw = words.shape[0] // 2
    while have_th == 0 and i < nw:
        head = np.int64(words[2 * i + hi_first])
        if (head >> 28) == EVT_TIME_HIGH:
            have_th = 1
            th = head & TIME_HIGH_MASK
            last_low = 0
        else:
            tally[SKIP + BEFORE_TIME_HIGH] += 1
        i += 1
    tbase = (wraps << 34) | (th << 6)
    while status == OK:
        room = min((ex.shape[0] - n) // 32, tp.shape[0] - nt)  # at most 32 events or one trigger a word
        if room <= 0 or i >= nw:
            break
        stop = min(nw, i + room)
        for j in range(i, stop):
            head = np.int64(words[2 * j + hi_first])
            typ = head >> 28
            if typ <= EVT_POS:
                mask = np.int64(words[2 * j + 1 - hi_first])
                low = (head >> 22) & 63
                xb = (head >> 11) & 0x7FF
                y = head & 0x7FF
                if low < last_low:
                    tally[DETAIL] = tbase + last_low
                    tally[DETAIL + 1] = tbase + low
                    status = TIME_BACKWARDS
                elif mask != 0:
                    top = 0
                    m = mask >> 1
                    while m != 0:
                        m >>= 1
                        top += 1
                    if strict and (y >= height or xb + top >= width):
                        b = 0  # the first set bit outside the geometry (the top bit is one)
                        while ((mask >> b) & 1) == 0 or (xb + b < width and y < height):
                            b += 1
                        tally[DETAIL] = xb + b
                        tally[DETAIL + 1] = y
                        status = OUTSIDE_GEOMETRY
                    else:
                        last_low = low
                        t = tbase + low
                        b = 0
                        m = mask
                        while m != 0:
                            if m & 1:
                                x = xb + b
                                if x < width and y < height:
                                    ex[n] = x
                                    ey[n] = y
                                    ep[n] = typ
                                    et[n] = t
                                    n += 1
                                else:
                                    tally[SKIP + OUTSIDE_GEOMETRY] += 1
                            m >>= 1
                            b += 1
            elif typ == EVT_TIME_HIGH:
                v = head & TIME_HIGH_MASK
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
                tp[nt] = head & 1
                tt[nt] = tbase + ((head >> 22) & 63)
                tid[nt] = (head >> 8) & 0x1F
                nt += 1
                tally[EXT_TRIGGER] += 1
            elif typ == OTHERS or typ == CONTINUED:
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
    """The type of a 64-bit word read as a little-endian integer."""
    head = word & 0xFFFFFFFF if legacy else word >> 32
    return (head >> 28) & 0xF


CODEC = Codec(name="evt21", word_bytes=8, word_dtype="<u4", max_events_per_word=32, decode=decode,
              initial_state=initial_state, type_names=TYPE_NAMES, word_type=word_type)
