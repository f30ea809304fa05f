"""Prophesee RAW files: one reader for EVT 2.0, EVT 2.1 and EVT 3.0 (chosen by the header), and
the writer base shared by the EVT 2.0 and EVT 3.0 writers.

The reader maps the file and hands bounded windows of event words to the encoding's numba
decoder (modules ``evt2``, ``evt21``, ``evt3``), whose whole state (time high bits, wrap count,
current row, vector base, ...) fits in a small int64 array. That array is saved in every
:class:`~spikesight.io.source.Checkpoint`, so decoding resumes mid-file from the time index
without re-reading the prefix.

The decoders share one protocol, defined here: ``decode(words, pos, state, x, y, p, t, trig_p,
trig_t, trig_id, tally, width, height, flags) -> (next_pos, n_events, n_triggers, status)``,
positions counted in file words. They stop early when the output arrays are nearly full, or
(strict mode) at a bad word, whose position they return with a non-zero status; in lenient
mode they skip it and count it. ``tally`` counts non-CD words by type (slots 0-15), skipped
words or events by reason (``SKIP + status``), and holds an error's details (``DETAIL``...).
"""

from __future__ import annotations

import importlib
import logging
import mmap
import os
import sys
from abc import abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .errors import (
    CoordinateError,
    EventFormatError,
    TimeOrderError,
    TruncatedError,
    UnknownWordError,
)
from .events import EVENT_DTYPE, TRIGGER_DTYPE
from .info import StreamInfo
from .raw_header import MAX_HEADER_BYTES, RawHeader, format_header, parse_header
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

# Decoder status codes; a lenient decoder counts the word in tally[SKIP + status] instead.
OK = 0
UNKNOWN_WORD = 1
OUTSIDE_GEOMETRY = 2
TIME_BACKWARDS = 3
NO_ROW = 4
NO_VECTOR_BASE = 5
BEFORE_TIME_HIGH = 6  # never an error: words before the first time base are skipped and counted

SKIP = 16  # tally[SKIP + reason]: words (or events) skipped
DETAIL = 24  # tally[DETAIL], tally[DETAIL + 1]: the failing event's (x, y), or times before/after
TALLY_SIZE = 32

STRICT = 1  # decoder flag bits
LEGACY = 2

SKIP_NAMES = {
    UNKNOWN_WORD: "unknown_word",
    OUTSIDE_GEOMETRY: "outside_geometry",
    TIME_BACKWARDS: "time_backwards",
    NO_ROW: "no_row_address",
    NO_VECTOR_BASE: "no_vector_base",
    BEFORE_TIME_HIGH: "before_first_time_high",
}

# Linux's MADV_POPULATE_READ (5.14+): map a window's pages in one call rather than fault them one by one
POPULATE_READ = 22 if sys.platform.startswith("linux") and hasattr(mmap.mmap, "madvise") else None

DEFAULT_CHUNK_BYTES = 4 << 20
DEFAULT_MAX_EVENTS = 1 << 20
MAX_TRIGGERS_PER_CHUNK = 1 << 16


@dataclass(frozen=True)
class Codec:
    """How one RAW encoding is decoded.

    ``word_bytes`` is the size of a file word; the decoder receives the words as an array of
    ``word_dtype`` (EVT 2.1 takes its 64-bit words as pairs of 32-bit halves).
    """

    name: str
    word_bytes: int
    word_dtype: str
    max_events_per_word: int
    decode: Callable
    initial_state: Callable[[], np.ndarray]
    type_names: dict[int, str]
    word_type: Callable[[int, bool], int]


CODEC_MODULES = {"evt2": "spikesight.io.evt2", "evt21": "spikesight.io.evt21", "evt3": "spikesight.io.evt3"}


def codec_for(encoding: str) -> Codec:
    """The codec of ``encoding`` ('evt2', 'evt21', 'evt3'), imported (and compiled) on first use."""
    return importlib.import_module(CODEC_MODULES[encoding]).CODEC


def _describe(codec: Codec, status: int, word: int, legacy: bool, detail: np.ndarray,
              width: int, height: int) -> tuple[type[EventFormatError], str]:
    hexword = f"0x{word:0{2 * codec.word_bytes}X}"
    if status == UNKNOWN_WORD:
        typ = codec.word_type(word, legacy)
        return UnknownWordError, f"{codec.name.upper()} word {hexword} has undefined type 0x{typ:X}"
    if status == OUTSIDE_GEOMETRY:
        x, y = int(detail[0]), int(detail[1])
        return CoordinateError, (f"event at x={x}, y={y} (word {hexword}) lies outside the {width}x{height} "
                                 "geometry: wrong geometry, or corrupt data")
    if status == TIME_BACKWARDS:
        return TimeOrderError, (f"time runs backwards (word {hexword}): from t={int(detail[0])} µs to "
                                f"t={int(detail[1])} µs, which the format's wrap rule does not allow")
    if status == NO_ROW:
        return EventFormatError, f"CD word {hexword} before any EVT_ADDR_Y (no current row)"
    if status == NO_VECTOR_BASE:
        return EventFormatError, f"vector word {hexword} before any VECT_BASE_X"
    return EventFormatError, f"decoder failed with status {status} at word {hexword}"


