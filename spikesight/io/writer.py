"""The event sink every writer implements: a context manager fed event arrays in time order."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from .events import as_events


class EventWriter(ABC):
    """Writes events (and, where the format holds them, triggers) to ``path``.

    Events must come in non-decreasing time order across calls; a writer raises
    ``ValueError`` otherwise rather than write a file its own reader would reject.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        self.path = os.fspath(path)
        self.width = int(width)
        self.height = int(height)
        self.count = 0
        self._last_t: int | None = None
        self._closed = False

    def write(self, events: np.ndarray) -> None:
        """Append events (any array with x, y, p, t fields)."""
        events = as_events(events)
        if not len(events):
            return
        t = events["t"]
        if (self._last_t is not None and t[0] < self._last_t) or bool(np.any(np.diff(t) < 0)):
            raise ValueError(f"{self.path}: events must be written in non-decreasing time order")
        if int(events["x"].max()) >= self.width or int(events["y"].max()) >= self.height:
            raise ValueError(f"{self.path}: event outside the {self.width}x{self.height} geometry")
        self._write(events)
        self._last_t = int(t[-1])
        self.count += len(events)

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append external triggers; formats that cannot hold them raise."""
        raise ValueError(f"{self.path}: this format cannot store external triggers")

    @abstractmethod
    def _write(self, events: np.ndarray) -> None:
        """Encode and append a checked, time-ordered event array."""

    def _finish(self) -> None:  # noqa: B027 - optional hook
        """Write trailers/indexes and close the file."""

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finish()

    def __enter__(self) -> EventWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
