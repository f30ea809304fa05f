"""iniVation AEDAT 3.1 (cAER, the DVS128 Gesture dataset) and AEDAT 2.0 (jAER, DVS128) files.

Both are decoded here with numpy and numba. AEDAT 3.1 is written by :mod:`.aedat31_writer`;
AEDAT 2.0 is read only.

AEDAT 3.1 (iniVation "AEDAT 3.1" page; libcaer ``events/common.h``, ``polarity.h``, ``special.h``):
``#`` header lines from ``#!AER-DAT3.1\\r\\n`` to ``#!END-HEADER\\r\\n`` (``#Format: RAW``,
``#Source <id>: <device>``, ``#Start-Time: ...``), then packets, all little-endian: a 28-byte
header (int16 eventType, int16 eventSource, int32 eventSize, eventTSOffset, eventTSOverflow,
eventCapacity, eventNumber, eventValid) followed by ``eventCapacity * eventSize`` bytes, of which
the first ``eventNumber`` events are filled in.

* Polarity events (type 1, 8 bytes): uint32 data (bit 0 valid, bit 1 polarity, bits 2-16 y,
  bits 17-31 x; origin top left) and int32 timestamp; full time
  ``(eventTSOverflow << 31) | timestamp`` µs. Events whose valid bit is 0 are dropped and
  counted (``skipped["invalid_event"]``) in both modes: the format defines them.
* Special events (type 0, 8 bytes: bit 0 valid, bits 1-7 kind): external input rising/falling
  edges (kinds 2/3, 6/7, 9/10 for inputs 0, 1, 2) become triggers (p=1 rising, p=0 falling,
  id = input); every other kind is counted in ``Chunk.other`` as ``special_<kind>``.
* Other packet types (frames, IMU, ...) are skipped without reading them and counted by type
  name (events per packet). In files with several ``#Source`` lines, packets from a source
  other than the camera's are counted as ``source<id>_<type>``; with one, every packet is the
  camera's whatever its source id.
* Geometry from the camera's ``#Source`` line (DVS128 / eDVS 128x128, DAVIS240 240x180,
  DAVIS346 346x260, DAVIS640 640x480), else ``geometry=(w, h)``, else :class:`GeometryError`.

AEDAT 2.0 (iniVation "AEDAT 2.0" page): ``#`` header lines (the first ``#!AER-DAT2.0``), then
big-endian 8-byte records, uint32 address and uint32 timestamp (µs). Only the DVS128 address
layout is supported; its meaning follows libcaer's DVS128 driver (``dvs128.c``, BSD-2), which
reads the same raw addresses that jAER's DVS128 class records: x = 127 - ((a >> 1) & 0x7F),
y = 127 - ((a >> 8) & 0x7F) (both flipped, giving a top-left origin like AEDAT 3.1),
polarity ON when bit 0 is 0; bit 15 (0x8000) marks an external sync event (a trigger, p=1,
id=0; libcaer calls it a rising edge), bit 31 a jAER special event (counted as ``special``);
jAER's DVS128 extractor uses the same two masks. Any other high bit is an unknown word.
Timestamps wrap every 2^32 µs: a step back of more than 2^31 µs starts a new wrap period, a
smaller one is time running backwards. Files whose ``# AEChip:`` line names another chip (DAVIS
cameras use another address layout and also record APS and IMU samples) raise
:class:`UnsupportedFormatError`, as do other version lines (``#!AER-DAT3.0``, ``1.0``); a file
without one is a :class:`HeaderError`.

Chunks are bounded (``chunk_events`` events); seeking uses the base class's time index.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .errors import (
    CoordinateError,
    EmptyFileError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnknownWordError,
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from .events import EVENT_DTYPE, TRIGGER_DTYPE, empty_events
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 1 << 24
HEADER_READ = 1 << 16  # first piece of the file read for its header
PACKET_HEADER_SIZE = 28
RECORD_SIZE = 8
SCAN_BYTES = 64 << 20  # non-event bytes stepped over before a chunk is handed out anyway
TYPE_SPECIAL, TYPE_POLARITY = 0, 1
TYPE_NAMES = dict(enumerate((
    "special", "polarity", "frame", "imu6", "imu9", "sample", "ear", "config", "point1d", "point2d",
    "point3d", "point4d", "spike", "matrix4x4")))
SPECIAL_NAMES = dict(enumerate((
    "timestamp_wrap", "timestamp_reset", "external_input_rising_edge", "external_input_falling_edge",
    "external_input_pulse", "dvs_row_only", "external_input1_rising_edge", "external_input1_falling_edge",
    "external_input1_pulse", "external_input2_rising_edge", "external_input2_falling_edge",
    "external_input2_pulse", "external_generator_rising_edge", "external_generator_falling_edge",
    "aps_frame_start", "aps_frame_end", "aps_exposure_start", "aps_exposure_end", "event_readout_start")))
SPECIAL_TRIGGERS = {2: (1, 0), 3: (0, 0), 6: (1, 1), 7: (0, 1), 9: (1, 2), 10: (0, 2)}  # kind -> (p, id)
SOURCE_GEOMETRY = (("DVS128", (128, 128)), ("EDVS", (128, 128)), ("DAVIS240", (240, 180)),
                   ("DAVIS346", (346, 260)), ("DAVIS640", (640, 480)))
DVS128_SIZE = 128
WRAP = 1 << 32
HALF_WRAP = 1 << 31

# Error codes of the decoding kernels, and the names under which lenient mode counts them.
_OK, _BAD_TS, _OUTSIDE, _BACKWARDS, _UNKNOWN = 0, 1, 2, 3, 4
_REASONS = {_BAD_TS: "negative_timestamp", _OUTSIDE: "outside_geometry", _BACKWARDS: "time_backwards",
            _UNKNOWN: "unknown_address"}


@njit(cache=True, nogil=True)
def _decode_polarity31(words, hi, width, height, strict, last, x, y, p, t, counts):
    """Decode AEDAT 3.1 polarity events (``words``: data, timestamp pairs) into x, y, p, t.

    ``hi`` is ``eventTSOverflow << 31``. Invalid events are counted in ``counts[0]``. Returns
    ``(n_out, last, code, index)``; ``strict`` stops at the first bad event, else it is counted.
    """
    k = 0
    for i in range(words.shape[0] // 2):
        d = words[2 * i]
        ts = words[2 * i + 1]
        if (d & 1) == 0:
            counts[0] += 1
            continue
        xx = (d >> 17) & 0x7FFF
        yy = (d >> 2) & 0x7FFF
        tt = hi | np.int64(ts)
        code = _OK
        if ts & 0x80000000:
            code = _BAD_TS
        elif xx >= width or yy >= height:
            code = _OUTSIDE
        elif tt < last:
            code = _BACKWARDS
        if code != _OK:
            if strict:
                return k, last, code, i
            counts[code] += 1
            continue
        last = tt
        x[k] = xx
        y[k] = yy
        p[k] = (d >> 1) & 1
        t[k] = tt
        k += 1
    return k, last, _OK, -1


@njit(cache=True, nogil=True)
def _decode_dvs128(words, strict, last, x, y, p, t, trig_t, counts):
    """Decode AEDAT 2.0 DVS128 records (``words``: address, timestamp pairs, byte-swapped).

    Unwraps the 32-bit timestamps against ``last`` (-1: none yet). Sync events go to
    ``trig_t``, jAER special events are counted in ``counts[0]``. Returns
    ``(n_events, n_triggers, last, code, index)``.
    """
    k = 0
    m = 0
    for i in range(words.shape[0] // 2):
        a = words[2 * i]
        raw = np.int64(words[2 * i + 1])
        code = _OK
        if (a & 0x80000000) == 0 and (a & 0x7FFF0000) != 0:
            code = _UNKNOWN
        if last < 0:
            tt = raw
        else:
            base = last - (last & 0xFFFFFFFF)
            tt = base + raw
            if tt < last:
                if last - tt > HALF_WRAP:
                    tt += WRAP
                elif code == _OK:
                    code = _BACKWARDS
        if code != _OK:
            if strict:
                return k, m, last, code, i
            counts[code] += 1
            continue
        last = tt
        if a & 0x80000000:
            counts[0] += 1
        elif a & 0x8000:
            trig_t[m] = tt
            m += 1
        else:
            x[k] = 127 - ((a >> 1) & 0x7F)
            y[k] = 127 - ((a >> 8) & 0x7F)
            p[k] = 1 - (a & 1)
            t[k] = tt
            k += 1
    return k, m, last, _OK, -1


class _NeedMore(Exception):
    """The header runs past the bytes read so far."""


def _bump(counts: dict[str, int], key: str, n: int) -> None:
    if n:
        counts[key] = counts.get(key, 0) + int(n)


@dataclass
class _Pending:
    """One chunk being filled: where it starts, its events, triggers and counts.

    Events are decoded straight into ``buffer`` (allocated on first use, ``capacity`` long).
    """

    checkpoint: Checkpoint
    capacity: int
    buffer: np.ndarray | None = None
    triggers: list[np.ndarray] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)
    count: int = 0
    scanned: int = 0

    def space(self, n: int) -> np.ndarray:
        """The next ``n`` free event slots (``n`` at most ``capacity - count``)."""
        if self.buffer is None:
            self.buffer = np.empty(self.capacity, dtype=EVENT_DTYPE)
        return self.buffer[self.count : self.count + n]

    def chunk(self) -> Chunk:
        if self.buffer is None:
            events = empty_events()
        else:
            events = self.buffer[: self.count]
            if 2 * self.count < self.capacity:  # copied out, so a view does not keep a big buffer alive
                events = events.copy()
        triggers = np.concatenate(self.triggers) if self.triggers else None
        return Chunk(self.checkpoint, events, triggers=triggers, skipped=self.skipped, other=self.other)


@dataclass(frozen=True)
class _PacketHeader:
    """An AEDAT 3.1 packet header (eventValid aside) and the byte offset it starts at."""

    offset: int
    type: int
    source: int
    size: int
    ts_offset: int
    overflow: int
    capacity: int
    number: int

    @property
    def end(self) -> int:
        return self.offset + PACKET_HEADER_SIZE + self.capacity * self.size

    @property
    def events_end(self) -> int:
        return self.offset + PACKET_HEADER_SIZE + self.number * self.size


def _unpack_header(raw: bytes) -> list[int]:
    """The eight fields of a 28-byte packet header (two int16, six int32, little-endian)."""
    return [*np.frombuffer(raw, dtype="<i2", count=2).tolist(),
            *np.frombuffer(raw, dtype="<i4", offset=4).tolist()]


def _geometry_for(description: str) -> tuple[int, int] | None:
    name = description.upper()
    for key, geometry in SOURCE_GEOMETRY:
        if key in name:
            return geometry
    return None


class AedatReader(EventSource):
    """Stream the polarity events of an AEDAT 3.1 or 2.0 file (the version from its first line).

    ``geometry=(width, height)`` overrides or supplies the sensor size of AEDAT 3.1 files;
    ``chunk_events`` bounds the events per chunk. ``strict=False`` skips and counts bad
    events and stops (counting) at a truncated or unreadable packet instead of raising.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = True,
                 geometry: tuple[int, int] | None = None, chunk_events: int = 1 << 20) -> None:
        path = os.fspath(path)
        super().__init__(path, strict)
        if chunk_events <= 0:
            raise ValueError("chunk_events must be positive")
        self._chunk = int(chunk_events)
        self._size = os.path.getsize(path)
        if self._size == 0:
            raise EmptyFileError(path, 0, "the file is empty")
        self._file = open(path, "rb")  # closed by close()
        try:
            n = min(self._size, HEADER_READ)
            while True:  # the header is read in growing pieces: most are a few hundred bytes
                try:
                    self._open(self._read(0, n), geometry)
                    break
                except _NeedMore:
                    n = min(4 * n, self._size, MAX_HEADER_BYTES)
        except BaseException:
            self._file.close()
            raise

    def _open(self, head: bytes, geometry: tuple[int, int] | None) -> None:
        first = head.split(b"\n", 1)[0].rstrip(b"\r")
        if first == b"#!AER-DAT3.1":
            self._version = "3.1"
            self._open_31(head, geometry)
        elif first == b"#!AER-DAT2.0":
            self._version = "2.0"
            self._open_20(head, geometry)
        elif first.startswith(b"#!AER-DAT"):
            version = first.decode("latin-1")
            raise UnsupportedFormatError(self.path, 0, f"{version}: only AEDAT 3.1 and 2.0 are read here "
                                         "(AEDAT 4.0 by the aedat4 reader)")
        elif b"\n" not in head and self._more(head):
            raise _NeedMore
        else:
            raise HeaderError(self.path, 0, f"no AEDAT version line: the file starts with {head[:16]!r}")

    def _more(self, head: bytes) -> bool:
        """Whether more of the file could be read into the header buffer."""
        return len(head) < min(self._size, MAX_HEADER_BYTES)

    def _close(self) -> None:
        self._file.close()

    # -- headers ---------------------------------------------------------------------------

    def _header_lines(self, head: bytes, end_marker: bytes | None) -> tuple[list[tuple[int, str]], int]:
        """``(offset, text)`` of each ``#`` line and the offset where the data starts.

        With ``end_marker`` the header must end with that line; without, it ends at the first
        line that does not start with ``#``.
        """
        lines: list[tuple[int, str]] = []
        pos = 0
        while True:
            if pos >= len(head) and self._more(head):
                raise _NeedMore
            if pos >= len(head) or head[pos : pos + 1] != b"#":
                if end_marker is None:
                    return lines, pos
                if pos >= len(head):
                    break
                raise HeaderError(self.path, pos, f"line without '#' before the {end_marker.decode()} line")
            nl = head.find(b"\n", pos)
            if nl < 0:
                if self._more(head):
                    raise _NeedMore
                break
            raw = head[pos:nl].rstrip(b"\r")
            if end_marker is not None and raw == end_marker:
                return lines, nl + 1
            lines.append((pos, raw[1:].decode("latin-1").strip()))
            pos = nl + 1
        if len(head) >= MAX_HEADER_BYTES:
            raise HeaderError(self.path, pos, f"header longer than {MAX_HEADER_BYTES} bytes")
        what = f"before its {end_marker.decode()} line" if end_marker else "inside a header line"
        raise TruncatedError(self.path, pos, f"the file ends inside the header, {what}")

    def _open_31(self, head: bytes, geometry: tuple[int, int] | None) -> None:
        lines, self._data_start = self._header_lines(head, b"#!END-HEADER")
        meta = {"version": "3.1"}
        sources: list[tuple[int, str]] = []
        for offset, text in lines[1:]:
            key, _, value = text.partition(":")
            key, value = key.strip(), value.strip()
            if key == "Format":
                meta["format"] = value
                if value.upper() != "RAW":
                    raise UnsupportedCodecError(self.path, offset, f"format {value!r}: only RAW is read")
            elif key.startswith("Source "):
                try:
                    sources.append((int(key[len("Source "):]), value))
                except ValueError:
                    raise HeaderError(self.path, offset, f"bad source line {text!r}") from None
            elif key == "Start-Time":
                meta["start_time"] = value
        self._source: int | None = None
        found = None
        for sid, desc in sources:
            g = _geometry_for(desc)
            if g is not None:
                self._source, found = sid, g
                meta["source"] = f"{sid}: {desc}"
                break
        if found is None and sources:
            self._source = sources[0][0]
            meta["source"] = f"{sources[0][0]}: {sources[0][1]}"
        if len(sources) <= 1:
            self._source = None  # one camera: its packets count whatever source id they carry
        if geometry is not None:
            if found is not None and tuple(geometry) != found:
                log.warning("%s: geometry %s overrides the %s of source %r", self.path, geometry, found,
                            meta.get("source"))
            found = (int(geometry[0]), int(geometry[1]))
        if found is None:
            names = [d for _, d in sources] or "none"
            raise GeometryError(self.path, 0, f"unknown sensor size of sources {names}: give geometry=(w, h)")
        self.info = StreamInfo(width=found[0], height=found[1], format="aedat", path=self.path, metadata=meta)

    def _open_20(self, head: bytes, geometry: tuple[int, int] | None) -> None:
        lines, self._data_start = self._header_lines(head, None)
        meta = {"version": "2.0"}
        for offset, text in lines[1:]:
            key, _, value = text.partition(":")
            key, value = key.strip(), value.strip()
            if key == "AEChip":
                meta["aechip"] = value
                if "DVS128" not in value.upper() and "TMPDIFF128" not in value.upper():
                    raise UnsupportedFormatError(
                        self.path, offset, f"AEDAT 2.0 from AEChip {value!r}: only DVS128 addresses are "
                        "supported (DAVIS and other jAER chips use other address layouts)")
            elif key == "HardwareInterface":
                meta["hardware_interface"] = value
        if "aechip" not in meta:
            log.info("%s: no '# AEChip:' header line; reading DVS128 addresses", self.path)
        if geometry is not None and tuple(geometry) != (DVS128_SIZE, DVS128_SIZE):
            raise GeometryError(self.path, None, f"AEDAT 2.0 DVS128 data is 128x128, not {tuple(geometry)}")
        self.info = StreamInfo(width=DVS128_SIZE, height=DVS128_SIZE, format="aedat", path=self.path,
                               metadata=meta)

    # -- decoding --------------------------------------------------------------------------

    def _read(self, offset: int, n: int) -> bytes:
        self._file.seek(offset)
        return self._file.read(n)

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        if self._version == "2.0":
            return self._chunks_20(checkpoint)
        return self._chunks_31(checkpoint)

    def _bad(self, exc_type: type, offset: int, message: str, pending: _Pending, reason: str) -> None:
        """Raise (strict), or count one under ``reason`` (lenient)."""
        if self.strict:
            raise exc_type(self.path, offset, message)
        log.warning("%s at byte %d: %s (skipped)", self.path, offset, message)
        _bump(pending.skipped, reason, 1)

    def _chunks_20(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        pos = self._data_start if checkpoint is None else checkpoint.offset
        last = -1 if checkpoint is None else checkpoint.state
        end = self._data_start + (self._size - self._data_start) // RECORD_SIZE * RECORD_SIZE
        while pos < end:
            n = min(self._chunk, (end - pos) // RECORD_SIZE)
            pending = _Pending(Checkpoint(pos, last), n)
            words = np.frombuffer(self._read(pos, n * RECORD_SIZE), dtype=">u4").astype(np.uint32)
            ev = pending.space(n)
            trig_t = np.empty(n, dtype=np.int64)
            counts = np.zeros(5, dtype=np.int64)
            k, m, last, code, i = _decode_dvs128(words, self.strict, last, ev["x"], ev["y"], ev["p"], ev["t"],
                                                 trig_t, counts)
            if code != _OK:
                at = pos + i * RECORD_SIZE
                if code == _UNKNOWN:
                    raise UnknownWordError(self.path, at, f"address 0x{int(words[2 * i]):08x} is no DVS128 "
                                           "event, sync or special event (bits 16-30 set)")
                raise TimeOrderError(self.path, at, f"timestamp {int(words[2 * i + 1])} runs backwards from "
                                     f"{last} µs")
            pending.count = k
            _bump(pending.other, "special", counts[0])
            for c, reason in _REASONS.items():
                _bump(pending.skipped, reason, counts[c])
            if m:
                trig = np.zeros(m, dtype=TRIGGER_DTYPE)
                trig["p"] = 1
                trig["t"] = trig_t[:m]
                pending.triggers.append(trig)
            pos += n * RECORD_SIZE
            yield pending.chunk()
        if end < self._size:
            pending = _Pending(Checkpoint(end, last), 0)
            self._bad(TruncatedError, end, f"the file ends inside an 8-byte record ({self._size - end} bytes "
                      "left)", pending, "truncated_record")
            yield pending.chunk()

    def _packet_header(self, offset: int, pending: _Pending) -> _PacketHeader | None:
        """The checked packet header at ``offset``; ``None`` (lenient) where it cannot be used."""
        raw = self._read(offset, PACKET_HEADER_SIZE)
        if len(raw) < PACKET_HEADER_SIZE:
            self._bad(TruncatedError, offset, f"the file ends inside a packet header ({len(raw)} of "
                      f"{PACKET_HEADER_SIZE} bytes)", pending, "truncated_packet")
            return None
        h = _unpack_header(raw)
        hdr = _PacketHeader(offset, *h[:7])
        valid = h[7]
        if min(h) < 0 or hdr.number > hdr.capacity or valid > hdr.number:
            fields = (f"type {hdr.type}, source {hdr.source}, size {hdr.size}, capacity {hdr.capacity}, "
                      f"number {hdr.number}, valid {valid}")
            self._bad(UnknownWordError, offset, f"malformed packet header ({fields})", pending,
                      "bad_packet_header")
            return None
        if hdr.end > self._size:
            missing = max(0, (hdr.events_end - self._size) // max(hdr.size, 1))
            self._bad(TruncatedError, offset, f"{self._kind(hdr)} packet ends at byte {hdr.end}, past the "
                      f"end of the file ({self._size} bytes; {missing} of its {hdr.number} events missing)",
                      pending, "truncated_packet")
        return hdr

    def _chunks_31(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        if checkpoint is None:
            pos, last, inside = self._data_start, -1, -1
        else:
            pos = checkpoint.offset
            last, inside = checkpoint.state
        # cur: the polarity packet being decoded (inside it, pos is the next event's offset)
        cur = None
        if inside >= 0:
            cur = _PacketHeader(inside, *_unpack_header(self._read(inside, PACKET_HEADER_SIZE))[:7])
        pending = _Pending(Checkpoint(pos, (last, inside)), self._chunk)
        while cur is not None or pos < self._size:
            if cur is None:
                hdr = self._packet_header(pos, pending)
                if hdr is None:
                    break
                if hdr.type == TYPE_POLARITY and self._mine(hdr):
                    if hdr.size == RECORD_SIZE and hdr.ts_offset == 4:
                        cur, pos = hdr, hdr.offset + PACKET_HEADER_SIZE
                        continue
                    self._bad(UnknownWordError, hdr.offset, f"polarity packet with eventSize {hdr.size} and "
                              f"eventTSOffset {hdr.ts_offset} (expected 8 and 4)", pending, "bad_packet")
                elif hdr.end <= self._size:
                    self._other_packet(hdr, pending)
                if hdr.end > self._size:
                    break
                pos = hdr.end
                pending.scanned += hdr.end - hdr.offset
                if pending.scanned >= SCAN_BYTES:
                    yield pending.chunk()
                    pending = _Pending(Checkpoint(pos, (last, -1)), self._chunk)
                continue
            available = min(cur.events_end, self._size)
            n = min((available - pos) // RECORD_SIZE, self._chunk - pending.count)
            last = self._polarity(cur, pos, n, last, pending)
            pos += n * RECORD_SIZE
            if pos >= cur.events_end:
                pos, cur = cur.end, None
            elif pos + RECORD_SIZE > available:
                break
            if pending.count >= self._chunk:
                yield pending.chunk()
                pending = _Pending(Checkpoint(pos, (last, -1 if cur is None else cur.offset)), self._chunk)
        if pending.count or pending.other or pending.skipped or pending.triggers:
            yield pending.chunk()

    def _mine(self, hdr: _PacketHeader) -> bool:
        return self._source is None or hdr.source == self._source

    def _kind(self, hdr: _PacketHeader) -> str:
        name = TYPE_NAMES.get(hdr.type, f"type_{hdr.type}")
        return name if self._mine(hdr) else f"source{hdr.source}_{name}"

    def _polarity(self, hdr: _PacketHeader, pos: int, n: int, last: int, pending: _Pending) -> int:
        """Decode ``n`` polarity events at ``pos`` into ``pending``; returns the new last time."""
        if n <= 0:
            return last
        words = np.frombuffer(self._read(pos, n * RECORD_SIZE), dtype="<u4")
        ev = pending.space(n)
        counts = np.zeros(5, dtype=np.int64)
        k, last, code, i = _decode_polarity31(words, hdr.overflow << 31, self.info.width, self.info.height,
                                              self.strict, last, ev["x"], ev["y"], ev["p"], ev["t"], counts)
        if code != _OK:
            at = pos + i * RECORD_SIZE
            d, ts = int(words[2 * i]), int(words[2 * i + 1])
            if code == _BAD_TS:
                raise UnknownWordError(self.path, at, f"polarity event with a negative timestamp 0x{ts:08x}")
            if code == _OUTSIDE:
                xy = f"({(d >> 17) & 0x7FFF}, {(d >> 2) & 0x7FFF})"
                raise CoordinateError(self.path, at, f"polarity event at {xy} outside the "
                                      f"{self.info.width}x{self.info.height} sensor")
            raise TimeOrderError(self.path, at, f"time runs backwards from {last} to "
                                 f"{(hdr.overflow << 31) | ts} µs")
        pending.count += k
        _bump(pending.skipped, "invalid_event", counts[0])
        for c, reason in _REASONS.items():
            _bump(pending.skipped, reason, counts[c])
        return last

    def _other_packet(self, hdr: _PacketHeader, pending: _Pending) -> None:
        """Count a packet that holds no polarity events of the camera; decode its triggers."""
        if hdr.type != TYPE_SPECIAL or not self._mine(hdr):
            _bump(pending.other, self._kind(hdr), hdr.number)
            return
        if hdr.size != RECORD_SIZE or hdr.ts_offset != 4:
            self._bad(UnknownWordError, hdr.offset, f"special packet with eventSize {hdr.size} and "
                      f"eventTSOffset {hdr.ts_offset} (expected 8 and 4)", pending, "bad_packet")
            return
        words = np.frombuffer(self._read(hdr.offset + PACKET_HEADER_SIZE, hdr.number * RECORD_SIZE),
                              dtype="<u4").reshape(-1, 2)
        valid = (words[:, 0] & 1) == 1
        _bump(pending.skipped, "invalid_event", int((~valid).sum()))
        kinds = ((words[:, 0] >> 1) & 0x7F)[valid]
        stamps = words[:, 1][valid].astype(np.int64)
        rows = []
        for kind, ts in zip(kinds.tolist(), stamps.tolist(), strict=True):
            if kind in SPECIAL_TRIGGERS:
                if ts >= HALF_WRAP:
                    self._bad(UnknownWordError, hdr.offset, f"trigger with a negative timestamp 0x{ts:08x}",
                              pending, "negative_timestamp")
                    continue
                p, tid = SPECIAL_TRIGGERS[kind]
                rows.append((p, (hdr.overflow << 31) | ts, tid))
            else:
                _bump(pending.other, f"special_{SPECIAL_NAMES.get(kind, f'kind{kind}')}", 1)
        if rows:
            pending.triggers.append(np.array(rows, dtype=TRIGGER_DTYPE))
