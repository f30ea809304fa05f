"""Ticks for a log-scaled axis that stay readable on a short plot (no Qt).

pyqtgraph labels every minor tick of a log axis (2·10², 3·10², ... 9·10²), which overlap on a
plot a few lines high, such as the network panel's energy per window. :func:`log_ticks` picks at
most a few round values instead (1, 2 and 5 times a power of ten, then 1 and 5, then powers of
ten alone, then every few powers), with the view range that holds the data and those ticks.
"""

from __future__ import annotations

import math

#: The mantissas tried, finest first: each set is kept while its ticks fit.
_MANTISSAS: tuple[tuple[int, ...], ...] = ((1, 2, 5), (1, 5), (1,))


#: The narrowest view, as a factor: 1-2-5 values are at most 2.5x apart, so it holds two of them.
MIN_SPAN = 5.0


def log_ticks(lo: float, hi: float, max_ticks: int = 4,
              pad: float = 1.25) -> tuple[list[float], float, float]:
    """``(ticks, view_lo, view_hi)`` for positive data between ``lo`` and ``hi`` on a log axis.

    The view spans ``[lo / pad, hi * pad]``, widened about its middle to at least
    :data:`MIN_SPAN` (so a flat curve still gets ticks around it); the ticks are the round values
    inside it, at most ``max_ticks`` of them."""
    if max_ticks < 1:
        raise ValueError(f"max_ticks must be at least 1, got {max_ticks}")
    if not (lo > 0 and hi > 0 and math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"a log axis needs finite positive values, got {lo} and {hi}")
    lo, hi = min(lo, hi), max(lo, hi)
    v_lo, v_hi = lo / pad, hi * pad
    if v_hi / v_lo < MIN_SPAN:
        mid = math.sqrt(v_lo * v_hi)
        v_lo, v_hi = mid / math.sqrt(MIN_SPAN), mid * math.sqrt(MIN_SPAN)
    e_lo, e_hi = math.floor(math.log10(v_lo)), math.ceil(math.log10(v_hi))
    for mantissas in _MANTISSAS:
        ticks = [m * 10.0**e for e in range(e_lo, e_hi + 1) for m in mantissas if v_lo <= m * 10.0**e <= v_hi]
        if len(ticks) <= max_ticks:
            break
    if len(ticks) > max_ticks:  # many decades: every k-th power of ten
        k = math.ceil(len(ticks) / max_ticks)
        ticks = ticks[::k]
    return ticks, v_lo, v_hi


def tick_label(value: float) -> str:
    """A short label: ``200``, ``1.5k``, ``20k``, ``3M``, ``0.05``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"
