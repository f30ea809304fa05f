"""Prophesee DAT files (``*_td.dat`` of the Gen1 and 1 Mpx automotive datasets): read and write.

Layout (Prophesee's "DAT File Format" page and OpenEB's ``event2d.h`` / ``event_ext_trigger.h``):
text lines starting with ``%`` (``% Date ...``, ``% Version 2``, ``% Width 304``, ``% Height 240``,
others kept as metadata), then two bytes, the event type (0x00 Event2d and 0x0C EventCD: both CD;
0x0E EventExtTrigger) and the event size (8), then 8-byte little-endian records: a uint32
timestamp in µs and a uint32 holding x in bits 0-13, y in bits 14-27 and p in bits 28-31 (CD),
or p in bits 0-3 and the trigger id in bits 26-31 (triggers).

Decisions:

* Geometry comes from the header; ``geometry=(w, h)`` overrides it (with a warning when they
  differ) and fills it in for old Gen1 files that have none, which otherwise get the Gen1
  ATIS's 304x240 (logged).
* Timestamps are 32 bits and wrap every 2^32 µs (~71.6 min). Unwrap rule: a timestamp more than
  2^31 µs *below* the latest one starts a new wrap period; a smaller step back is time running
  backwards (:class:`TimeOrderError`; ``strict=False`` drops such events and counts them). A
  gap of 2^31 µs or more between consecutive events cannot be told from a wrap, so the
  writer refuses one.
* Trigger files (type 0x0E) are read too: no CD events, their triggers in ``Chunk.triggers``
  and ``source.triggers``. Any other type byte, or an event size other than 8, is a
  :class:`HeaderError`. A ``% Version`` other than 2 is logged and read as version 2, as
  Prophesee's own readers do.
* Fixed-size records allow seeking without decoding: :meth:`DatReader._checkpoint_for` binary
  searches the file's timestamps, unwrapped through a table of up to 257 evenly spaced
  records (read at open in strict mode, for ``info.end_time``, else when first needed). It
  assumes that less than 71 minutes pass between two table entries (1/256 of the file apart).
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterator

import numpy as np
from numba import njit

from .errors import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
)
from .events import EVENT_DTYPE, TRIGGER_DTYPE
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

TYPE_EVENT2D = 0x00
TYPE_CD = 0x0C
TYPE_TRIGGER = 0x0E
CD_TYPES = (TYPE_EVENT2D, TYPE_CD)
EVENT_SIZE = 8
GEN1_GEOMETRY = (304, 240)
COORD_LIMIT = 1 << 14
WRAP = 1 << 32
HALF_WRAP = 1 << 31
MAX_HEADER_BYTES = 1 << 20
TABLE_SIZE = 257

# Error codes of the decoding kernels, and the names under which lenient mode counts them.
_OK, _BACKWARDS, _POLARITY, _OUTSIDE = 0, 1, 2, 3
_TYPE_NAMES = {TYPE_EVENT2D: "Event2d", TYPE_CD: "EventCD", TYPE_TRIGGER: "EventExtTrigger"}
_REASONS = {_BACKWARDS: "time_backwards", _POLARITY: "bad_polarity", _OUTSIDE: "outside_geometry"}


@njit(cache=True, nogil=True)
def _unwrap(t32, hi, last):
    """Unwrapped time of a raw timestamp, the new wrap base, and whether time ran backwards."""
    tt = hi + t32
    if tt < last:
        if last - tt > HALF_WRAP:
            hi += WRAP
            tt += WRAP
        else:
            return tt, hi, True
    return tt, hi, False


@njit(cache=True, nogil=True)
def _decode_cd(words, width, height, strict, hi, last, x, y, p, t, counts):
    """Decode CD records into the x, y, p, t columns; returns (n_out, hi, last, code, index).

    ``strict``: stop at the first bad record (its code and index); else skip it and count it.
    """
    k = 0
    for i in range(words.shape[0]):
        tt, hi2, back = _unwrap(np.int64(words[i, 0]), hi, last)
        w = words[i, 1]
        xx = w & 0x3FFF
        yy = (w >> 14) & 0x3FFF
        pp = w >> 28
        code = _OK
        if back:
            code = _BACKWARDS
        elif pp > 1:
            code = _POLARITY
        elif xx >= width or yy >= height:
            code = _OUTSIDE
        if code != _OK:
            if strict:
                return k, hi, last, code, i
            counts[code] += 1
            continue
        hi = hi2
        last = tt
        x[k] = xx
        y[k] = yy
        p[k] = pp
        t[k] = tt
        k += 1
    return k, hi, last, _OK, -1


@njit(cache=True, nogil=True)
def _decode_triggers(words, strict, hi, last, p, t, ids, counts):
    """Decode external-trigger records (p in bits 0-3, id in bits 26-31); as :func:`_decode_cd`."""
    k = 0
    for i in range(words.shape[0]):
        tt, hi2, back = _unwrap(np.int64(words[i, 0]), hi, last)
        w = words[i, 1]
        pp = w & 0xF
        code = _BACKWARDS if back else (_POLARITY if pp > 1 else _OK)
        if code != _OK:
            if strict:
                return k, hi, last, code, i
            counts[code] += 1
            continue
        hi = hi2
        last = tt
        p[k] = pp
        t[k] = tt
        ids[k] = (w >> 26) & 0x3F
        k += 1
    return k, hi, last, _OK, -1


def _parse_header(head: bytes, path: str) -> tuple[dict[str, str], int]:
    """The ``% key value`` lines of ``head`` as a dict, and the offset of the type byte."""
    meta: dict[str, str] = {}
    pos = 0
    while pos < len(head) and head[pos : pos + 1] == b"%":
        nl = head.find(b"\n", pos)
        if nl < 0:
            if len(head) >= MAX_HEADER_BYTES:
                raise HeaderError(path, pos, f"DAT header longer than {MAX_HEADER_BYTES} bytes")
            raise TruncatedError(path, pos, "the file ends inside a header line")
        text = head[pos + 1 : nl].rstrip(b"\r").decode("latin-1").strip()
        key, _, value = text.partition(" ")
        if key:
            meta[key] = value.strip()
        pos = nl + 1
    return meta, pos


def _header_int(meta: dict[str, str], key: str, path: str) -> int | None:
    for k, v in meta.items():
        if k.lower() == key:
            try:
                n = int(v)
            except ValueError:
                n = 0
            if not 0 < n <= COORD_LIMIT:
                raise HeaderError(path, 0, f"header line '% {k} {v}': expected an integer in "
                                           f"1..{COORD_LIMIT}")
            return n
    return None


class DatReader(EventSource):
    """Stream a Prophesee DAT file (CD events, or the triggers of a trigger file) chunk by chunk.

    ``geometry=(width, height)`` overrides the header's (or supplies it where the header has
    none); ``chunk_events`` bounds the records decoded per chunk.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = True,
                 geometry: tuple[int, int] | None = None, chunk_events: int = 1 << 20) -> None:
        path = os.fspath(path)
        super().__init__(path, strict)
        self._chunk = int(chunk_events)
        self._table: tuple[np.ndarray, np.ndarray] | None = None
        self._words: np.ndarray | None = None
        size = os.path.getsize(path)
        if size == 0:
            raise EmptyFileError(path, 0, "the file is empty")
        with open(path, "rb") as f:
            head = f.read(min(size, MAX_HEADER_BYTES))
        meta, pos = _parse_header(head, path)
        if not meta:
            raise HeaderError(path, 0, "no DAT header: a DAT file starts with '% ' lines (% Version 2, "
                                       "% Width, % Height)")
        if size < pos + 2:
            raise TruncatedError(path, pos, "the file ends after the header, before the event type and "
                                            "size bytes")
        ev_type, ev_size = head[pos], head[pos + 1]
        if ev_type not in (*CD_TYPES, TYPE_TRIGGER):
            raise HeaderError(path, pos, f"event type 0x{ev_type:02X} is neither CD (0x00 Event2d, "
                                         "0x0C EventCD) nor an external trigger (0x0E)")
        if ev_size != EVENT_SIZE:
            raise HeaderError(path, pos + 1, f"event size byte is {ev_size}; DAT CD and trigger events "
                                             "are 8 bytes")
        version = next((v for k, v in meta.items() if k.lower() == "version"), None)
        if version is not None and version != "2":
            log.warning("%s: DAT header says version %s; reading it as version 2", path, version)
        self._start = pos + 2
        self._n, self._tail = divmod(size - self._start, EVENT_SIZE)
        self._is_cd = ev_type in CD_TYPES
        width, height = _header_int(meta, "width", path), _header_int(meta, "height", path)
        if geometry is not None:
            gw, gh = int(geometry[0]), int(geometry[1])
            if width is not None and (gw, gh) != (width, height):
                log.warning("%s: geometry=%dx%d overrides the header's %sx%s", path, gw, gh, width, height)
            width, height = gw, gh
        elif width is None or height is None:
            width, height = GEN1_GEOMETRY
            log.info("%s: no Width/Height in the DAT header; assuming the Gen1 ATIS geometry 304x240 "
                     "(pass geometry=(w, h) otherwise)", path)
        if self._n:
            self._words = np.memmap(path, dtype="<u4", mode="r", offset=self._start, shape=(self._n, 2))
        meta["event_type"] = _TYPE_NAMES[ev_type]
        self.info = StreamInfo(width=width, height=height, format="dat", path=path, metadata=meta)
        if not self._is_cd:
            self.info.event_count = 0
        elif strict:
            self.info.event_count = self._n
            if self._n:
                self.info.start_time = int(self._words[0, 0])
                self.info.end_time = int(self._time_table()[1][-1])

    # -- decoding ------------------------------------------------------------------------

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        if checkpoint is None:
            rec, hi, last = 0, 0, -1
        else:
            rec = (checkpoint.offset - self._start) // EVENT_SIZE
            hi, last = checkpoint.state
        while rec < self._n:
            end = min(rec + self._chunk, self._n)
            cp = Checkpoint(self._start + rec * EVENT_SIZE, (hi, last))
            words = np.asarray(self._words[rec:end])
            counts = np.zeros(4, dtype=np.int64)
            if self._is_cd:
                ev = np.empty(end - rec, dtype=EVENT_DTYPE)
                k, hi, last, code, i = _decode_cd(words, self.info.width, self.info.height, self.strict,
                                                  hi, last, ev["x"], ev["y"], ev["p"], ev["t"], counts)
                trig = None
            else:
                trig = np.empty(end - rec, dtype=TRIGGER_DTYPE)
                k, hi, last, code, i = _decode_triggers(words, self.strict, hi, last, trig["p"], trig["t"],
                                                        trig["id"], counts)
                ev = np.empty(0, dtype=EVENT_DTYPE)
            if code != _OK:
                self._raise(code, rec + i, words[i], hi, last)
            skipped = {_REASONS[c]: int(counts[c]) for c in _REASONS if counts[c]}
            if self._is_cd:
                yield Chunk(cp, ev[:k], skipped=skipped)
            else:
                yield Chunk(cp, ev, triggers=trig[:k], skipped=skipped, other={"trigger": k})
            rec = end
        if self._tail:
            where = self._start + self._n * EVENT_SIZE
            if self.strict:
                raise TruncatedError(self.path, where, f"the file ends {self._tail} bytes into an 8-byte "
                                                       "event")
            yield Chunk(Checkpoint(where, (hi, last)), np.empty(0, dtype=EVENT_DTYPE),
                        skipped={"truncated_event": 1})

    def _raise(self, code: int, rec: int, word: np.ndarray, hi: int, last: int) -> None:
        where = self._start + rec * EVENT_SIZE
        t32, w = int(word[0]), int(word[1])
        if code == _BACKWARDS:
            raise TimeOrderError(self.path, where, f"time goes back from {last} µs to {hi + t32} µs "
                                                   "(less than 2^31 µs back, so not a 32-bit wrap)")
        if code == _POLARITY:
            bits = (w >> 28) if self._is_cd else (w & 0xF)
            raise EventFormatError(self.path, where, f"polarity field is {bits}, expected 0 or 1")
        x, y = w & 0x3FFF, (w >> 14) & 0x3FFF
        raise CoordinateError(self.path, where, f"event at x={x}, y={y} is outside the "
                                                f"{self.info.width}x{self.info.height} geometry")

    # -- random access -------------------------------------------------------------------

    def _time_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Record indices spread over the file and their unwrapped timestamps."""
        if self._table is None:
            idx = np.unique(np.linspace(0, self._n - 1, min(self._n, TABLE_SIZE)).astype(np.int64))
            t32 = np.asarray(self._words[idx, 0], dtype=np.int64)
            wraps = np.concatenate(([0], np.cumsum(np.diff(t32) < -HALF_WRAP)))
            self._table = (idx, t32 + wraps * WRAP)
        return self._table

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        """Binary search on the records' timestamps: no decoding, a few dozen reads."""
        if not self._is_cd or not self._n:
            return None
        idx, tt = self._time_table()
        j = int(np.searchsorted(tt, t, side="left")) - 1
        if j < 0:
            return None
        base = int(tt[j])
        hi = base - int(self._words[idx[j], 0])

        def time_at(r: int) -> int:
            v = hi + int(self._words[r, 0])
            return v + WRAP if v < base - HALF_WRAP else v

        lo, up = int(idx[j]) + 1, int(idx[j + 1]) if j + 1 < len(idx) else self._n
        while lo < up:
            mid = (lo + up) // 2
            if time_at(mid) < t:
                lo = mid + 1
            else:
                up = mid
        prev = time_at(lo - 1)
        return Checkpoint(self._start + lo * EVENT_SIZE, (prev - int(self._words[lo - 1, 0]), prev))

    def _close(self) -> None:
        self._words = None


