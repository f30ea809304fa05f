"""Write a recording in the layout of MVSEC's HDF5 files (as its ``mvsec_h5py.py`` converter does).

``<name>_data.hdf5``: ``davis/left/events``, float64 rows ``[x, y, t, p]`` with ``t`` in seconds
(absolute, from ``time_origin``) and ``p`` = +1 (ON) or -1 (OFF) (the converter's
``(polarity - 0.5) * 2``); ``davis/left/image_raw`` uint8 ``[N, H, W]`` (lzf, one image per chunk),
``image_raw_ts`` (s) and ``image_raw_event_inds`` (the index of the last event before each image:
``searchsorted(t, image_ts) - 1``).

``<name>_gt.hdf5``: ``davis/left/depth_image_raw`` float32 ``[N, H, W]`` in metres, NaN where there
is no depth, and ``depth_image_raw_ts``; ``depth_image_rect`` (and ``_ts``) name the same data (our
camera has no lens distortion); ``pose`` ``[N, 4, 4]`` with ``pose_ts``: the camera pose of each depth
map in the simulator's world frame.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

CHUNK_ROWS = 1 << 15


class MvsecWriter:
    """Streams the events, frames and depth maps of one camera into ``<stem>_data.hdf5`` and
    ``<stem>_gt.hdf5``."""

    def __init__(self, stem: str | os.PathLike, width: int, height: int, time_origin: float = 1.5e9) -> None:
        stem = os.fspath(stem)
        self.width, self.height = int(width), int(height)
        self.origin = float(time_origin)
        self.data_path, self.gt_path = stem + "_data.hdf5", stem + "_gt.hdf5"
        self._data = h5py.File(self.data_path, "w")
        self._gt = h5py.File(self.gt_path, "w")
        cam = self._data.create_group("davis/left")
        self._events = cam.create_dataset(
            "events", shape=(0, 4), maxshape=(None, 4), dtype=np.float64, chunks=(CHUNK_ROWS, 4)
        )
        hw = (self.height, self.width)
        self._images = cam.create_dataset(
            "image_raw",
            shape=(0, *hw),
            maxshape=(None, *hw),
            dtype=np.uint8,
            chunks=(1, *hw),
            compression="lzf",
        )
        self._image_ts = cam.create_dataset(
            "image_raw_ts", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(4096,)
        )
        self._image_inds = cam.create_dataset(
            "image_raw_event_inds", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,)
        )
        gt = self._gt.create_group("davis/left")
        self._depth = gt.create_dataset(
            "depth_image_raw",
            shape=(0, *hw),
            maxshape=(None, *hw),
            dtype=np.float32,
            chunks=(1, *hw),
            compression="lzf",
        )
        self._depth_ts = gt.create_dataset(
            "depth_image_raw_ts", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(4096,)
        )
        gt["depth_image_rect"] = self._depth
        gt["depth_image_rect_ts"] = self._depth_ts
        self._pose = gt.create_dataset(
            "pose", shape=(0, 4, 4), maxshape=(None, 4, 4), dtype=np.float64, chunks=(256, 4, 4)
        )
        self._pose_ts = gt.create_dataset(
            "pose_ts", shape=(0,), maxshape=(None,), dtype=np.float64, chunks=(4096,)
        )
        self.count = 0
        self._last_t: int | None = None
        self._closed = False

    def seconds(self, t_us: np.ndarray | int) -> np.ndarray | float:
        """Microseconds of the stream as the file's absolute seconds."""
        return self.origin + np.asarray(t_us, dtype=np.float64) * 1e-6

    def write(self, events: np.ndarray) -> None:
        """Append time-ordered events (EVENT_DTYPE)."""
        if not len(events):
            return
        t = events["t"]
        if (self._last_t is not None and t[0] < self._last_t) or bool(np.any(np.diff(t) < 0)):
            raise ValueError(f"{self.data_path}: events must come in time order")
        rows = np.empty((len(events), 4))
        rows[:, 0] = events["x"]
        rows[:, 1] = events["y"]
        rows[:, 2] = self.seconds(t)
        rows[:, 3] = np.where(events["p"] > 0, 1.0, -1.0)
        n = self.count
        self._events.resize(n + len(rows), axis=0)
        self._events[n:] = rows
        self.count += len(rows)
        self._last_t = int(t[-1])

    @staticmethod
    def _append(dset: h5py.Dataset, value) -> None:
        n = dset.shape[0]
        dset.resize(n + 1, axis=0)
        dset[n] = value

    def write_image(self, t_us: int, image: np.ndarray, events_before: int) -> None:
        """An APS-like frame at ``t_us``; ``events_before``: how many events written have ``t < t_us``."""
        self._append(self._images, image)
        self._append(self._image_ts, self.seconds(t_us))
        self._append(self._image_inds, events_before - 1)

    def write_depth(self, t_us: int, depth: np.ndarray, pose: np.ndarray | None = None) -> None:
        """A depth map (metres, NaN where none) at ``t_us``, with the camera pose if known."""
        self._append(self._depth, depth.astype(np.float32))
        self._append(self._depth_ts, self.seconds(t_us))
        if pose is not None:
            self._append(self._pose, pose)
            self._append(self._pose_ts, self.seconds(t_us))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._data.close()
            self._gt.close()

    def __enter__(self) -> MvsecWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
