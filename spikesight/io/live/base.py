"""The common base of live sources: a reader thread, a bounded queue, and typed disconnects.

A camera or network stream delivers events whether or not anyone reads them. Each
:class:`LiveSource` runs the back end in a reader thread of its own, which puts every batch
into a queue bounded by an event count. When the consumer falls behind and the queue is full,
the oldest batches go (the newest data wins, as a display wants) and every dropped event is
counted: in :attr:`LiveSource.dropped_events` and in ``stats.skipped["queue_overflow"]``, so a
recording can say exactly how many events it lost. Memory stays bounded whatever the rate.

Slicing is the one of every :class:`~spikesight.io.source.EventSource`: ``slices(delta_t=...)``
and ``slices(n_events=...)`` cut the camera's own timestamps (never shifted; ``info.start_time``
is the first event's time once it has arrived). A slice by time waits until an event at or after
its end has arrived, so slices are exact windows. Nothing is indexed, so nothing grows.

When the stream ends (a camera unplugged, a network peer gone, a back end that raises, no data
for ``stall_timeout`` seconds), the events already received are still handed out, and then the
source raises :class:`SourceDisconnected`, which carries why. :meth:`LiveSource.interrupt`, from
any thread, makes a read that waits for data return at once (as the end of the stream), so no
thread is ever left blocked on a silent camera.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit

from ..events import EVENT_DTYPE, as_events
from ..info import StreamInfo
from ..source import Checkpoint, Chunk, EventSlice, EventSource

log = logging.getLogger(__name__)

#: Events the queue holds before the oldest batches are dropped (16 bytes each: 128 MB).
DEFAULT_MAX_QUEUED_EVENTS = 8_000_000
#: How long :meth:`LiveSource.close` waits for the reader thread to let go of the back end.
JOIN_TIMEOUT_S = 5.0
#: A batch whose first event is this far (µs) behind the events before it means the camera's
#: clock was reset: the stream ends there rather than be cut into windows that go back in time.
CLOCK_RESET_US = 1_000_000
#: Trigger arrays kept for :attr:`LiveSource.triggers` (the newest ones).
MAX_TRIGGER_BATCHES = 1024


@njit(cache=True, nogil=True)
def _time_sorted(t: np.ndarray, last: int) -> bool:
    """Whether ``t`` never goes below ``last`` nor back in time (one pass, without the GIL)."""
    prev = last
    for i in range(t.shape[0]):
        if t[i] < prev:
            return False
        prev = t[i]
    return True


class LiveSourceError(OSError):
    """A live source could not be opened or read; names the back end (and the URI) and why."""

    def __init__(self, backend: str, message: str, uri: str | None = None) -> None:
        self.backend = backend
        self.uri = uri
        self.message = message
        super().__init__(f"{uri or backend}: {message}")


class DeviceNotFound(LiveSourceError):
    """The back end is installed but finds no camera (or not the one asked for)."""


class SourceDisconnected(LiveSourceError):
    """The stream ended after it was open: ``reason`` says why (unplugged, peer gone, stalled,
    the back end raised); ``events`` is how many events the source received before."""

    def __init__(self, backend: str, reason: str, uri: str | None = None, events: int = 0) -> None:
        self.reason = reason
        self.events = int(events)
        super().__init__(backend, f"disconnected: {reason}", uri)


class BackendUnavailable(ImportError):
    """The Python package a back end needs is not installed; the message says how to install it."""

    def __init__(self, backend: str, message: str) -> None:
        self.backend = backend
        self.detail = message
        super().__init__(f"{backend}: {message}")


@dataclass
class LiveBatch:
    """What a back end's reader hands over: events (time sorted), and what else it saw.

    ``triggers`` are :data:`~spikesight.io.events.TRIGGER_DTYPE` records; ``lost`` counts what
    the back end itself reports lost (USB overflows, dropped packets), by kind.
    """

    events: np.ndarray
    triggers: np.ndarray | None = None
    lost: dict[str, int] = field(default_factory=dict)


class LiveSource(EventSource):
    """An :class:`EventSource` fed by a reader thread; subclasses open the back end in
    ``__init__``, set ``self.info`` (with :meth:`_live_info`), call :meth:`_start`, and
    implement :meth:`_read` (and :meth:`_release`).

    ``max_queued_events`` bounds the queue; ``stall_timeout`` (s, ``None``: never) ends the
    stream when no event has arrived for that long while someone waits for data.
    """

    backend: ClassVar[str] = "live"
    live: ClassVar[bool] = True

    def __init__(self, uri: str, *, max_queued_events: int = DEFAULT_MAX_QUEUED_EVENTS,
                 stall_timeout: float | None = None) -> None:
        super().__init__(None)
        if max_queued_events < 1:
            raise ValueError(f"max_queued_events must be positive, got {max_queued_events}")
        self.uri = uri
        self.max_queued_events = int(max_queued_events)
        self.stall_timeout = stall_timeout
        self.received_events = 0
        self.dropped_events = 0
        self.dropped_batches = 0
        self._cond = threading.Condition()
        self._queue: deque[LiveBatch] = deque()
        self._queued = 0
        self._overflow: dict[str, int] = {}
        self._warned_order = False
        self._newest_t: int | None = None
        self._last_arrival = time.monotonic()
        self._stop = threading.Event()
        self._interrupted = False
        self._end: str | None = None
        self._disconnect: SourceDisconnected | None = None
        self._thread: threading.Thread | None = None
        self._seq = 0
        self._triggers = deque(maxlen=MAX_TRIGGER_BATCHES)  # type: ignore[assignment]

    # -- what a back end implements ------------------------------------------------------------

    def _read(self) -> Iterator[LiveBatch | np.ndarray | None]:
        """Read the back end in the reader thread: yield batches as they come (``None`` when
        there is nothing yet, so the thread can notice :meth:`stopping`); return when the
        stream ends; raise when the back end fails."""
        raise NotImplementedError

    def _release(self) -> None:
        """Close the back end (called in the reader thread, once, when it stops)."""

    def _end_reason(self) -> str:
        """Why the stream ended when :meth:`_read` returned by itself."""
        return "the stream ended"

    # -- helpers for back ends ------------------------------------------------------------------

    def _live_info(self, width: int, height: int, **metadata: object) -> StreamInfo:
        meta = {"backend": self.backend, "uri": self.uri}
        meta.update({k: str(v) for k, v in metadata.items() if v is not None and v != ""})
        return StreamInfo(width=int(width), height=int(height), format="live", path=self.uri, metadata=meta)

    def _start(self) -> None:
        """Start the reader thread (the back end is open and ``self.info`` set)."""
        for t in (np.zeros(2, dtype=EVENT_DTYPE)["t"], np.zeros(2, dtype=np.int64)):
            _time_sorted(t, 0)  # compiled here (strided and contiguous), not in the reader thread
        self._last_arrival = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"spikesight-live-{self.backend}", daemon=True)
        self._thread.start()

    def stopping(self) -> bool:
        """True once the source is closing: a back end's loop returns when it sees it."""
        return self._stop.is_set()

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless the source closes meanwhile; False when it does."""
        return not self._stop.wait(seconds)

    # -- the reader thread ---------------------------------------------------------------------

    def _run(self) -> None:
        reason = None
        try:
            for item in self._read():
                if self._stop.is_set():
                    break
                if item is None:
                    continue
                reason = self._put(item if isinstance(item, LiveBatch) else LiveBatch(item))
                if reason is not None:
                    break
            else:
                reason = self._end_reason()
        except Exception as exc:  # any failure of the back end ends the stream, with its text
            log.debug("%s: the back end raised", self.uri, exc_info=True)
            reason = f"{type(exc).__name__}: {exc}"
        finally:
            try:
                self._release()
            except Exception:
                log.exception("%s: closing the back end failed", self.uri)
            with self._cond:
                if self._end is None:  # a stall noticed by the consumer keeps its reason
                    self._end = reason or "closed"
                self._cond.notify_all()

    def _put(self, batch: LiveBatch) -> str | None:
        """Queue a batch (dropping the oldest past the bound); returns a reason to end, or None."""
        ev = batch.events = as_events(batch.events)
        if len(ev):
            ev, reason = self._in_order(ev, batch)
            if reason is not None:
                return reason
            batch.events = ev
        if not len(batch.events) and batch.triggers is None and not batch.lost:
            return None
        with self._cond:
            self._queue.append(batch)
            n = len(batch.events)
            self._queued += n
            if n:
                self.received_events += n
                self._newest_t = int(batch.events["t"][-1])
                self._last_arrival = time.monotonic()
            while self._queued > self.max_queued_events and len(self._queue) > 1:
                old = self._queue.popleft()
                self._queued -= len(old.events)
                self.dropped_events += len(old.events)
                self.dropped_batches += 1
                # what the dropped batch held or counted goes to the next batch handed out
                lost = dict(old.lost)
                lost["queue_overflow"] = lost.get("queue_overflow", 0) + len(old.events)
                if old.triggers is not None and len(old.triggers):
                    lost["queue_overflow_triggers"] = len(old.triggers)
                for k, v in lost.items():
                    if v:
                        self._overflow[k] = self._overflow.get(k, 0) + v
            self._cond.notify_all()
        return None

    def _in_order(self, ev: np.ndarray, batch: LiveBatch) -> tuple[np.ndarray, str | None]:
        """Keep time order: events behind the newest one are dropped and counted, and a jump
        back of more than :data:`CLOCK_RESET_US` ends the stream."""
        t = ev["t"]
        last = self._newest_t
        if last is not None and int(t[0]) < last - CLOCK_RESET_US:
            return ev, f"the camera's clock went back by {last - int(t[0])} µs (a timestamp reset)"
        if _time_sorted(t, np.iinfo(np.int64).min if last is None else last):
            return ev, None
        run = np.maximum.accumulate(t)
        if last is not None:
            run = np.maximum(run, last)
        keep = t >= run
        late = int(len(t) - np.count_nonzero(keep))
        if late:
            (log.debug if self._warned_order else log.warning)(
                "%s: %d events out of time order dropped (counted in stats.skipped)", self.uri, late)
            self._warned_order = True
            batch.lost["time_order"] = batch.lost.get("time_order", 0) + late
        return ev[keep], None

    # -- the consumer's side -------------------------------------------------------------------

    def _get(self) -> LiveBatch | None:
        """The next batch; waits for one. None when interrupted or closed; raises at the end."""
        with self._cond:
            while not self._queue:
                if self._interrupted or self._closed:
                    return None
                if self._end is not None:
                    raise SourceDisconnected(self.backend, self._end, self.uri, self.received_events)
                wait = 0.25
                if self.stall_timeout is not None:
                    idle = time.monotonic() - self._last_arrival
                    if idle >= self.stall_timeout:
                        self._stop.set()
                        self._end = f"no events for {self.stall_timeout:g} s"
                        continue
                    wait = min(wait, self.stall_timeout - idle)
                self._cond.wait(wait)
            batch = self._queue.popleft()
            self._queued -= len(batch.events)
            for k, v in self._overflow.items():
                batch.lost[k] = batch.lost.get(k, 0) + v
            self._overflow.clear()
            return batch

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        while (batch := self._get()) is not None:
            self._seq += 1
            ev = batch.events
            if len(ev) and self.info.start_time is None:
                self.info.start_time = int(ev["t"][0])
            yield Chunk(Checkpoint(self._seq), ev, triggers=batch.triggers, skipped=dict(batch.lost))

    def _record(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        """Count what each chunk lost and keep the newest triggers; index nothing (a live
        stream has no end, so an index would grow without bound)."""
        for chunk in chunks:
            if chunk.triggers is not None and len(chunk.triggers):
                self._triggers.append(chunk.triggers)
            for k, v in chunk.skipped.items():
                self.stats.skip(k, v)
            for k, v in chunk.other.items():
                self.stats.count_other(k, v)
            yield chunk

    def _pull(self) -> bool:
        try:
            return super()._pull()
        except SourceDisconnected as exc:
            self._disconnect = exc
            self._exhausted = True
            return False

    def _raise_if_disconnected(self) -> None:
        if self._disconnect is not None and not self._closed:
            exc = self._disconnect
            raise SourceDisconnected(exc.backend, exc.reason, exc.uri, exc.events)

    # -- public API ----------------------------------------------------------------------------

    def next_slice(self, delta_t: int | None = None, n_events: int | None = None) -> EventSlice | None:
        """The next slice of the camera's time (see :meth:`EventSource.next_slice`); waits for
        the events that complete it. Raises :class:`SourceDisconnected` once the stream has
        ended and every event received was handed out; ``None`` only after :meth:`interrupt`
        or :meth:`close`."""
        s = super().next_slice(delta_t, n_events)
        if s is None:
            self._raise_if_disconnected()
        return s

    def __iter__(self) -> Iterator[np.ndarray]:
        yield from super().__iter__()
        self._raise_if_disconnected()

    def interrupt(self) -> None:
        """Make a read that waits for data return now, as at the end of the stream (any thread)."""
        with self._cond:
            self._interrupted = True
            self._cond.notify_all()

    @property
    def queued_events(self) -> int:
        """Events received and not yet handed out (the reader's queue)."""
        with self._cond:
            return self._queued

    @property
    def backlog_us(self) -> int:
        """Camera time received but not yet handed out as slices (µs; 0 when caught up)."""
        newest, cursor = self._newest_t, self._cursor
        if newest is None or cursor is None:
            return 0
        return max(0, newest - cursor)

    @property
    def ended(self) -> str | None:
        """Why the reader thread stopped, or None while it runs."""
        with self._cond:
            return self._end

    def first_timestamp(self) -> int | None:
        """The first event's time once it has arrived (a live source never waits for it here)."""
        return self.info.start_time

    def seek(self, t: int) -> None:
        raise io.UnsupportedOperation(f"{self.uri}: a live source cannot seek")

    def rewind(self) -> None:
        raise io.UnsupportedOperation(f"{self.uri}: a live source cannot rewind")

    def read_window(self, t0: int, t1: int) -> np.ndarray:
        raise io.UnsupportedOperation(f"{self.uri}: a live source cannot read back in time")

    def scan(self) -> StreamInfo:
        raise io.UnsupportedOperation(f"{self.uri}: a live source has no end to scan to")

    def _close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
            self._queue.clear()
            self._queued = 0
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("%s: the back end did not stop within %.0f s; its thread is left behind",
                            self.uri, JOIN_TIMEOUT_S)