class DatWriter(EventWriter):
    """Write CD events as a DAT file (type 0x0C EventCD by default, 0x00 Event2d for Gen1 tools).

    Timestamps are stored modulo 2^32 µs: the first event must lie in ``[0, 2^32)`` and no two
    consecutive events may be 2^31 µs or more apart, so that the reader's unwrap rule restores
    them exactly.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, *, event_type: int = TYPE_CD,
                 date: datetime.datetime | None = None) -> None:
        super().__init__(path, width, height)
        if not (0 < self.width <= COORD_LIMIT and 0 < self.height <= COORD_LIMIT):
            raise ValueError(f"{self.path}: DAT stores 14-bit coordinates; {self.width}x{self.height} "
                             "does not fit")
        if event_type not in CD_TYPES:
            raise ValueError(f"{self.path}: event_type must be 0x0C (EventCD) or 0x00 (Event2d)")
        date = date or datetime.datetime.now()
        header = (
            "% Data file containing CD events\n"
            f"% Date {date:%Y-%m-%d %H:%M:%S}\n"
            "% Version 2\n"
            f"% Height {self.height}\n"
            f"% Width {self.width}\n"
        )
        self._f = open(self.path, "wb")
        self._f.write(header.encode("ascii") + bytes([event_type, EVENT_SIZE]))

    def _write(self, events: np.ndarray) -> None:
        t = events["t"]
        p = events["p"]
        if bool(np.any((p != 0) & (p != 1))):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        prev = self._last_t
        if prev is None:
            if not 0 <= int(t[0]) < WRAP:
                raise ValueError(f"{self.path}: DAT timestamps are 32-bit: the first event must be in "
                                 "[0, 2^32) µs")
            prev = int(t[0])
        if max(int(t[0]) - prev, int(np.diff(t).max(initial=0))) >= HALF_WRAP:
            raise ValueError(f"{self.path}: a gap of 2^31 µs or more between events cannot be told from a "
                             "32-bit timestamp wrap in DAT")
        words = np.empty((len(events), 2), dtype="<u4")
        words[:, 0] = t & 0xFFFFFFFF
        words[:, 1] = (events["x"].astype(np.uint32) | (events["y"].astype(np.uint32) << 14)
                       | (p.astype(np.uint32) << 28))
        self._f.write(words.tobytes())

    def _finish(self) -> None:
        self._f.close()
