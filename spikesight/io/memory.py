"""An event source over an array already in memory (tests, synthetic scenes, the GUI)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .events import as_events
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource


class ArraySource(EventSource):
    """Serve a time-sorted event array through the :class:`EventSource` interface.

    >>> from spikesight.io import make_events
    >>> src = ArraySource(make_events([0, 1], [0, 0], [1, 0], [5, 12]), 2, 1)
    >>> [len(s) for s in src.slices(delta_t=5)]
    [1, 1]
    """

    def __init__(self, events: np.ndarray, width: int, height: int, chunk_size: int = 1 << 20,
                 format: str = "memory") -> None:
        super().__init__(None)
        self._events = as_events(events)
        if len(self._events) and bool(np.any(np.diff(self._events["t"]) < 0)):
            raise ValueError("ArraySource needs events sorted by time")
        self._chunk_size = int(chunk_size)
        n = len(self._events)
        self.info = StreamInfo(
            width=int(width), height=int(height), format=format, event_count=n,
            start_time=int(self._events["t"][0]) if n else None,
            end_time=int(self._events["t"][-1]) if n else None,
        )

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        start = 0 if checkpoint is None else checkpoint.offset
        for i in range(start, len(self._events), self._chunk_size):
            yield Chunk(Checkpoint(i), self._events[i : i + self._chunk_size])

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        return Checkpoint(int(np.searchsorted(self._events["t"], t, side="left")))
