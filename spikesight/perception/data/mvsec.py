"""MVSEC monocular depth as a torch Dataset: the events before each depth map, and that map.

Layout (MVSEC's public HDF5 files, written by its ``mvsec_h5py.py`` converter; the simulator's
``spikesight simulate depth`` writes the same): a recording is a pair ``<name>_data.hdf5`` +
``<name>_gt.hdf5`` (e.g. ``outdoor_day2_data.hdf5`` and ``outdoor_day2_gt.hdf5``).

* ``<name>_data.hdf5``: ``davis/left/events``, float64 ``(N, 4)`` rows ``[x, y, t, p]``, ``t`` in
  seconds (absolute ROS time), time ordered; ``p`` is 0/1 in some conversions and -1/+1 in others,
  so ON is ``p > 0``.
* ``<name>_gt.hdf5``: ``davis/left/depth_image_raw``, float ``(M, H, W)`` in metres, NaN where the
  LiDAR had no return, in the raw (distorted) left-DAVIS frame, the frame of the raw events, and
  ``davis/left/depth_image_raw_ts`` (M,) seconds. The depth maps' (H, W) is the sensor geometry
  (MVSEC: 260 x 346); events must lie on it.

Where a folder's recordings go (:func:`split_recordings`): ``root/{train,val,test}/`` folders of pairs
(the simulator's layout, and the way to bring your own data), else MVSEC's usual split by name
(E2Depth, RAM-Net, HMNet): train ``outdoor_day2``, test ``outdoor_day1`` and ``outdoor_night1``. MVSEC
has no validation set; here ``val`` is the last :data:`VAL_FRACTION` of ``outdoor_day2``'s depth maps
and ``train`` the rest, so choosing the best epoch never looks at the test sequences.

A sample is depth map ``k`` with the events of ``[ts[k-1], ts[k])``, the events between it and the
map before (E2Depth's choice; 50 ms at MVSEC's 20 Hz), so the first map of a recording has none and
is skipped; with ``window_us`` set, the events of ``[ts[k] - window_us, ts[k])`` instead (maps whose
window starts before the first event are skipped). Times are whole microseconds,
``round(t_seconds * 1e6)``, as :class:`spikesight.io.mvsec.MvsecReader` gives them.

Speed: opening a recording indexes every map's first event once, by a binary search on a coarse
sample of the ``t`` column (at most 65 537 rows, read with one strided selection) then one short
block per map; a sample then reads only its own rows of the events dataset and one depth map.
Files are opened lazily in each process (safe with DataLoader workers) and the index travels with
the dataset. Augmentation (``augment=True``): a horizontal flip with probability 1/2 and, with
``crop``, a crop at a random position, both drawn from ``(seed, epoch, i)``; vertical flips are
never made (the sky is up).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from spikesight.io.errors import (
    CoordinateError,
    EventFormatError,
    TimeOrderError,
    TruncatedError,
)
from spikesight.io.events import EVENT_DTYPE
from spikesight.io.hdf5 import check_filters, describe_h5, open_h5

from ..depth.convert import depth_to_log
from ..depth.inputs import DepthInput

log = logging.getLogger(__name__)

DATA_SUFFIX = "_data.hdf5"
GT_SUFFIX = "_gt.hdf5"
SPLITS = ("train", "val", "test")
MVSEC_SPLITS: dict[str, tuple[str, ...]] = {
    "train": ("outdoor_day2",),
    "val": ("outdoor_day2",),
    "test": ("outdoor_day1", "outdoor_night1"),
}
"""MVSEC's usual depth split by sequence name (``val`` is the tail of ``outdoor_day2``)."""
VAL_FRACTION = 0.1
"""Share of ``outdoor_day2``'s depth maps (its last ones) held out for validation in the by-name split."""
COARSE_ROWS = 1 << 16


class MvsecLayoutError(EventFormatError):
    """A dataset folder or recording does not have the MVSEC layout (a file, a dataset, a shape)."""


@dataclass(frozen=True)
class Recording:
    """One recording: its events and ground-truth files, and which part of its depth maps to use
    (``maps``: a fraction range of the map indices, ``(0, 1)`` for all)."""

    name: str
    data_path: Path
    gt_path: Path
    maps: tuple[float, float] = (0.0, 1.0)


