"""Random event windows for the property tests, and the window rule written out longhand."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from spikesight.io import make_events


@st.composite
def windows(draw, max_events: int = 60, max_t: int = 40, max_size: int = 7):
    """``(events, width, height, t0, t1)``: sorted events with many ties, on small sensors.

    Timestamps come from a short range so that events share timestamps and land on bin
    edges; coordinates reach the sensor's last row and column; ``t0``/``t1`` are None or
    fall anywhere around the events (possibly an empty window).
    """
    width = draw(st.integers(1, max_size))
    height = draw(st.integers(1, max_size))
    n = draw(st.integers(0, max_events))
    ts = sorted(draw(st.lists(st.integers(0, max_t), min_size=n, max_size=n)))
    xs = draw(st.lists(st.integers(0, width - 1), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, height - 1), min_size=n, max_size=n))
    ps = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
    events = make_events(xs, ys, ps, ts)
    t0 = draw(st.one_of(st.none(), st.integers(-3, max_t + 3)))
    t1 = draw(st.one_of(st.none(), st.integers(-3, max_t + 6)))
    if t0 is not None and t1 is not None and t1 < t0:
        t0, t1 = t1, t0
    return events, width, height, t0, t1


Row = tuple[int, int, int, int]


def ref_window(events: np.ndarray, t0: int | None, t1: int | None) -> tuple[list[Row], int, int]:
    """The events of [t0, t1) as (x, y, pol, t) tuples, pol in {0, 1}, and the bounds used."""
    rows = [(int(e["x"]), int(e["y"]), 1 if int(e["p"]) > 0 else 0, int(e["t"])) for e in events]
    if t0 is None:
        t0 = rows[0][3] if rows else (0 if t1 is None else t1)
        if t1 is not None:
            t0 = min(t0, t1)
    if t1 is None:
        t1 = max(rows[-1][3] + 1, t0) if rows else t0
    return [r for r in rows if t0 <= r[3] < t1], t0, t1
