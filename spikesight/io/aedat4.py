"""iniVation AEDAT 4.0 files, read and written through dv-processing.

AEDAT 4.0 (DV, dv-processing) stores LZ4/ZSTD-compressed FlatBuffer packets per stream
(events, frames, IMU, triggers) and a table of every packet's time range at the end of the
file, so dv-processing answers "the events of [t0, t1)" without decoding the prefix. The
reader leans on that:

* The file is cut into a fixed grid of ``window_us`` windows starting at the file's first
  timestamp (any stream). Each window is one ``getEventsTimeRange`` call; a window holding
  more than ``chunk_events`` events is split at event timestamps into several chunks. A
  chunk's checkpoint offset is the µs time its piece starts at, so seeking to any time is
  one table look-up (:meth:`Aedat4Reader._checkpoint_for`) and the grid never changes.
* Timestamps are kept as in the file (µs since the Unix epoch, as DV writes them). Stretches
  with no data at all still cost one look-up per window (about 10 µs each).
* Frames, IMU samples and triggers of each window are counted in ``Chunk.other``
  (``frames``, ``imu``, ``trigger_<type>``). External signal edges are returned as triggers
  (``EXTERNAL_SIGNAL_RISING_EDGE`` -> p=1, ``..._FALLING_EDGE`` -> p=0, both id 0); DV's other
  trigger kinds (APS frame/exposure markers, pulses, generator edges, timestamp resets) are
  only counted.
* Truncated files are refused: dv-processing (2.0) will not open a file whose packet table
  is missing, so there is no lenient mode for them. Packets dv-processing fails to decode
  raise :class:`UnknownWordError` (lenient: the window is skipped and counted). Some corrupt
  packet contents crash dv-processing 2.0.4 itself (a segmentation fault), which no Python
  code can catch: check untrusted files in a subprocess.

dv-processing is imported only here, on first use; without it the reader and writer raise
``ImportError`` asking for ``pip install 'spikesight[dv]'``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import numpy as np

from .errors import (
    CoordinateError,
    EmptyFileError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnknownWordError,
)
from .events import TRIGGER_DTYPE, empty_events, from_dv_structured
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

VERSION_LINE = b"#!AER-DAT4.0"
DEFAULT_WINDOW_US = 20_000
# dv's TriggerType values for the two external signal edges: the only triggers returned.
_RISING, _FALLING = 1, 2


def _dv():
    """The dv_processing module, or an ImportError that says how to install it."""
    try:
        import dv_processing
    except ImportError as exc:
        raise ImportError(
            "AEDAT 4.0 files need dv-processing: pip install 'spikesight[dv]' (or pip install dv-processing)"
        ) from exc
    return dv_processing


def _dv_message(exc: BaseException) -> str:
    """dv-processing's error text without its C++ stack trace."""
    text = str(exc)
    if "Error info:" in text:
        text = text.split("Error info:", 1)[1]
    text = text.split("Stacktrace:", 1)[0].strip()
    return text.splitlines()[0].strip() if text else repr(exc)


def _check_version_line(path: str) -> int:
    """Raise unless ``path`` starts with the AEDAT 4.0 version line; returns the file size."""
    size = os.path.getsize(path)
    if size == 0:
        raise EmptyFileError(path, 0, "the file is empty")
    with open(path, "rb") as f:
        head = f.read(len(VERSION_LINE))
    if head != VERSION_LINE:
        raise HeaderError(path, 0, f"not an AEDAT 4.0 file: it starts with {head!r}, not {VERSION_LINE!r}")
    return size