def find_recordings(folder: str | os.PathLike) -> list[Recording]:
    """Every ``<name>_data.hdf5`` + ``<name>_gt.hdf5`` pair in ``folder`` (not its subfolders), by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MvsecLayoutError(folder, None, "no such folder")
    out = []
    for data in sorted(folder.glob("*" + DATA_SUFFIX)):
        name = data.name[: -len(DATA_SUFFIX)]
        gt = folder / (name + GT_SUFFIX)
        if not gt.is_file():
            raise MvsecLayoutError(data, None, f"its ground truth {gt.name} is missing (MVSEC pairs "
                                               f"<name>{DATA_SUFFIX} with <name>{GT_SUFFIX})")
        out.append(Recording(name, data, gt))
    return out


def split_recordings(root: str | os.PathLike, split: str) -> list[Recording]:
    """The recordings of ``split`` under ``root``: ``root/<split>/`` if the folder has split folders,
    else MVSEC's split by name (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise MvsecLayoutError(root, None, "no such dataset folder")
    if any((root / s).is_dir() for s in SPLITS):
        recs = find_recordings(root / split) if (root / split).is_dir() else []
        if not recs:
            raise MvsecLayoutError(root / split, None, f"no <name>{DATA_SUFFIX} + <name>{GT_SUFFIX} pairs "
                                                       f"for split {split!r}")
        return recs
    by_name = {r.name: r for r in find_recordings(root)}
    wanted = MVSEC_SPLITS[split]
    missing = [n for n in wanted if n not in by_name]
    if missing:
        raise MvsecLayoutError(
            root, None,
            f"split {split!r} needs {', '.join(n + DATA_SUFFIX for n in missing)} (+ {GT_SUFFIX}); found "
            f"{sorted(by_name) or 'no pairs'}; or make train/, val/, test/ folders of pairs")
    if split == "train":
        return [replace(by_name["outdoor_day2"], maps=(0.0, 1.0 - VAL_FRACTION))]
    if split == "val":
        return [replace(by_name["outdoor_day2"], maps=(1.0 - VAL_FRACTION, 1.0))]
    return [by_name[n] for n in wanted]


def _to_us(seconds: np.ndarray) -> np.ndarray:
    """Seconds (float) -> whole microseconds (int64), rounded to nearest."""
    return np.rint(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)