class RawReader(EventSource):
    """A Prophesee RAW file (EVT 2.0, 2.1 or 3.0), decoded chunk by chunk.

    ``strict=True`` raises on the first bad word (undefined type, event outside the geometry,
    time running backwards, truncated last word); ``strict=False`` skips such words and counts
    them in :attr:`stats`. ``geometry=(w, h)`` is used when the header gives none. Each chunk
    covers at most ``chunk_bytes`` of words and ``max_events`` events.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = True,
                 geometry: tuple[int, int] | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 max_events: int = DEFAULT_MAX_EVENTS) -> None:
        super().__init__(os.fspath(path), strict)
        with open(self.path, "rb") as f:
            head = f.read(MAX_HEADER_BYTES)
            self._file_size = os.fstat(f.fileno()).st_size
        self.header: RawHeader = parse_header(head, self.path, geometry)
        self.codec = codec_for(self.header.encoding)
        ws = self.codec.word_bytes
        per_word = self.codec.max_events_per_word
        if chunk_bytes < ws or max_events < per_word:
            raise ValueError(f"chunk_bytes must be >= {ws} and max_events >= {per_word}")
        self._chunk_words = chunk_bytes // ws
        self._max_events = int(max_events)
        self._flags = (STRICT if strict else 0) | (LEGACY if self.header.legacy_endianness else 0)
        width, height = self.header.geometry
        metadata = dict(self.header.fields)
        metadata["encoding"] = self.header.encoding
        metadata["geometry_source"] = self.header.geometry_source or ""
        if self.header.encoding == "evt21":
            metadata["evt21_endianness"] = "legacy" if self.header.legacy_endianness else "little"
        self.info = StreamInfo(width=width, height=height, format=self.header.encoding, path=self.path,
                               metadata=metadata)
        self._data_start = self.header.data_offset
        self._data_end = self._data_start + (self._file_size - self._data_start) // ws * ws
        with open(self.path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self._can_populate = POPULATE_READ is not None

    def _close(self) -> None:
        try:
            self._map.close()
        except BufferError:  # a decode in another thread still reads it: unmapped when collected
            log.debug("%s: the file map is in use; it closes when released", self.path)

    def _populate(self, offset: int, length: int) -> None:
        if self._can_populate:
            start = offset - offset % mmap.PAGESIZE
            try:
                self._map.madvise(POPULATE_READ, start, offset + length - start)
            except OSError:  # an older kernel: pages fault in as they are read
                self._can_populate = False

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        codec = self.codec
        ws = codec.word_bytes
        per_word = ws // np.dtype(codec.word_dtype).itemsize
        if checkpoint is None:
            offset, state = self._data_start, codec.initial_state()
        else:
            offset, state = checkpoint.offset, np.array(checkpoint.state, dtype=np.int64)
        width, height = self.info.width, self.info.height
        while offset < self._data_end:
            if self._map.closed:
                raise ValueError(f"{self.path}: the source is closed")
            nwords = min(self._chunk_words, (self._data_end - offset) // ws)
            start = Checkpoint(offset, tuple(int(v) for v in state))
            out = np.empty(min(self._max_events, nwords * codec.max_events_per_word), dtype=EVENT_DTYPE)
            trig = np.empty(min(MAX_TRIGGERS_PER_CHUNK, nwords), dtype=TRIGGER_DTYPE)
            tally = np.zeros(TALLY_SIZE, dtype=np.int64)
            self._populate(offset, nwords * ws)
            words = np.frombuffer(self._map, dtype=codec.word_dtype, count=nwords * per_word, offset=offset)
            used, n, nt, status = codec.decode(
                words, 0, state, out["x"], out["y"], out["p"], out["t"],
                trig["p"], trig["t"], trig["id"], tally, width, height, self._flags)
            del words  # no view of the map outlives a yield, so close() can always unmap it
            bad = offset + used * ws
            bad_word = int.from_bytes(self._map[bad : bad + ws], "little") if status != OK else 0
            if n < len(out) // 2:  # a mostly empty chunk gives its memory back (`out` has no other view)
                out.resize(n, refcheck=False)
            yield self._chunk(start, out[:n], trig[:nt], tally)
            if status != OK:
                cls, msg = _describe(codec, status, bad_word, self.header.legacy_endianness,
                                     tally[DETAIL:], width, height)
                raise cls(self.path, bad, msg)
            offset = bad
        if self._data_end < self._file_size:
            left = self._file_size - self._data_end
            if self.strict:
                raise TruncatedError(self.path, self._data_end,
                                     f"the data ends with {left} byte(s) of a {ws}-byte word")
            yield Chunk(Checkpoint(self._data_end, tuple(int(v) for v in state)),
                        np.empty(0, dtype=EVENT_DTYPE), skipped={"truncated_word": 1})

    def _chunk(self, start: Checkpoint, events: np.ndarray, triggers: np.ndarray, tally: np.ndarray) -> Chunk:
        other = {name: int(tally[k]) for k, name in self.codec.type_names.items() if tally[k]}
        skipped = {name: int(tally[SKIP + k]) for k, name in SKIP_NAMES.items() if tally[SKIP + k]}
        return Chunk(start, events, triggers.copy() if len(triggers) else None, skipped=skipped, other=other)


def open_raw(path: str | os.PathLike, *, strict: bool = True, geometry: tuple[int, int] | None = None,
             **kw) -> EventSource:
    """Open a Prophesee RAW file; the encoding (EVT 2.0, 2.1, 3.0) comes from its header.

    ``geometry=(w, h)`` serves files whose header gives no geometry and names no known sensor;
    ``chunk_bytes`` and ``max_events`` bound each decoded chunk.
    """
    return RawReader(path, strict=strict, geometry=geometry, **kw)


# -- writers ---------------------------------------------------------------------------------

MAX_COORD = 2048  # x and y are 11-bit fields in EVT 2.0 and 3.0
MAX_WRITE_T = 1 << 40  # µs (12.7 days); beyond, absolute clocks would need masses of bridging time highs


class RawWriter(EventWriter):
    """What the EVT 2.0 and EVT 3.0 writers share: header, checks, and the encoder state.

    Subclasses give the encoding, the trigger id range, the words each event or trigger may
    take at most, and numba encoders that append words and keep their state in ``_state``.
    ``header`` adds ``% key value`` lines to the file's header (e.g. ``{T0_KEY: t0}``, the
    camera-clock time that the times written are relative to; see :mod:`.raw_header`).
    """

    encoding: str
    word_dtype: str
    max_trigger_id: int

    def __init__(self, path: str | os.PathLike, width: int, height: int, *,
                 header: Mapping[str, object] | None = None) -> None:
        super().__init__(path, width, height)
        if not (0 < self.width <= MAX_COORD and 0 < self.height <= MAX_COORD):
            raise ValueError(f"{self.encoding.upper()} holds at most {MAX_COORD}x{MAX_COORD} pixels, "
                             f"not {self.width}x{self.height}")
        head = format_header(self.encoding, self.width, self.height, header)
        self._state = self._initial_state()
        self._f = open(self.path, "wb")  # closed in _finish
        self._f.write(head)

    @abstractmethod
    def _initial_state(self) -> np.ndarray:
        """The encoder state before any word is written."""

    @abstractmethod
    def _capacity(self, n: int, t_last: int) -> int:
        """An upper bound on the words that ``n`` events or triggers ending at ``t_last`` take."""

    @abstractmethod
    def _encode(self, events: np.ndarray, out: np.ndarray) -> int:
        """Append the words of ``events`` to ``out``; return how many."""

    @abstractmethod
    def _encode_triggers(self, triggers: np.ndarray, out: np.ndarray) -> int:
        """Append the words of ``triggers`` to ``out``; return how many."""

    def _check_time(self, t: np.ndarray) -> None:
        if int(t[0]) < 0 or int(t[-1]) >= MAX_WRITE_T:
            raise ValueError(f"{self.path}: RAW timestamps must lie in [0, 2**40) µs; "
                             "subtract an offset from absolute clock times")

    def _write(self, events: np.ndarray) -> None:
        self._check_time(events["t"])
        if not np.all((events["p"] == 0) | (events["p"] == 1)):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        out = np.empty(self._capacity(len(events), int(events["t"][-1])), dtype=self.word_dtype)
        self._f.write(out[: self._encode(events, out)].tobytes())

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append external triggers (TRIGGER_DTYPE: p in {0, 1}, t in µs, id) in time order,
        at or after the last event written; events written later must not be earlier."""
        triggers = np.asarray(triggers, dtype=TRIGGER_DTYPE)
        if not len(triggers):
            return
        t = triggers["t"]
        if (self._last_t is not None and t[0] < self._last_t) or bool(np.any(np.diff(t) < 0)):
            raise ValueError(f"{self.path}: triggers must come in time order, after the events written")
        self._check_time(t)
        if not (np.all((triggers["p"] == 0) | (triggers["p"] == 1))
                and np.all((triggers["id"] >= 0) & (triggers["id"] <= self.max_trigger_id))):
            raise ValueError(f"{self.path}: {self.encoding.upper()} triggers need p in {{0, 1}} "
                             f"and id in [0, {self.max_trigger_id}]")
        out = np.empty(self._capacity(len(triggers), int(t[-1])), dtype=self.word_dtype)
        self._f.write(out[: self._encode_triggers(triggers, out)].tobytes())
        self._last_t = int(t[-1])

    def flush(self) -> None:
        """Hand what is written so far to the operating system: a crash then keeps it."""
        self._f.flush()

    def _finish(self) -> None:
        self._f.close()
