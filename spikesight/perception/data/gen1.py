"""Prophesee's Gen1 layout as a torch Dataset: one sample per label time, the events just before it.

Layout (Gen1 Automotive Detection, and the simulator's ``spikesight simulate street``): a folder, or
its ``train/``, ``val/``, ``test/`` subfolder, of ``<name>_td.dat`` (events, Prophesee DAT) with
``<name>_bbox.npy`` (boxes: top-left corner, size, class, at label times; read by
:func:`spikesight.io.bbox.read_boxes`).

Boxes first pass the Gen1 filter (:func:`spikesight.io.bbox.filter_boxes`: cropped to the sensor,
diagonal >= 30 px, sides >= 10 px; ``skip_ts`` also drops the boxes of the first 0.5 s as the Gen1
evaluation does). A sample is a distinct label time that keeps at least one box after the filter
(times left without boxes are dropped, as the Gen1 evaluation only scores label times with boxes;
``keep_empty=True`` keeps them as negatives). Its input is ``inputs(events, t)``
(:class:`~spikesight.perception.detection.inputs.DetectionInput`: the window before ``t``); its
targets are the boxes at ``t`` as ``[N, 5]`` rows ``(class, x0, y0, x1, y1)`` in model pixels.

Events are read through the DAT reader's time seek (a binary search on the file's timestamps, then
only the window is decoded), so memory stays bounded whatever the dataset's size; each process keeps
at most :data:`OPEN_SOURCES` readers open. ``flip=True`` mirrors a sample left-right (events and
boxes, on the sensor, before fitting to the model) with probability 1/2, drawn from
``np.random.default_rng((seed, epoch, index))`` (:meth:`Gen1Detection.set_epoch`).

``repeat_threshold`` turns on repeat-factor sampling (Gupta et al., LVIS, CVPR 2019) for rare classes:
with ``f_c`` the fraction of label times showing class ``c``, a label time is seen
``round(max_c max(1, sqrt(threshold / f_c)))`` times an epoch (deterministic rounding, so an epoch's
length is fixed, as the distributed sampler needs); repeats draw their own flips.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from spikesight.io import open_source
from spikesight.io.bbox import GEN1_FILTER, filter_boxes, read_boxes
from spikesight.io.source import EventSource
from spikesight.perception.detection.inputs import DetectionInput

log = logging.getLogger(__name__)

OPEN_SOURCES = 32
READ_CHUNK_EVENTS = 1 << 16  # decode windows in small chunks: a seek lands at the window's start


@dataclass(frozen=True)
class Recording:
    """One ``<name>_td.dat`` with its filtered boxes (sorted by time, sensor pixels ``x0, y0, x1, y1``)."""

    name: str
    events: Path
    times: np.ndarray  # [n] int64: the label time of each sample
    first: np.ndarray  # [n]: sample k's boxes are rows first[k] .. last[k] - 1
    last: np.ndarray  # [n]
    boxes: np.ndarray  # [m, 4] float32
    labels: np.ndarray  # [m] int64


def find_recordings(root: str | os.PathLike, split: str | None = None) -> list[tuple[str, Path, Path]]:
    """``(name, events, boxes)`` of every ``<name>_td.dat`` under ``root`` (or ``root/split``), by name.

    A recording without its ``<name>_bbox.npy`` raises :class:`FileNotFoundError`.
    """
    folder = Path(root) / split if split else Path(root)
    if not folder.is_dir():
        raise FileNotFoundError(f"no dataset folder {folder}")
    out = []
    for dat in sorted(folder.glob("*_td.dat")):
        name = dat.name[: -len("_td.dat")]
        bbox = dat.with_name(f"{name}_bbox.npy")
        if not bbox.exists():
            raise FileNotFoundError(f"{dat} has no label file {bbox.name}")
        out.append((name, dat, bbox))
    if not out:
        raise FileNotFoundError(f"no *_td.dat recordings in {folder}")
    return out


class Gen1Detection(Dataset):
    """Gen1-layout detection samples (see the module docstring); item ``i`` is ``(input, targets)``:
    ``[T, C, H, W]`` float32 and ``[N, 5]`` float32 ``(class, x0, y0, x1, y1)`` in model pixels."""

    def __init__(
        self,
        root: str | os.PathLike,
        inputs: DetectionInput,
        split: str | None = None,
        *,
        num_classes: int = 2,
        min_box_diag: float = GEN1_FILTER["min_box_diag"],
        min_box_side: float = GEN1_FILTER["min_box_side"],
        skip_ts: int | None = None,
        keep_empty: bool = False,
        flip: bool = False,
        seed: int = 0,
        repeat_threshold: float | None = None,
    ) -> None:
        self.inputs = inputs
        self.num_classes = num_classes
        self.flip = flip
        self.seed = seed
        self.epoch = 0
        self.recordings: list[Recording] = []
        for name, dat, bbox in find_recordings(root, split):
            with open_source(dat) as src:
                geometry = (src.info.width, src.info.height)
            if geometry != (inputs.sensor_width, inputs.sensor_height):
                raise ValueError(
                    f"{dat} is {geometry[0]}x{geometry[1]}; the input expects "
                    f"{inputs.sensor_width}x{inputs.sensor_height}"
                )
            rec = self._load(name, dat, bbox, min_box_diag, min_box_side, skip_ts, keep_empty)
            self.recordings.append(rec)
        counts = [len(r.times) for r in self.recordings]
        self._offsets = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        self.repeats = self._repeat_factors(repeat_threshold)
        self._samples = np.repeat(np.arange(int(self._offsets[-1])), self.repeats)
        self._sources: OrderedDict[Path, EventSource] = OrderedDict()

    def _load(self, name, dat, bbox, min_box_diag, min_box_side, skip_ts, keep_empty) -> Recording:
        raw = read_boxes(bbox)
        w, h = self.inputs.sensor_width, self.inputs.sensor_height
        boxes = filter_boxes(raw, w, h, min_box_diag, min_box_side, skip_ts=skip_ts)
        other = boxes["class_id"] >= self.num_classes
        if other.any():
            log.warning("%s: %d boxes of classes >= %d left out", bbox, int(other.sum()), self.num_classes)
            boxes = boxes[~other]
        boxes = boxes[np.argsort(boxes["t"], kind="stable")]
        times = np.unique(boxes["t"])
        if keep_empty:
            all_times = raw["t"] if skip_ts is None else raw["t"][raw["t"] > skip_ts]
            times = np.union1d(times, all_times)
        first = np.searchsorted(boxes["t"], times, side="left")
        last = np.searchsorted(boxes["t"], times, side="right")
        xyxy = np.stack((boxes["x"], boxes["y"], boxes["x"] + boxes["w"], boxes["y"] + boxes["h"]), 1)
        return Recording(name, dat, times.astype(np.int64), first, last, xyxy.astype(np.float32),
                         boxes["class_id"].astype(np.int64))

    def _repeat_factors(self, threshold: float | None) -> np.ndarray:
        """How many times each label time is seen an epoch (all 1 without ``threshold``)."""
        n = int(self._offsets[-1])
        if threshold is None or n == 0:
            return np.ones(n, dtype=np.int64)
        if threshold <= 0:
            raise ValueError(f"repeat_threshold must be > 0, got {threshold}")
        shows = np.zeros((n, self.num_classes), dtype=bool)
        k = 0
        for rec in self.recordings:
            for first, last in zip(rec.first, rec.last, strict=True):
                shows[k, rec.labels[first:last]] = True
                k += 1
        freq = shows.mean(0)
        factor = np.sqrt(threshold / np.where(freq > 0, freq, np.inf))
        per_sample = np.where(shows, np.maximum(factor, 1.0), 1.0).max(1)
        log.info("repeat-factor sampling: class frequencies %s, %d label times -> %d samples",
                 np.round(freq, 3).tolist(), n, int(np.round(per_sample).sum()))
        return np.round(per_sample).astype(np.int64)

    # -- sampling ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._samples)

    def set_epoch(self, epoch: int) -> None:
        """Make augmentation draw from ``(seed, epoch, index)``."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[int, int]:
        """``(recording, label time in µs)`` of sample ``index``."""
        r, k = self._place(index)
        return r, int(self.recordings[r].times[k])

    def _place(self, index: int) -> tuple[int, int]:
        """``(recording, label time's row in it)`` of sample ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} of {len(self)}")
        base = int(self._samples[index])
        r = int(np.searchsorted(self._offsets, base, side="right")) - 1
        return r, base - int(self._offsets[r])

    def sensor_boxes(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``index``'s boxes ``[N, 4]`` (x0, y0, x1, y1, sensor pixels) and labels ``[N]``."""
        r, k = self._place(index)
        rec = self.recordings[r]
        rows = slice(int(rec.first[k]), int(rec.last[k]))
        return rec.boxes[rows], rec.labels[rows]

    def read_events(self, recording: int, t0: int, t1: int) -> np.ndarray:
        """The events of ``[t0, t1)`` of a recording (through the DAT reader's time seek)."""
        path = self.recordings[recording].events
        src = self._sources.pop(path, None)
        if src is None:
            src = open_source(path, chunk_events=READ_CHUNK_EVENTS)
            if len(self._sources) >= OPEN_SOURCES:
                self._sources.popitem(last=False)[1].close()
        self._sources[path] = src
        return src.read_window(t0, t1)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        r, t = self.locate(index)
        events = self.read_events(r, t - self.inputs.window_us, t)
        boxes, labels = self.sensor_boxes(index)
        if self.flip and np.random.default_rng((self.seed, self.epoch, index)).random() < 0.5:
            events = events.copy()
            events["x"] = self.inputs.sensor_width - 1 - events["x"]
            boxes = np.stack((self.inputs.sensor_width - boxes[:, 2], boxes[:, 1],
                              self.inputs.sensor_width - boxes[:, 0], boxes[:, 3]), 1)
        x = self.inputs(events, t)
        model_boxes = np.asarray(self.inputs.boxes_to_model(boxes), dtype=np.float32).reshape(-1, 4)
        targets = np.concatenate((labels[:, None].astype(np.float32), model_boxes), 1)
        return x, torch.from_numpy(targets)

    # -- pickling (DataLoader workers open their own readers) ---------------------------

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sources"] = OrderedDict()
        return state

    def close(self) -> None:
        """Close the open event readers."""
        while self._sources:
            self._sources.popitem()[1].close()
