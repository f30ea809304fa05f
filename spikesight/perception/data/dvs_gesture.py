"""DVS128 Gesture as a torch Dataset: labelled segments cut into T-frame windows, as TA-SNN does.

Layout (IBM's dataset, and the simulator's ``spikesight simulate gesture``): ``userXX_<lighting>.aedat``
(AEDAT 3.1) with ``userXX_<lighting>_labels.csv`` (``class,startTime_usec,endTime_usec``, classes 1-11,
label = class - 1) and ``trials_to_<split>.txt`` listing the ``.aedat`` files of a split.

A labelled row is a segment: the events with ``start <= t < end``. A sample is a window of ``T``
frames of ``dt`` µs each (TA-SNN's BICLab/TA-SNN data loaders; the paper's DVS128 Gesture setting is
dt = 15 ms, T = 60): frame ``i`` holds the events of ``[t0 + i*dt, t0 + (i+1)*dt)`` as ON/OFF counts
(:class:`~spikesight.perception.representations.FrameSequence`), after the 128x128 sensor is pooled to
``size x size`` (``x // 4, y // 4`` for 32, TA-SNN's ``ds = 4``). Frames are ``[T, 2, H, W]`` with
rows = y (TA-SNN's own arrays put x on the rows; spikingjelly and this package put y there).

Where the window starts (``window``):

* ``"random"`` (training; TA-SNN's "random consecutive slice"): ``t0`` uniform in
  ``[start, end - T*dt]`` µs, drawn from ``(seed, epoch, index)`` so a run is reproducible
  (:meth:`DVSGesture.set_epoch`);
* ``"clips"`` (testing): ``clips`` windows per segment with starts spread evenly from ``start`` to
  ``end - T*dt`` (overlapping when the segment is shorter than ``clips * T * dt``); each is one item
  and :attr:`DVSGesture.items` says which segment it belongs to, for voting.

A segment shorter than ``T*dt`` gives one window at its start; frames past its end are empty.
Events outside the segment never enter a window. The decoded events of every segment are cached as
``.npz`` under ``cache_dir`` (full resolution, independent of T, dt and size), so a later epoch or
another configuration does not decode the AEDAT file again; a cache entry is rebuilt when its
recording's size or modification time changes.

Label files of the real dataset are loaded unchanged: a segment whose end runs past the next
segment's start (``user22_led_labels.csv``, class 9) is cut at that start with a warning; a segment
that ends before it starts is skipped with a warning. Anything else malformed raises
:class:`GestureLabelsError` naming the file and line.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from spikesight.io.aedat import AedatReader
from spikesight.io.errors import EventFormatError
from spikesight.io.events import EVENT_DTYPE, concat_events
from spikesight.io.sim.gesture import DVS128_SIZE, GESTURE_CLASSES
from spikesight.perception.representations import FrameSequence, Resize

log = logging.getLogger(__name__)

# the dataset's 11 classes (labels 1-11) and its 128x128 sensor, as the simulator writes them
GESTURE_NAMES = GESTURE_CLASSES
SENSOR_SIZE = DVS128_SIZE
CACHE_VERSION = 1
Window = Literal["random", "clips"]


class GestureLabelsError(EventFormatError):
    """A malformed ``*_labels.csv`` (names the file and the line)."""


@dataclass(frozen=True)
class Segment:
    """One labelled row: the recording, its row in the labels file, label 0-10 and ``[start, end)`` µs."""

    recording: Path
    row: int
    label: int
    start: int
    end: int


def read_labels(path: str | os.PathLike, recording: str | os.PathLike | None = None) -> list[Segment]:
    """The segments of one ``*_labels.csv``, in file order (see the module docstring for fixes)."""
    path = Path(path)
    rec = Path(recording) if recording is not None else _recording_for(path)
    lines = path.read_text().splitlines()
    if not lines or [c.strip() for c in lines[0].split(",")] != ["class", "startTime_usec", "endTime_usec"]:
        raise GestureLabelsError(path, 1, "expected the header 'class,startTime_usec,endTime_usec'", "line")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            cls, start, end = (int(v) for v in line.split(","))
        except ValueError:
            raise GestureLabelsError(path, n, f"expected three integers, got {line!r}", "line") from None
        if not 1 <= cls <= len(GESTURE_NAMES):
            raise GestureLabelsError(path, n, f"class must be 1-{len(GESTURE_NAMES)}, got {cls}", "line")
        rows.append((n, cls, start, end))
    segments = []
    for i, (n, cls, start, end) in enumerate(rows):
        later = [s for _, _, s, _ in rows[i + 1 :] if s > start]
        if later and end > min(later):
            log.warning(
                "%s line %d: end %d runs past the next segment's start; cut to %d", path, n, end, min(later)
            )
            end = min(later)
        if end <= start:
            log.warning("%s line %d: end %d is not after start %d; segment skipped", path, n, end, start)
            continue
        segments.append(Segment(rec, len(segments), cls - 1, start, end))
    return segments


def _recording_for(labels: Path) -> Path:
    return labels.with_name(labels.name.removesuffix("_labels.csv") + ".aedat")


def read_trials(root: str | os.PathLike, split: str) -> list[Path]:
    """The recordings listed in ``root/trials_to_<split>.txt`` (blank lines ignored)."""
    root = Path(root)
    listing = root / f"trials_to_{split}.txt"
    if not listing.exists():
        raise FileNotFoundError(f"{listing} does not exist: is {root} a DVS128 Gesture folder?")
    return [root / name.strip() for name in listing.read_text().splitlines() if name.strip()]


class SegmentCache:
    """Decoded events per segment, as ``.npz`` under ``cache_dir`` (one decode of a recording fills all)."""

    def __init__(self, cache_dir: str | os.PathLike) -> None:
        self.dir = Path(cache_dir)
        self.decodes = 0  # recordings decoded by this instance (cache misses)

    def path(self, seg: Segment) -> Path:
        return self.dir / f"{seg.recording.stem}_{seg.row:03d}_{seg.start}_{seg.end}.npz"

    @staticmethod
    def _stamp(recording: Path) -> np.ndarray:
        st = recording.stat()
        return np.array([CACHE_VERSION, st.st_size, st.st_mtime_ns], dtype=np.int64)

    def load(self, seg: Segment) -> np.ndarray | None:
        path = self.path(seg)
        if not path.exists():
            return None
        with np.load(path) as z:
            if not np.array_equal(z["stamp"], self._stamp(seg.recording)):
                return None
            return z["events"]

    def fill(self, segments: list[Segment]) -> dict[Segment, np.ndarray]:
        """Decode the recording of ``segments`` (all from one file) once and cache each segment."""
        rec = segments[0].recording
        parts: dict[Segment, list[np.ndarray]] = {s: [] for s in segments}
        lo, hi = min(s.start for s in segments), max(s.end for s in segments)
        with AedatReader(rec) as reader:
            reader.seek(lo)
            for ev in reader:
                if not len(ev):
                    continue
                t = ev["t"]
                for s in segments:
                    a, b = np.searchsorted(t, [s.start, s.end], side="left")
                    if b > a:
                        parts[s].append(ev[a:b])
                if t[-1] >= hi:
                    break
        self.decodes += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp = self._stamp(rec)
        out = {}
        for s, chunks in parts.items():
            ev = concat_events(chunks) if chunks else np.empty(0, dtype=EVENT_DTYPE)
            tmp = self.path(s).with_suffix(f".{os.getpid()}.tmp.npz")  # DataLoader workers may race
            np.savez(tmp, events=ev, stamp=stamp)
            os.replace(tmp, self.path(s))
            out[s] = ev
        return out


class DVSGesture(Dataset):
    """DVS128 Gesture windows ``(frames [T, 2, size, size] float32, label int)``; see the module docstring.

    ``root`` holds the recordings and ``trials_to_<split>.txt``; ``dt_us`` is the frame length in µs;
    ``window`` defaults to ``"random"`` for ``split="train"`` and ``"clips"`` otherwise; ``binary``
    marks pixels instead of counting events. ``cache_dir`` defaults to ``root/.spikesight_cache``.
    """

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        *,
        T: int = 60,
        dt_us: int = 15_000,
        size: int = 32,
        window: Window | None = None,
        clips: int = 10,
        binary: bool = False,
        seed: int = 0,
        cache_dir: str | os.PathLike | None = None,
    ) -> None:
        if T < 1 or dt_us < 1 or clips < 1:
            raise ValueError(f"T, dt_us and clips must be positive, got {T}, {dt_us}, {clips}")
        if SENSOR_SIZE % size:
            raise ValueError(f"size must divide {SENSOR_SIZE}, got {size}")
        self.root = Path(root)
        self.split = split
        self.T, self.dt_us, self.size = T, int(dt_us), size
        self.window: Window = window or ("random" if split == "train" else "clips")
        if self.window not in ("random", "clips"):
            raise ValueError(f"window must be 'random' or 'clips', got {self.window!r}")
        self.clips = clips if self.window == "clips" else 1
        self.seed = seed
        self.epoch = 0
        self.frames = FrameSequence(size, size, T, "binary" if binary else "count")
        self.resize = None if size == SENSOR_SIZE else Resize(SENSOR_SIZE, SENSOR_SIZE, size, size, "scale")
        self.cache = SegmentCache(cache_dir if cache_dir is not None else self.root / ".spikesight_cache")
        self.segments: list[Segment] = []
        for rec in read_trials(self.root, split):
            self.segments.extend(read_labels(_labels_for(rec), rec))
        #: ``(segment index, clip index)`` of every item
        self.items: list[tuple[int, int]] = [
            (s, c) for s in range(len(self.segments)) for c in range(self.clips)
        ]

    @property
    def labels(self) -> list[int]:
        """The label (0-10) of every item."""
        return [self.segments[s].label for s, _ in self.items]

    def set_epoch(self, epoch: int) -> None:
        """Pick another set of random windows (call once per epoch; workers see it when they start)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def window_start(self, index: int) -> int:
        """``t0`` in µs of item ``index``'s window."""
        s, c = self.items[index]
        seg = self.segments[s]
        last = max(seg.start, seg.end - self.T * self.dt_us)
        if self.window == "random":
            rng = np.random.default_rng([self.seed, self.epoch, index])
            return int(rng.integers(seg.start, last + 1))
        if self.clips == 1:
            return seg.start
        return seg.start + (last - seg.start) * c // (self.clips - 1)

    def segment_events(self, s: int) -> np.ndarray:
        """The events of segment ``s`` (``start <= t < end``), from the cache or decoded into it."""
        seg = self.segments[s]
        ev = self.cache.load(seg)
        if ev is None:
            siblings = [g for g in self.segments if g.recording == seg.recording]
            ev = self.cache.fill(siblings)[seg]
        return ev

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        s, _ = self.items[index]
        ev = self.segment_events(s)
        t0 = self.window_start(index)
        t1 = t0 + self.T * self.dt_us
        a, b = np.searchsorted(ev["t"], [t0, t1], side="left")
        ev = ev[a:b]
        if self.resize is not None:
            ev = self.resize(ev)
        return self.frames(ev, t0, t1), self.segments[s].label


def _labels_for(recording: Path) -> Path:
    return recording.with_name(recording.stem + "_labels.csv")
