"""The network panel's data, free of Qt: spike rasters of the last seconds, firing rates, energy.

Each :class:`~spikesight.perception.results.Result` carries, per spiking layer, a [T, n] boolean
raster over its window. :class:`RasterHistory` keeps the results of the last ``span_us`` of event
time (and at most ``max_results``) and lays the layers out one above the other, at most
``max_rows`` neurons each (evenly sampled where a layer is larger), as points to scatter. When
event time jumps back (a loop, a seek), later windows are placed right after the earlier ones, so
the raster scrolls on instead of emptying.

A big network (the SpikeYOLO detector has 88 spiking layers) would stack bands too thin to read,
so at most ``max_layers`` are shown: an evenly spaced subset in network order that always holds the
first and the last layer (:func:`pick_layers`); ``shown_layers`` of ``total_layers`` says so.
Long dotted module names are shortened for tick labels (:func:`short_name`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..perception.results import Result


def pick_layers(total: int, max_layers: int) -> list[int]:
    """Indices of at most ``max_layers`` of ``total`` layers, evenly spaced, first and last included.

    Index ``i`` of ``k`` is the nearest integer to ``i * (total - 1) / (k - 1)`` (halves round up),
    worked out in integers so that no two coincide.
    """
    if max_layers < 2:
        raise ValueError(f"max_layers must be at least 2 (the first and the last layer), got {max_layers}")
    if total <= max_layers:
        return list(range(total))
    k = max_layers - 1
    return [(2 * i * (total - 1) + k) // (2 * k) for i in range(max_layers)]


def short_name(name: str, keep: int = 2) -> str:
    """A tick label for a dotted module name: its last ``keep`` components, after its first one
    when more lie between (``stage3.0.sep.pw1.lif`` -> ``stage3…pw1.lif``), so that blocks whose
    last components repeat from stage to stage stay apart. Indices alone say nothing, so the kept
    tail reaches back to the nearest named component (``head.box.0.1.lif`` stays whole)."""
    parts = name.split(".")
    start = max(0, len(parts) - keep)
    while start > 0 and parts[start].isdigit():
        start -= 1
    if start <= 1:
        return name
    return parts[0] + "…" + ".".join(parts[start:])


@dataclass
class LayerRows:
    """Where a layer sits in the raster: rows ``offset .. offset + rows - 1``; ``index`` is its
    place among all the network's layers."""

    name: str
    offset: int
    rows: int
    neurons: int
    index: int = 0

    @property
    def label(self) -> str:
        return short_name(self.name)


class RasterHistory:
    def __init__(self, span_us: int = 2_000_000, max_rows: int = 32, max_results: int = 400,
                 max_layers: int = 12) -> None:
        if max_layers < 2:
            raise ValueError(f"max_layers must be at least 2, got {max_layers}")
        self.span_us = int(span_us)
        self.max_rows = int(max_rows)
        self.max_layers = int(max_layers)
        self._entries: deque[tuple[int, Result]] = deque(maxlen=max_results)
        self._offset = 0
        self._names: list[str] = []
        self.layout: list[LayerRows] = []
        self.total_layers = 0

    @property
    def shown_layers(self) -> int:
        """How many of the ``total_layers`` layers the layout shows."""
        return len(self.layout)

    def layer_at(self, row: float) -> LayerRows | None:
        """The shown layer whose band holds raster row ``row`` (for tooltips), or ``None``."""
        for lay in self.layout:
            if lay.offset - 0.5 <= row < lay.offset + lay.rows - 0.5:
                return lay
        return None

    @property
    def results(self) -> list[Result]:
        return [r for _, r in self._entries]

    def reset(self) -> None:
        self._entries.clear()
        self._offset = 0

    def add(self, result: Result) -> None:
        if self._entries:
            off, last = self._entries[-1]
            end = last.t_end + off
            if result.t_start + self._offset < end:  # time went back (a loop or a seek)
                self._offset = end - result.t_start
        self._entries.append((self._offset, result))
        t_end = result.t_end + self._offset
        while self._entries and t_end - (self._entries[0][1].t_end + self._entries[0][0]) > self.span_us:
            self._entries.popleft()
        self._lay_out(result)

    def _lay_out(self, result: Result) -> None:
        names = [layer.name for layer in result.layers]
        if names == self._names:
            return
        self._names = names
        self.total_layers = len(names)
        offset = 0
        self.layout = []
        for i in pick_layers(len(names), self.max_layers):
            layer = result.layers[i]
            rows = min(self.max_rows, layer.raster.shape[1])
            self.layout.append(LayerRows(layer.name, offset, rows, layer.neurons, i))
            offset += rows + 1  # one empty row between layers

    @property
    def latest(self) -> Result | None:
        return self._entries[-1][1] if self._entries else None

    def points(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per layer: spike times (s, relative to the latest window's end, so <= 0) and rows."""
        out: dict[str, tuple[list, list]] = {row.name: ([], []) for row in self.layout}
        rows = {row.name: row for row in self.layout}
        if not self._entries:
            return {k: (np.zeros(0), np.zeros(0)) for k in out}
        t_ref = self._entries[-1][1].t_end + self._entries[-1][0]
        for off, r in self._entries:
            for layer in r.layers:
                lay = rows.get(layer.name)
                if lay is None or layer.raster.size == 0:
                    continue
                raster = np.asarray(layer.raster, bool)
                steps, n = raster.shape
                if n > lay.rows:
                    raster = raster[:, np.linspace(0, n - 1, lay.rows).astype(np.intp)]
                k, j = np.nonzero(raster)
                dt = (r.t_end - r.t_start) / steps
                xs, ys = out[layer.name]
                xs.append((r.t_start + off + (k + 0.5) * dt - t_ref) / 1e6)
                ys.append(lay.offset + j)
        return {name: (np.concatenate(xs) if xs else np.zeros(0), np.concatenate(ys) if ys else np.zeros(0))
                for name, (xs, ys) in out.items()}

    def firing_rates(self) -> list[tuple[str, float]]:
        """Each shown layer's mean firing rate in the latest window, in the layout's order."""
        r = self.latest
        if r is None:
            return []
        shown = {row.name for row in self.layout}
        return [(layer.name, float(layer.firing_rate)) for layer in r.layers if layer.name in shown]

    def energy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window end times (s, relative to the latest), SNN and ANN energy per window (pJ)."""
        rs = [(off, r) for off, r in self._entries if r.energy is not None]
        if not rs:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        t_ref = self._entries[-1][1].t_end + self._entries[-1][0]
        t = np.array([(r.t_end + off - t_ref) / 1e6 for off, r in rs])
        return t, np.array([r.energy.snn_pj for _, r in rs]), np.array([r.energy.ann_pj for _, r in rs])