class DepthRecording:
    """One opened recording: checks its layout, indexes its events by depth-map time, reads windows.

    ``camera``: ``"left"`` (MVSEC's depth is for the left DAVIS). Files are opened on first use
    in each process; :meth:`close` closes them (they reopen when needed).
    """

    def __init__(self, recording: Recording, camera: str = "left",
                 depth_key: str = "depth_image_raw") -> None:
        self.recording = recording
        self.camera = camera
        self.depth_key = depth_key
        self._events_key = f"davis/{camera}/events"
        self._depth_path = f"davis/{camera}/{depth_key}"
        self._files: tuple[int, h5py.File, h5py.File] | None = None
        try:
            self._check_and_index()
        except BaseException:
            self.close()
            raise

    def _check_and_index(self) -> None:
        recording = self.recording
        data, gt = self._open()[1:]
        ev = self._events(data)
        depth, ts = self._depth(gt)
        self.height, self.width = int(depth.shape[1]), int(depth.shape[2])
        self.event_count = int(ev.shape[0])
        self.depth_ts = _to_us(ts[:])
        if len(self.depth_ts) != depth.shape[0]:
            raise MvsecLayoutError(recording.gt_path, None,
                                   f"{self._depth_path} has {depth.shape[0]} maps but "
                                   f"{self._depth_path}_ts has {len(self.depth_ts)} times")
        if np.any(np.diff(self.depth_ts) < 0):
            k = int(np.argmax(np.diff(self.depth_ts) < 0)) + 1
            raise TimeOrderError(recording.gt_path, k, f"{self._depth_path}_ts goes back in time at map {k}",
                                 unit="map")
        self._coarse_index(ev)
        self.first_event_us = int(self._coarse[0]) if self.event_count else None
        self.first_index = self._search(self.depth_ts)

    # -- files ------------------------------------------------------------------------------

    def _open(self) -> tuple[int, h5py.File, h5py.File]:
        pid = os.getpid()
        if self._files is None or self._files[0] != pid:
            data = open_h5(self.recording.data_path)
            try:
                gt = open_h5(self.recording.gt_path)
            except BaseException:
                data.close()
                raise
            self._files = (pid, data, gt)
        return self._files

    def close(self) -> None:
        if self._files is not None and self._files[0] == os.getpid():
            self._files[1].close()
            self._files[2].close()
        self._files = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_files"] = None
        return state

    def _events(self, data: h5py.File) -> h5py.Dataset:
        path = self.recording.data_path
        ev = data.get(self._events_key)
        if not isinstance(ev, h5py.Dataset):
            raise MvsecLayoutError(path, None, f"no {self._events_key} dataset (MVSEC layout); "
                                               f"found: {describe_h5(data)}")
        if ev.ndim != 2 or ev.shape[1] != 4 or ev.dtype.kind not in "fiu":
            raise MvsecLayoutError(path, None, f"{self._events_key} must be an (N, 4) numeric array of "
                                               f"[x, y, t, p] rows; it is {ev.shape} {ev.dtype}")
        check_filters(os.fspath(path), ev)
        return ev

    def _depth(self, gt: h5py.File) -> tuple[h5py.Dataset, h5py.Dataset]:
        path = self.recording.gt_path
        depth = gt.get(self._depth_path)
        ts = gt.get(self._depth_path + "_ts")
        for name, dset in ((self._depth_path, depth), (self._depth_path + "_ts", ts)):
            if not isinstance(dset, h5py.Dataset):
                raise MvsecLayoutError(path, None,
                                       f"no {name} dataset (MVSEC layout); found: {describe_h5(gt)}")
        if depth.ndim != 3 or depth.dtype.kind != "f" or min(depth.shape[1:], default=0) < 1:
            raise MvsecLayoutError(path, None, f"{self._depth_path} must be a float (M, H, W) array of "
                                               f"depths in metres; it is {depth.shape} {depth.dtype}")
        if ts.ndim != 1:
            raise MvsecLayoutError(path, None, f"{self._depth_path}_ts must be a 1-D array of times in "
                                               f"seconds; it is {ts.shape} {ts.dtype}")
        check_filters(os.fspath(path), depth)
        return depth, ts

    # -- index ------------------------------------------------------------------------------

    def _read_t(self, ev: h5py.Dataset, sel: slice) -> np.ndarray:
        try:
            t = ev[sel, 2]
        except OSError as exc:
            raise TruncatedError(self.recording.data_path, None,
                                 f"cannot read {self._events_key}[{sel.start}:{sel.stop}] ({exc})") from exc
        if not np.all(np.isfinite(t)):
            raise TimeOrderError(self.recording.data_path, None, f"{self._events_key} holds non-finite times")
        return _to_us(t)

    def _unsorted(self, row: int) -> TimeOrderError:
        return TimeOrderError(self.recording.data_path, row,
                              f"{self._events_key}: time goes back at row {row} "
                              "(events must be time ordered)",
                              unit="row")

    def _coarse_index(self, ev: h5py.Dataset) -> None:
        """Sample the ``t`` column every ``step`` rows (one strided read) for :meth:`_search`."""
        n = self.event_count
        self._step = max(1, -(-n // COARSE_ROWS))
        self._coarse = self._read_t(ev, slice(0, n, self._step)) if n else np.zeros(0, np.int64)
        bad = np.diff(self._coarse) < 0
        if bad.any():
            raise self._unsorted((int(np.argmax(bad)) + 1) * self._step)

    def _search(self, times: np.ndarray) -> np.ndarray:
        """Per time (µs), the index of the first event at or after it: a binary search on the coarse
        sample, then one read of at most ``step`` rows per distinct coarse interval."""
        n, step, coarse = self.event_count, self._step, self._coarse
        times = np.asarray(times, dtype=np.int64)
        j = np.searchsorted(coarse, times, side="left")
        out = np.zeros(len(times), np.int64)
        ev = None
        for jj in np.unique(j):
            if jj == 0:
                continue
            sel = j == jj
            a = int(jj - 1) * step + 1
            b = min(int(jj) * step, n)
            if b <= a:
                out[sel] = a
                continue
            ev = ev if ev is not None else self._events(self._open()[1])
            block = self._read_t(ev, slice(a, b))
            beyond = jj < len(coarse) and block[-1] > coarse[jj]
            if np.any(np.diff(block) < 0) or block[0] < coarse[jj - 1] or beyond:
                raise self._unsorted(a)
            out[sel] = a + np.searchsorted(block, times[sel], side="left")
        return out

    def bounds(self, t0: int, t1: int) -> tuple[int, int]:
        """Rows ``[a, b)`` of the events with ``t0 <= t < t1`` (µs)."""
        a, b = self._search(np.array([t0, t1], dtype=np.int64))
        return int(a), int(b)

    # -- reading ----------------------------------------------------------------------------

    def read_events(self, a: int, b: int) -> np.ndarray:
        """Rows ``[a, b)`` of the events as :data:`EVENT_DTYPE` (ON is ``p > 0``), checked against the
        sensor and the time order."""
        out = np.empty(max(b - a, 0), dtype=EVENT_DTYPE)
        if b <= a:
            return out
        path = self.recording.data_path
        data = self._open()[1]
        try:
            rows = data[self._events_key][a:b]
        except OSError as exc:
            raise TruncatedError(path, None, f"cannot read {self._events_key}[{a}:{b}] ({exc})") from exc
        x, y, t, p = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
        ok = (x >= 0) & (x < self.width) & (y >= 0) & (y < self.height)
        ok &= (x == np.floor(x)) & (y == np.floor(y))
        if not ok.all():
            i = int(np.argmin(ok))
            raise CoordinateError(path, a + i, f"{self._events_key} row {a + i}: "
                                               f"(x, y) = ({x[i]:g}, {y[i]:g}) is not a pixel of the "
                                               f"{self.width}x{self.height} sensor "
                                               "(the depth maps' size)", unit="row")
        if not (np.isfinite(t).all() and np.isfinite(p).all()):
            i = int(np.argmin(np.isfinite(t) & np.isfinite(p)))
            raise EventFormatError(path, a + i, f"{self._events_key} row {a + i}: t = {t[i]}, p = {p[i]} "
                                                "must be finite", unit="row")
        out["x"] = x
        out["y"] = y
        out["p"] = p > 0
        out["t"] = _to_us(t)
        if len(out) > 1 and np.any(np.diff(out["t"]) < 0):
            raise self._unsorted(a + int(np.argmax(np.diff(out["t"]) < 0)) + 1)
        return out

    def events_between(self, t0: int, t1: int) -> np.ndarray:
        """The events with ``t0 <= t < t1`` (µs)."""
        return self.read_events(*self.bounds(t0, t1))

    def depth(self, k: int) -> np.ndarray:
        """Depth map ``k``, float32 metres, NaN where there is none."""
        gt = self._open()[2]
        try:
            return np.asarray(gt[self._depth_path][k], dtype=np.float32)
        except OSError as exc:
            raise TruncatedError(self.recording.gt_path, None,
                                 f"cannot read {self._depth_path}[{k}] ({exc})") from exc

    def maps(self, window_us: int | None = None) -> list[int]:
        """The map indices that make samples (within the recording's ``maps`` fraction range)."""
        m = len(self.depth_ts)
        f0, f1 = self.recording.maps
        ks = range(math.floor(f0 * m + 1e-9), math.floor(f1 * m + 1e-9))
        if self.first_event_us is None:
            return []
        if window_us is None:
            return [k for k in ks if k >= 1]
        return [k for k in ks if self.depth_ts[k] - window_us >= self.first_event_us]

    def window(self, k: int, window_us: int | None = None) -> tuple[int, int]:
        """The time window ``[t0, t1)`` (µs) of map ``k``'s events."""
        t1 = int(self.depth_ts[k])
        return (int(self.depth_ts[k - 1]) if window_us is None else t1 - int(window_us)), t1


class MvsecDepth(Dataset):
    """Depth samples of some recordings: ``dataset[i]`` is a dict of

    * ``input``: ``representation(events, t0, t1)``, float32 ``[T, C, H', W']`` (model geometry);
    * ``depth``: float32 ``[1, H, W]``, metres, NaN where there is no ground truth;
    * ``target``: float32 ``[1, H, W]``, normalised log depth (0 where ``mask`` is false);
    * ``mask``: bool ``[1, H, W]``, finite depth above 0;
    * ``t``: the map's time (µs), ``recording`` and ``map``: which recording and map it is.

    ``H, W`` is the sensor's size, or the crop's. ``representation`` must be built for the sensor's
    geometry (or is rebuilt for the crop's). Items come in time order within each recording, and
    :attr:`items` says which ``(recording, map)`` each is, for streaming evaluation.
    """

    def __init__(
        self,
        recordings: Sequence[Recording],
        representation: DepthInput,
        *,
        window_us: int | None = None,
        max_depth: float = 80.0,
        alpha: float = 3.7,
        augment: bool = False,
        crop: tuple[int, int] | None = None,
        seed: int = 0,
        camera: str = "left",
    ) -> None:
        if window_us is not None and window_us <= 0:
            raise ValueError(f"window_us must be positive, got {window_us}")
        self.recordings = [DepthRecording(r, camera) for r in recordings]
        self.representation = representation
        self.window_us = window_us
        self.max_depth, self.alpha = float(max_depth), float(alpha)
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        for rec in self.recordings:
            if (rec.width, rec.height) != (representation.width, representation.height):
                raise MvsecLayoutError(rec.recording.gt_path, None,
                                       f"depth maps are {rec.width}x{rec.height}, but the input is built for "
                                       f"{representation.width}x{representation.height}")
        if crop is not None:
            cw, ch = crop
            if not (0 < cw <= representation.width and 0 < ch <= representation.height):
                raise ValueError(f"crop {crop} must fit the "
                                 f"{representation.width}x{representation.height} sensor")
        self.crop = None if crop is None else (int(crop[0]), int(crop[1]))
        self._cropped = None if crop is None else representation.with_sensor(*self.crop)
        self.items: list[tuple[int, int]] = [
            (r, k) for r, rec in enumerate(self.recordings) for k in rec.maps(window_us)]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def window(self, i: int) -> tuple[np.ndarray, int, int]:
        """Item ``i``'s events (sensor coordinates, not augmented) and its window ``[t0, t1)`` (µs)."""
        r, k = self.items[i]
        rec = self.recordings[r]
        t0, t1 = rec.window(k, self.window_us)
        if self.window_us is None:
            ev = rec.read_events(int(rec.first_index[k - 1]), int(rec.first_index[k]))
        else:
            ev = rec.events_between(t0, t1)
        return ev, t0, t1

    def __getitem__(self, i: int) -> dict[str, Any]:
        if not 0 <= i < len(self.items):
            raise IndexError(f"index {i} out of range for {len(self.items)} samples")
        r, k = self.items[i]
        rec = self.recordings[r]
        ev, t0, t1 = self.window(i)
        depth = rec.depth(k)
        rep = self.representation
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            if rng.random() < 0.5:
                ev = ev.copy()
                ev["x"] = rec.width - 1 - ev["x"]
                depth = depth[:, ::-1]
            if self.crop is not None:
                cw, ch = self.crop
                x0 = int(rng.integers(0, rec.width - cw + 1))
                y0 = int(rng.integers(0, rec.height - ch + 1))
                ev = _crop_events(ev, x0, y0, cw, ch)
                depth = depth[y0:y0 + ch, x0:x0 + cw]
                rep = self._cropped
        elif self.crop is not None:
            cw, ch = self.crop
            x0, y0 = (rec.width - cw) // 2, (rec.height - ch) // 2
            ev = _crop_events(ev, x0, y0, cw, ch)
            depth = depth[y0:y0 + ch, x0:x0 + cw]
            rep = self._cropped
        depth = np.ascontiguousarray(depth, dtype=np.float32)
        mask = np.isfinite(depth) & (depth > 0)
        target = np.where(mask, depth_to_log(np.where(mask, depth, 1.0), self.max_depth, self.alpha), 0.0)
        return {
            "input": rep(ev, t0, t1),
            "depth": torch.from_numpy(depth[None]),
            "target": torch.from_numpy(target.astype(np.float32)[None]),
            "mask": torch.from_numpy(mask[None]),
            "t": t1,
            "recording": r,
            "map": k,
        }

    def close(self) -> None:
        for rec in self.recordings:
            rec.close()


def _crop_events(ev: np.ndarray, x0: int, y0: int, w: int, h: int) -> np.ndarray:
    keep = (ev["x"] >= x0) & (ev["x"] < x0 + w) & (ev["y"] >= y0) & (ev["y"] < y0 + h)
    out = ev[keep]
    out["x"] -= x0
    out["y"] -= y0
    return out


def mvsec_depth(root: str | os.PathLike, split: str, representation: DepthInput, **kwargs: Any) -> MvsecDepth:
    """:class:`MvsecDepth` over the recordings of ``split`` under ``root`` (see :func:`split_recordings`)."""
    return MvsecDepth(split_recordings(root, split), representation, **kwargs)


__all__ = [
    "DATA_SUFFIX",
    "GT_SUFFIX",
    "MVSEC_SPLITS",
    "VAL_FRACTION",
    "DepthRecording",
    "MvsecDepth",
    "MvsecLayoutError",
    "Recording",
    "find_recordings",
    "mvsec_depth",
    "split_recordings",
]