class Aedat4Reader(EventSource):
    """Stream the events (and external triggers) of an AEDAT 4.0 file through dv-processing.

    ``window_us`` is the time grid of the decoding windows (µs); ``chunk_events`` bounds the
    events per chunk. ``strict=False`` drops events outside the geometry or running backwards
    in time, and counts them, instead of raising.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = True, window_us: int = DEFAULT_WINDOW_US,
                 chunk_events: int = 1 << 20) -> None:
        dv = _dv()
        path = os.fspath(path)
        super().__init__(path, strict)
        if window_us <= 0 or chunk_events <= 0:
            raise ValueError("window_us and chunk_events must be positive")
        self._window = int(window_us)
        self._chunk = int(chunk_events)
        size = _check_version_line(path)
        try:
            rec = dv.io.MonoCameraRecording(path)
        except RuntimeError as exc:
            msg = _dv_message(exc)
            if "truncated" in msg or "End-Of-File" in msg:
                raise TruncatedError(path, size, f"dv-processing cannot open it: {msg}") from None
            raise HeaderError(path, 0, f"dv-processing cannot open it: {msg}") from None
        self._rec = rec
        names = list(rec.getStreamNames())
        self._events_stream = next((n for n in names if rec.isStreamOfEventType(n)), None)
        if self._events_stream is None:
            raise HeaderError(path, 0, f"the file has no event stream (streams: {names})")
        self._frame_streams = [n for n in names if rec.isStreamOfFrameType(n)]
        self._imu_streams = [n for n in names if rec.isStreamOfImuType(n)]
        self._trigger_streams = [n for n in names if rec.isStreamOfTriggerType(n)]
        resolution = rec.getEventResolution()
        if resolution is None:
            raise GeometryError(path, None, "the event stream has no resolution")
        width, height = (int(v) for v in resolution)
        t_first, t_last = (int(v) for v in rec.getTimeRange())
        self._t_first, self._t_last = t_first, t_last
        metadata = {"camera": str(rec.getCameraName()), "streams": ",".join(names)}
        if t_first <= t_last:
            metadata["file_time_range_us"] = f"{t_first}-{t_last}"
        self.info = StreamInfo(width=width, height=height, format="aedat4", path=path, metadata=metadata)

    def _close(self) -> None:
        self._rec = None  # dv-processing closes the file when its recording object goes

    # -- decoding ------------------------------------------------------------------------

    def _window_start(self, t: int) -> int:
        """Start of the grid window holding time ``t``."""
        return self._t_first + (t - self._t_first) // self._window * self._window

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        if self._t_first > self._t_last:
            return None
        return Checkpoint(self._window_start(min(max(int(t), self._t_first), self._t_last + 1)))

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        if self._t_first > self._t_last:
            return
        resume = self._t_first if checkpoint is None else checkpoint.offset
        ws = self._window_start(resume)
        while ws <= self._t_last:
            we = ws + self._window
            events, triggers, other, skipped = self._read_window(ws, we)
            for j, (start, lo, hi) in enumerate(self._split(events, ws)):
                if start < resume:
                    continue
                first = j == 0
                if hi == lo and not (first and (other or skipped or len(triggers))):
                    continue
                yield Chunk(Checkpoint(start), events[lo:hi], triggers=triggers if first else None,
                            skipped=skipped if first else {}, other=other if first else {})
            ws = we

    def _read_window(self, ws: int, we: int) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[str, int]]:
        """Events, external triggers, other counts and skip counts of ``[ws, we)``.

        dv-processing's own decoding errors (corrupt packets) become :class:`UnknownWordError`,
        or, lenient, an empty window counted as ``undecodable_window``.
        """
        try:
            events = self._window_events(ws, we)
            triggers, other = self._window_other(ws, we)
        except (RuntimeError, IndexError, ValueError) as exc:
            message = f"dv-processing cannot decode the packets of [{ws}, {we}) µs: {_dv_message(exc)}"
            if self.strict:
                raise UnknownWordError(self.path, None, message) from None
            log.warning("%s: %s (skipped)", self.path, message)
            return empty_events(), np.empty(0, dtype=TRIGGER_DTYPE), {}, {"undecodable_window": 1}
        events, skipped = self._check(events, ws)
        return events, triggers, other, skipped

    def _window_events(self, ws: int, we: int) -> np.ndarray:
        store = self._rec.getEventsTimeRange(ws, we, self._events_stream)
        if store is None or store.size() == 0:
            return empty_events()
        return from_dv_structured(store.numpy())

    def _window_other(self, ws: int, we: int) -> tuple[np.ndarray, dict[str, int]]:
        """External triggers of ``[ws, we)`` and the counts of everything else there."""
        other: dict[str, int] = {}
        for name in self._frame_streams:
            n = len(self._rec.getFramesTimeRange(ws, we, name) or [])
            if n:
                other["frames"] = other.get("frames", 0) + n
        for name in self._imu_streams:
            n = len(self._rec.getImuTimeRange(ws, we, name) or [])
            if n:
                other["imu"] = other.get("imu", 0) + n
        kept = []
        for name in self._trigger_streams:
            for trig in self._rec.getTriggersTimeRange(ws, we, name) or []:
                kind = int(trig.type)
                if kind in (_RISING, _FALLING):
                    kept.append((1 if kind == _RISING else 0, int(trig.timestamp), 0))
                else:
                    key = f"trigger_{trig.type.name.lower()}"
                    other[key] = other.get(key, 0) + 1
        triggers = np.array(sorted(kept, key=lambda r: r[1]), dtype=TRIGGER_DTYPE)
        return triggers, other

    def _split(self, events: np.ndarray, ws: int) -> list[tuple[int, int, int]]:
        """Cut a window's events into ``(start_time, lo, hi)`` pieces of at most ``chunk_events``
        events (more only where a single timestamp holds more); the first piece starts at ``ws``."""
        t = events["t"]
        n = len(events)
        cuts = [(ws, 0)]
        lo = 0
        while lo + self._chunk < n:
            k = lo + self._chunk
            cut = int(np.searchsorted(t, t[k], side="left"))
            if cut <= lo:
                cut = int(np.searchsorted(t, t[k], side="right"))
            if cut >= n:
                break
            cuts.append((int(t[cut]), cut))
            lo = cut
        ends = [c for _, c in cuts[1:]] + [n]
        return [(start, lo, hi) for (start, lo), hi in zip(cuts, ends, strict=True)]

    def _check(self, events: np.ndarray, ws: int) -> tuple[np.ndarray, dict[str, int]]:
        """Events outside the geometry or running backwards in time: raise (strict), or drop
        them and count them (lenient)."""
        if not len(events):
            return events, {}
        outside = (events["x"] >= self.info.width) | (events["y"] >= self.info.height)
        t = events["t"]
        if not outside.any() and bool(np.all(t[1:] >= t[:-1])):
            return events, {}
        back = np.zeros(len(events), dtype=bool)
        back[1:] = t[1:] < np.maximum.accumulate(t)[:-1]
        if self.strict:
            if outside.any():
                i = int(np.argmax(outside))
                xy = f"({int(events['x'][i])}, {int(events['y'][i])})"
                raise CoordinateError(self.path, None, f"event at t={int(t[i])} µs lies at {xy}, outside the "
                                      f"{self.info.width}x{self.info.height} sensor")
            i = int(np.argmax(back))
            raise TimeOrderError(self.path, None,
                                 f"time runs backwards to {int(t[i])} µs in the window starting at {ws} µs")
        keep = ~outside
        kept_t = t[keep]
        later = np.ones(len(kept_t), dtype=bool)
        later[1:] = kept_t[1:] >= np.maximum.accumulate(kept_t)[:-1]
        idx = np.flatnonzero(keep)[later]
        skipped = {k: v for k, v in (("outside_geometry", int(outside.sum())),
                                     ("time_backwards", int((~later).sum()))) if v}
        log.warning("%s: window starting at %d µs: skipped %s", self.path, ws, skipped)
        return events[idx], skipped


class Aedat4Writer(EventWriter):
    """Write events (and external triggers) to an AEDAT 4.0 file with dv-processing's writer.

    The file gets an event stream of ``width`` x ``height`` and, with ``triggers=True``, a
    trigger stream. ``compression`` is one of dv's ``CompressionType`` names (``LZ4``,
    ``LZ4_HIGH``, ``ZSTD``, ``ZSTD_HIGH``, ``NONE``). Triggers (:data:`TRIGGER_DTYPE`) must have
    id 0: p=1 is written as an external signal rising edge, p=0 as a falling edge.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, *, camera_name: str = "spikesight",
                 compression: str = "LZ4", triggers: bool = True) -> None:
        dv = _dv()
        super().__init__(path, width, height)
        try:
            codec = getattr(dv.CompressionType, compression.upper())
        except AttributeError:
            raise ValueError(f"unknown compression {compression!r}; dv-processing has "
                             f"{list(dv.CompressionType.__members__)}") from None
        config = dv.io.MonoCameraWriter.Config(camera_name, codec)
        config.addEventStream((self.width, self.height))
        if triggers:
            config.addTriggerStream()
        self._dv = dv
        self._has_triggers = triggers
        self._last_trigger_t: int | None = None
        try:
            self._out = dv.io.MonoCameraWriter(self.path, config)
        except RuntimeError as exc:
            raise OSError(f"{self.path}: dv-processing cannot create it: {_dv_message(exc)}") from None

    def _write(self, events: np.ndarray) -> None:
        # dv-processing 2.0 has no bulk constructor for EventStore; push_back runs at ~2-3 M events/s.
        # A fresh store is built per call: writing a *slice* of a store writes its whole packets.
        store = self._dv.EventStore()
        push = store.push_back
        for t, x, y, p in zip(events["t"].tolist(), events["x"].tolist(), events["y"].tolist(),
                              (events["p"] > 0).tolist(), strict=True):
            push(t, x, y, p)
        self._out.writeEvents(store)

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append external signal edges (id 0; p=1 rising, p=0 falling), in time order."""
        if not self._has_triggers:
            raise ValueError(f"{self.path}: opened with triggers=False")
        triggers = np.asarray(triggers)
        if not len(triggers):
            return
        t = triggers["t"].astype(np.int64)
        if (self._last_trigger_t is not None and t[0] < self._last_trigger_t) or bool(np.any(np.diff(t) < 0)):
            raise ValueError(f"{self.path}: triggers must be written in non-decreasing time order")
        if np.any(triggers["id"] != 0) or np.any((triggers["p"] != 0) & (triggers["p"] != 1)):
            raise ValueError(f"{self.path}: only external signal edges can be written: id 0, p 0 or 1")
        rising = self._dv.TriggerType.EXTERNAL_SIGNAL_RISING_EDGE
        falling = self._dv.TriggerType.EXTERNAL_SIGNAL_FALLING_EDGE
        vec = self._dv.TriggerPacket.TriggersVector([
            self._dv.Trigger(tt, rising if pp else falling)
            for tt, pp in zip(t.tolist(), triggers["p"].tolist(), strict=True)
        ])
        packet = self._dv.TriggerPacket()
        packet.elements = vec
        self._out.writeTriggerPacket(packet)
        self._last_trigger_t = int(t[-1])

    def _finish(self) -> None:
        # dv-processing writes the packet table and closes the file when its writer is destroyed.
        self._out = None
