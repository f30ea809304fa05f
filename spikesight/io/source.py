"""The streaming event source every reader implements.

A reader only says how to decode its file chunk by chunk from a checkpoint; this base
class turns that into Metavision-style slicing (by duration, by count, or both), seeking
through a time index built on the first pass (so a seek never decodes the whole prefix
twice), windows read by time, and bounded memory whatever the file size.
"""

from __future__ import annotations

import bisect
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from .events import TRIGGER_DTYPE, concat_events
from .info import DecodeStats, StreamInfo

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Checkpoint:
    """Where decoding can resume: a position in the data plus the decoder state there.

    ``offset`` grows with the position (a byte offset, or an event index for container
    formats); ``state`` is whatever the reader's decoder needs to resume (time high bits,
    current row, ...), opaque to the base class.
    """

    offset: int
    state: Any = None


@dataclass
class Chunk:
    """One decoded piece of a file: its events and what else it held.

    ``events`` must be a fresh array (slices handed to users are views into it).
    """

    checkpoint: Checkpoint
    events: np.ndarray
    triggers: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)


class EventSlice(NamedTuple):
    """A slice of the stream: the events of ``[t_start, t_end)`` (µs)."""

    t_start: int
    t_end: int
    events: np.ndarray


class _Pending:
    """Decoded events waiting to be handed out, kept as a list of pieces (no quadratic copies)."""

    def __init__(self) -> None:
        self.pieces: list[np.ndarray] = []
        self.size = 0

    def push(self, ev: np.ndarray) -> None:
        if len(ev):
            self.pieces.append(ev)
            self.size += len(ev)

    def clear(self) -> None:
        self.pieces.clear()
        self.size = 0

    def last_t(self) -> int | None:
        return int(self.pieces[-1]["t"][-1]) if self.pieces else None

    def first_t(self) -> int | None:
        return int(self.pieces[0]["t"][0]) if self.pieces else None

    def count_before(self, t: int) -> int:
        """How many pending events have a timestamp below ``t`` (time sorted)."""
        n = 0
        for piece in self.pieces:
            k = int(np.searchsorted(piece["t"], t, side="left"))
            n += k
            if k < len(piece):
                break
        return n

    def take(self, n: int) -> np.ndarray:
        """Remove and return the first ``n`` events."""
        out = []
        need = n
        while need > 0:
            head = self.pieces[0]
            if len(head) <= need:
                out.append(head)
                self.pieces.pop(0)
                need -= len(head)
            else:
                out.append(head[:need])
                self.pieces[0] = head[need:]
                need = 0
        self.size -= n
        return concat_events(out)


