"""A stand-in pipeline for screenshots and demos while no trained model ships: NOT a trained model.

``UntrainedSpikingDemo`` implements the ``Pipeline`` protocol with real spikes from an
*untrained*, randomly weighted network of leaky integrate-and-fire layers fed by the window's
events, so the network panel shows genuine rasters, firing rates and a SOP-based energy estimate.
Its boxes come from a plain heuristic (connected clusters of event pixels), labelled "cluster",
so the detection overlay has something real to draw. Replace it with the trained pipelines.
"""

from __future__ import annotations

import itertools

import numpy as np

from spikesight.perception.results import Detections, EnergyEstimate, LayerSpikes, Result

#: 45 nm energy per operation (Horowitz, ISSCC 2014), as SNN papers use: accumulate vs multiply-accumulate.
E_AC_PJ = 0.9
E_MAC_PJ = 4.6


class UntrainedSpikingDemo:
    """Random LIF layers on a pooled event histogram (T steps per window) plus cluster boxes."""

    task = "detection"
    class_names = ("cluster",)

    def __init__(self, width: int, height: int, window_us: int = 50_000, steps: int = 4, pool: int = 16,
                 sizes: tuple[int, ...] = (512, 256, 64), seed: int = 0, beta: float = 0.8) -> None:
        self.width, self.height = width, height
        self.window_us = window_us
        self.steps = steps
        self.pool = pool
        self.beta = beta
        self.grid = (-(-height // pool), -(-width // pool))
        n_in = 2 * self.grid[0] * self.grid[1]
        rng = np.random.default_rng(seed)
        dims = (n_in, *sizes)
        self.names = [f"lif{i + 1} ({n})" for i, n in enumerate(sizes)]
        self.weights = [rng.normal(0.0, 0.6 / np.sqrt(max(1.0, a * 0.02)), (a, b)).astype(np.float32)
                        for a, b in itertools.pairwise(dims)]
        self.reset()

    def reset(self) -> None:
        self.v = [np.zeros(w.shape[1], np.float32) for w in self.weights]

    def _input_spikes(self, ev: np.ndarray) -> np.ndarray:
        gy, gx = self.grid
        img = np.zeros((2, gy, gx), np.float32)
        if len(ev):
            np.add.at(img, (ev["p"].astype(np.intp), ev["y"] // self.pool, ev["x"] // self.pool), 1.0)
        return img.ravel() > 0

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result:
        dt = max(1, (t_end - t_start) // self.steps)
        rasters = [np.zeros((self.steps, w.shape[1]), bool) for w in self.weights]
        sops = 0.0
        for k in range(self.steps):
            a, b = t_start + k * dt, t_start + (k + 1) * dt if k < self.steps - 1 else t_end
            sel = events[(events["t"] >= a) & (events["t"] < b)] if len(events) else events
            x = self._input_spikes(sel)
            for i, w in enumerate(self.weights):
                active = np.flatnonzero(x)  # binary spikes: a sum of rows, one accumulate per synapse
                sops += float(len(active)) * w.shape[1]
                self.v[i] = self.beta * self.v[i] + w[active].sum(axis=0)
                s = self.v[i] >= 1.0
                self.v[i][s] -= 1.0
                rasters[i][k] = s
                x = s
        macs = float(sum(w.size for w in self.weights)) * self.steps
        layers = [LayerSpikes.from_raster(name, r) for name, r in zip(self.names, rasters, strict=True)]
        return Result(self.task, t_start, t_end, self._clusters(events), layers,
                      EnergyEstimate.from_pj(sops * E_AC_PJ, macs * E_MAC_PJ, self.steps, sops, macs))

    def _clusters(self, ev: np.ndarray, cell: int = 8, min_events: int = 60, top: int = 6) -> Detections:
        import cv2

        if not len(ev):
            return Detections.empty(self.class_names)
        gy, gx = -(-self.height // cell), -(-self.width // cell)
        counts = np.zeros((gy, gx), np.float32)
        np.add.at(counts, (ev["y"] // cell, ev["x"] // cell), 1.0)
        mask = (counts >= 2).astype(np.uint8)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes, scores = [], []
        for k in range(1, n):
            total = float(counts[labels == k].sum())
            if total < min_events:
                continue
            x, y, w, h = stats[k, :4]
            boxes.append([x * cell, y * cell, (x + w) * cell, (y + h) * cell])
            scores.append(total)
        if not boxes:
            return Detections.empty(self.class_names)
        order = np.argsort(scores)[::-1][:top]
        s = np.asarray(scores, np.float32)[order]
        return Detections(np.asarray(boxes, np.float32)[order], s / (s + np.median(s)),
                          np.zeros(len(order), np.int64), self.class_names)
