"""The event model shared by every source, sink and representation.

Events are numpy structured arrays of :data:`EVENT_DTYPE`: x, y in pixels, p in {0, 1}
(OFF, ON), t in microseconds as int64. This is the memory layout of Metavision's EventCD,
so arrays pass to and from the Metavision SDK and HDF5 without copies. External triggers
use :data:`TRIGGER_DTYPE` (Metavision's EventExtTrigger layout).
"""

from __future__ import annotations

import numpy as np

# Aligned like the C structs of Metavision's EventCD (x@0, y@2, p@4, t@8; 16 bytes) and
# EventExtTrigger (p@0, t@8, id@16; 24 bytes), as its HDF5 files store them.
EVENT_DTYPE = np.dtype([("x", "<u2"), ("y", "<u2"), ("p", "<i2"), ("t", "<i8")], align=True)
TRIGGER_DTYPE = np.dtype([("p", "<i2"), ("t", "<i8"), ("id", "<i2")], align=True)


def empty_events(n: int = 0) -> np.ndarray:
    """An uninitialised event array of length ``n`` (zeros when ``n == 0``)."""
    return np.empty(n, dtype=EVENT_DTYPE)


def concat_events(pieces: list[np.ndarray]) -> np.ndarray:
    """Concatenate event arrays as raw bytes (several times faster than a structured concat)."""
    if not pieces:
        return np.empty(0, dtype=EVENT_DTYPE)
    if len(pieces) == 1:
        return pieces[0]
    dtype = pieces[0].dtype
    return np.concatenate([np.ascontiguousarray(p).view(np.uint8) for p in pieces]).view(dtype)


def make_events(x, y, p, t) -> np.ndarray:
    """Build an event array from four equally long columns.

    >>> ev = make_events([1, 2], [3, 4], [0, 1], [10, 20])
    >>> ev["t"].tolist()
    [10, 20]
    """
    x = np.asarray(x)
    n = x.shape[0]
    ev = np.empty(n, dtype=EVENT_DTYPE)
    ev["x"] = x
    ev["y"] = y
    ev["p"] = p
    ev["t"] = t
    return ev


def as_events(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` as :data:`EVENT_DTYPE`, converting field types when they differ."""
    if arr.dtype == EVENT_DTYPE:
        return arr
    names = arr.dtype.names or ()
    missing = {"x", "y", "p", "t"} - set(names)
    if missing:
        raise ValueError(f"event array lacks fields {sorted(missing)}; has {names}")
    return make_events(arr["x"], arr["y"], arr["p"], arr["t"])


def to_dv_arrays(events: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split events into dv-processing's ``(timestamp, x, y, polarity)`` columns.

    dv-processing's ``EventStore`` uses int64 timestamps in µs, int16 x/y and bool polarity.
    """
    return (
        events["t"].astype(np.int64),
        events["x"].astype(np.int16),
        events["y"].astype(np.int16),
        events["p"].astype(bool),
    )


def from_dv_arrays(timestamp, x, y, polarity) -> np.ndarray:
    """Build events from dv-processing's ``(timestamp, x, y, polarity)`` columns."""
    return make_events(x, y, np.asarray(polarity).astype(np.int16), timestamp)


def from_dv_structured(arr: np.ndarray) -> np.ndarray:
    """Convert dv-processing's structured ``EventStore.numpy()`` array to events."""
    return make_events(arr["x"], arr["y"], arr["polarity"].astype(np.int16), arr["timestamp"])
