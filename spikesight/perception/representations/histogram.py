"""RVT's stacked histogram: event counts per polarity and time bin, clamped.

Gehrig & Scaramuzza, "Recurrent Vision Transformers for Object Detection with Event
Cameras", CVPR 2023. RVT's Gen1/Gen4 preprocessing (uzh-rpg/RVT, MIT licence,
``data/utils/representations.py`` and ``scripts/genx/conf_preprocess``) uses 50 ms windows,
10 bins and a count cutoff of 10, stored as uint8; its channel ``c = p * bins + b``, so the
``bins`` OFF channels come first, then the ``bins`` ON channels, each oldest bin first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from .binning import COUNT, SATURATE, accumulate_counts, bin_starts
from .window import check_choice, check_geometry, check_positive, columns, raise_on_bad_events, select_window

Span = Literal["window", "events"]
Normalise = Literal["unit", "log"] | None
SPANS: tuple[Span, ...] = ("window", "events")
NORMALISE: tuple[Normalise, ...] = (None, "unit", "log")
DTYPES = ("float32", "uint8")


def stacked_histogram(
    events: np.ndarray,
    width: int,
    height: int,
    bins: int = 10,
    cutoff: int | None = 10,
    span: Span = "window",
    normalise: Normalise = None,
    dtype: str = "float32",
    t0: int | None = None,
    t1: int | None = None,
) -> torch.Tensor:
    """The events of ``[t0, t1)`` as a ``[2 * bins, H, W]`` histogram. See :class:`StackedHistogram`."""
    _check(width, height, bins, cutoff, span, normalise, dtype)
    ev, t0, t1 = select_window(events, t0, t1)
    x, y, p, t = columns(ev)
    limit = float(cutoff) if cutoff is not None else (255.0 if dtype == "uint8" else np.inf)
    # Counts that fit a byte are made in a uint8 array (a quarter of the cache footprint of
    # float32, which decides the speed of the random writes), then widened in one pass.
    compact = dtype == "uint8" or limit <= 255
    counts = np.zeros((2 * bins, height, width), dtype=np.uint8 if compact else np.float32)
    if span == "window":
        origin, length = t0, max(t1 - t0, 1)
    else:
        origin = int(t[0]) if len(t) else t0
        length = max(int(t[-1]) - origin, 1) if len(t) else 1
    grow = COUNT if limit == np.inf else SATURATE
    hw = height * width
    starts = bin_starts(t, origin, length, bins)
    outside, unsorted = accumulate_counts(
        x, y, p, t, counts.reshape(-1), width, height, starts, hw, bins * hw, grow, limit
    )
    raise_on_bad_events(outside, unsorted, width, height)
    out = counts if dtype == "uint8" else counts.astype(np.float32, copy=False)
    if normalise == "unit":
        out /= np.float32(cutoff)
    elif normalise == "log":
        np.log1p(out, out=out)
        out /= np.float32(np.log1p(cutoff))
    return torch.from_numpy(out)


def _check(width, height, bins, cutoff, span, normalise, dtype) -> None:
    check_geometry(width, height)
    check_positive("bins", bins)
    check_choice("span", span, SPANS)
    check_choice("normalise", normalise, NORMALISE)
    check_choice("dtype", dtype, DTYPES)
    if cutoff is not None:
        check_positive("cutoff", cutoff)
    if dtype == "uint8" and (normalise is not None or (cutoff is not None and cutoff > 255)):
        raise ValueError("a uint8 histogram holds raw counts up to 255: no normalise, cutoff <= 255")
    if normalise is not None and cutoff is None:
        raise ValueError("normalise needs a cutoff (it maps [0, cutoff] to [0, 1])")


@dataclass(frozen=True)
class StackedHistogram:
    """Events per polarity, time bin and pixel, clamped at ``cutoff``, shape ``[2 * bins, H, W]``.

    Channel ``c = p * bins + b`` (RVT's order): channels ``0 .. bins-1`` count OFF events,
    ``bins .. 2*bins-1`` ON events, bin ``b`` oldest first. An event at time ``t`` falls in bin
    ``floor((t - origin) * bins / length)`` (exact integer arithmetic; an event on a bin edge
    goes to the later bin), where

    - ``span="window"`` (default): ``origin = t0``, ``length = t1 - t0``: bins of equal
      duration over the window, the same for every window whatever its events;
    - ``span="events"``: ``origin`` and ``origin + length`` are the first and last event of
      the window, the last event clamped into the last bin: RVT's own rule (RVT divides in
      float32, which can put an event exactly on a bin edge in the earlier bin).

    Counts stop at ``cutoff`` (RVT: 10; ``None``: no limit, or 255 in uint8). ``normalise``
    maps counts to [0, 1]: ``"unit"`` divides by ``cutoff``, ``"log"`` gives
    ``log(1 + n) / log(1 + cutoff)``. ``dtype`` is ``"float32"`` or ``"uint8"`` (raw counts,
    RVT's storage type).

    >>> from spikesight.io import make_events
    >>> ev = make_events([0, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 3])
    >>> StackedHistogram(2, 1, bins=2, cutoff=10)(ev, 0, 4).reshape(4, 2).tolist()
    [[0.0, 0.0], [0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]
    """

    width: int
    height: int
    bins: int = 10
    cutoff: int | None = 10
    span: Span = "window"
    normalise: Normalise = None
    dtype: str = "float32"

    def __post_init__(self) -> None:
        _check(self.width, self.height, self.bins, self.cutoff, self.span, self.normalise, self.dtype)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (2 * self.bins, self.height, self.width)

    def __call__(self, events: np.ndarray, t0: int | None = None, t1: int | None = None) -> torch.Tensor:
        return stacked_histogram(
            events,
            self.width,
            self.height,
            self.bins,
            self.cutoff,
            self.span,
            self.normalise,
            self.dtype,
            t0,
            t1,
        )