class EventSource(ABC):
    """A stream of events, read in bounded chunks; a context manager.

    Subclasses set ``self.info`` in ``__init__`` and implement :meth:`_chunks_from`.
    Readers with random access by time (fixed-size records, stored indexes) also override
    :meth:`_checkpoint_for`. Slicing follows Metavision's EventsIterator: ``delta_t`` windows
    start at the first event (or at the last :meth:`seek` time) and come back even when empty.
    """

    info: StreamInfo

    def __init__(self, path: str | None = None, strict: bool = True) -> None:
        self.path = path
        self.strict = strict
        self.stats = DecodeStats()
        self._index_off: list[int] = []
        self._index_t: list[int] = []
        self._index_cp: list[Checkpoint] = []
        self._seen: set[int] = set()
        self._complete = False
        self._triggers: list[np.ndarray] = []
        self._chunk_iter: Iterator[Chunk] | None = None
        self._pending = _Pending()
        self._cursor: int | None = None
        self._window_end: int | None = None
        self._drop_before: int | None = None
        self._exhausted = False
        self._closed = False

    # -- what a reader implements -------------------------------------------------------

    @abstractmethod
    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        """Decode from ``checkpoint`` (``None``: the start of the data) to the end, chunk by chunk."""

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        """A checkpoint at or before the first event with timestamp ``>= t``.

        The default uses the time index built while decoding; beyond its end it decodes
        forward from the last indexed chunk, extending the index as it goes.
        """
        if not self._complete and (not self._index_t or self._index_t[-1] < t):
            start = self._index_cp[-1] if self._index_cp else None
            for chunk in self._record(self._chunks_from(start)):
                if len(chunk.events) and int(chunk.events["t"][-1]) >= t:
                    break
        if not self._index_t:
            return None
        k = int(np.searchsorted(np.asarray(self._index_t), t, side="right")) - 1
        return self._index_cp[max(k, 0)]

    def _close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles (override when the reader holds any)."""

    # -- bookkeeping ---------------------------------------------------------------------

    def _record(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """Pass chunks through, indexing and counting each chunk the first time it is decoded."""
        for chunk in chunks:
            off = chunk.checkpoint.offset
            if off not in self._seen:
                self._seen.add(off)
                if len(chunk.events):
                    k = bisect.bisect_left(self._index_off, off)
                    self._index_off.insert(k, off)
                    self._index_t.insert(k, int(chunk.events["t"][0]))
                    self._index_cp.insert(k, chunk.checkpoint)
                if chunk.triggers is not None and len(chunk.triggers):
                    self._triggers.append(chunk.triggers)
                for k, v in chunk.skipped.items():
                    self.stats.skip(k, v)
                for k, v in chunk.other.items():
                    self.stats.count_other(k, v)
            yield chunk
        self._complete = True  # reached only when a pass ran to the end of the data

    # -- public API ----------------------------------------------------------------------

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._chunk_iter = None
            self._pending.clear()
            self._close()

    @property
    def triggers(self) -> np.ndarray:
        """External trigger events seen so far (all of them after a full pass or :meth:`scan`)."""
        if not self._triggers:
            return np.empty(0, dtype=TRIGGER_DTYPE)
        trig = np.concatenate(self._triggers)
        return trig[np.argsort(trig["t"], kind="stable")]

    @property
    def current_time(self) -> int | None:
        """Start of the next slice in µs (Metavision's ``get_current_time``)."""
        return self._cursor

    def _pull(self) -> bool:
        """Decode one more chunk into the pending buffer; False at the end of the data."""
        if self._exhausted:
            return False
        if self._chunk_iter is None:
            self._chunk_iter = self._record(self._chunks_from(None))
        for chunk in self._chunk_iter:
            ev = chunk.events
            if self._drop_before is not None and len(ev):
                if ev["t"][0] < self._drop_before:
                    ev = ev[np.searchsorted(ev["t"], self._drop_before, side="left") :]
                if len(ev):
                    self._drop_before = None
            self._pending.push(ev)
            if len(ev):
                return True
        self._exhausted = True
        return False

    def first_timestamp(self) -> int | None:
        """The timestamp of the first event (decodes only the first chunk(s))."""
        if self.info.start_time is None:
            for chunk in self._record(self._chunks_from(None)):
                if len(chunk.events):
                    self.info.start_time = int(chunk.events["t"][0])
                    break
        return self.info.start_time

    def seek(self, t: int) -> None:
        """Move so the next slice starts at ``t`` µs (its first event is the first with ``t' >= t``)."""
        t = int(t)
        cp = self._checkpoint_for(t)
        self._pending.clear()
        self._exhausted = False
        self._cursor = t
        self._drop_before = t
        self._window_end = None
        self._chunk_iter = self._record(self._chunks_from(cp))

    def rewind(self) -> None:
        """Back to the start of the stream."""
        self._pending.clear()
        self._exhausted = False
        self._cursor = None
        self._drop_before = None
        self._window_end = None
        self._chunk_iter = None

    def next_slice(self, delta_t: int | None = None, n_events: int | None = None) -> EventSlice | None:
        """The next slice, or ``None`` at the end of the stream.

        ``delta_t`` (µs): the slice covers ``[cursor, cursor + delta_t)``, empty or not.
        ``n_events``: at most that many events. Both: the slice ends at whichever comes first,
        and the next one continues in the same ``delta_t`` window (Metavision's mixed mode).
        """
        if delta_t is None and n_events is None:
            raise ValueError("give delta_t (µs), n_events, or both")
        if delta_t is not None and delta_t <= 0:
            raise ValueError(f"delta_t must be positive, got {delta_t}")
        if n_events is not None and n_events <= 0:
            raise ValueError(f"n_events must be positive, got {n_events}")
        if self._cursor is None:
            if not self._pending.size and not self._pull():
                return None
            self._cursor = self._pending.first_t()
            self._window_end = None
        t0 = self._cursor
        if delta_t is not None:
            win_end = self._window_end
            if win_end is None or win_end <= t0:
                win_end = t0 + delta_t
            while (self._pending.last_t() is None or self._pending.last_t() < win_end) and (
                n_events is None or self._pending.size <= n_events
            ):
                if not self._pull():
                    break
            if self._exhausted and not self._pending.size:
                return None
            n = self._pending.count_before(win_end)
            if n_events is not None and n > n_events:
                ev = self._pending.take(n_events)
                self._cursor = self._count_cut_end(ev)
                self._window_end = win_end
                return EventSlice(t0, self._cursor, ev)
            ev = self._pending.take(n)
            self._cursor = win_end
            self._window_end = None
            return EventSlice(t0, win_end, ev)
        while self._pending.size <= n_events:
            if not self._pull():
                break
        if not self._pending.size:
            return None
        ev = self._pending.take(min(n_events, self._pending.size))
        self._cursor = self._count_cut_end(ev)
        return EventSlice(t0, self._cursor, ev)

    def _count_cut_end(self, ev: np.ndarray) -> int:
        """End of a slice cut by count: just after its last event, unless the next event
        shares that timestamp (then both slices touch at it)."""
        end = int(ev["t"][-1]) + 1
        if self._pending.size:
            end = min(end, self._pending.first_t())
        return end

    def windows(self, delta_t: int | None = None, n_events: int | None = None) -> Iterator[EventSlice]:
        """Slices with their time bounds, from the current position to the end."""
        while (s := self.next_slice(delta_t, n_events)) is not None:
            yield s

    def slices(self, delta_t: int | None = None, n_events: int | None = None) -> Iterator[np.ndarray]:
        """Event arrays by duration (µs), by count, or both; see :meth:`next_slice`."""
        for s in self.windows(delta_t, n_events):
            yield s.events

    def __iter__(self) -> Iterator[np.ndarray]:
        """Chunks of events as decoded, from the current position (no slicing)."""
        while self._pending.size or self._pull():
            yield self._pending.take(self._pending.size)

    def read_window(self, t0: int, t1: int) -> np.ndarray:
        """All events with ``t0 <= t < t1``; does not move the slicing position."""
        out = []
        for chunk in self._record(self._chunks_from(self._checkpoint_for(t0))):
            ev = chunk.events
            if not len(ev):
                continue
            if int(ev["t"][0]) >= t1:
                break
            tt = ev["t"]
            out.append(ev[(tt >= t0) & (tt < t1)])
        return concat_events(out)

    def scan(self) -> StreamInfo:
        """One full pass: completes the time index, the triggers and the stats, and fills
        ``info.start_time``, ``end_time`` and ``event_count``. Memory stays bounded."""
        if not self._complete or self.info.event_count is None or self.info.end_time is None:
            count, first, last = 0, None, None
            for chunk in self._record(self._chunks_from(None)):
                ev = chunk.events
                if len(ev):
                    count += len(ev)
                    if first is None:
                        first = int(ev["t"][0])
                    last = int(ev["t"][-1]) if last is None else max(last, int(ev["t"][-1]))
            self.info.event_count = count
            if first is not None:
                self.info.start_time = first
                self.info.end_time = last
        return self.info
