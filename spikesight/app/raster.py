"""The network panel's data, free of Qt: spike rasters of the last seconds, firing rates, energy.

Each :class:`~spikesight.perception.results.Result` carries, per spiking layer, a [T, n] boolean
raster over its window. :class:`RasterHistory` keeps the results of the last ``span_us`` of event
time (and at most ``max_results``) and lays the layers out one above the other, at most
``max_rows`` neurons each (evenly sampled where a layer is larger), as points to scatter. When
event time jumps back (a loop, a seek), later windows are placed right after the earlier ones, so
the raster scrolls on instead of emptying.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..perception.results import Result


@dataclass
class LayerRows:
    """Where a layer sits in the raster: rows ``offset .. offset + rows - 1``."""

    name: str
    offset: int
    rows: int
    neurons: int


class RasterHistory:
    def __init__(self, span_us: int = 2_000_000, max_rows: int = 32, max_results: int = 400) -> None:
        self.span_us = int(span_us)
        self.max_rows = int(max_rows)
        self._entries: deque[tuple[int, Result]] = deque(maxlen=max_results)
        self._offset = 0
        self.layout: list[LayerRows] = []

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
        names = [row.name for row in self.layout]
        if names == [layer.name for layer in result.layers]:
            return
        offset = 0
        self.layout = []
        for layer in result.layers:
            rows = min(self.max_rows, layer.raster.shape[1])
            self.layout.append(LayerRows(layer.name, offset, rows, layer.neurons))
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
        """Each layer's mean firing rate in the latest window."""
        r = self.latest
        return [] if r is None else [(layer.name, float(layer.firing_rate)) for layer in r.layers]

    def energy(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Window end times (s, relative to the latest), SNN and ANN energy per window (pJ)."""
        rs = [(off, r) for off, r in self._entries if r.energy is not None]
        if not rs:
            return np.zeros(0), np.zeros(0), np.zeros(0)
        t_ref = self._entries[-1][1].t_end + self._entries[-1][0]
        t = np.array([(r.t_end + off - t_ref) / 1e6 for off, r in rs])
        return t, np.array([r.energy.snn_pj for _, r in rs]), np.array([r.energy.ann_pj for _, r in rs])
