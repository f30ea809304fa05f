"""MVSEC event files (``<sequence>_data.hdf5``): the DAVIS346 events of either camera.

Layout (written by MVSEC's ``mvsec_h5py.py`` converter from the ROS bags): ``/davis/left/events``
and ``/davis/right/events``, each an ``(N, 4)`` float64 array of rows ``[x, y, t, p]``, with ``t``
in **seconds of UNIX (ROS) time** and ``p`` = ±1 (the converter maps the bag's 0/1 polarity
through ``(p - 0.5) * 2``; 0 is accepted as OFF too, for files converted otherwise). The
geometry is 346x260. Depth, images, IMU and poses live beside the events and are not read here.

Times become integer microseconds as ``round(t * 1e6)``: the time of day is kept, not shifted to
zero, so values are large (about 1.5e15 µs). float64 holds such a time to about 0.25 µs, so
rounding recovers every whole microsecond exactly. Seeking bisects the ``t`` column with
single-row reads; nothing before the target is decoded.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
from numba import njit

from .errors import HeaderError
from .hdf5 import (
    DEFAULT_CHUNK_EVENTS,
    NO_TIME,
    H5EventSource,
    check_filters,
    chunk_rows,
    describe_h5,
    open_h5,
)
from .info import StreamInfo

MVSEC_GEOMETRY = (346, 260)
CAMERAS = ("left", "right")


class MvsecReader(H5EventSource):
    """Reads the events of one DAVIS camera (``camera="left"`` or ``"right"``) of an MVSEC file."""

    layout = "mvsec"
    _polarities = "{-1, 0, 1} (-1 and 0 are OFF)"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        strict: bool = True,
        camera: str = "left",
        geometry: tuple[int, int] = MVSEC_GEOMETRY,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
    ) -> None:
        super().__init__(path, strict, chunk_events)
        if camera not in CAMERAS:
            raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")
        f = self._file = open_h5(self.path)
        try:
            self._open(f, camera, geometry)
        except BaseException:
            self.close()
            raise

    def _open(self, f: h5py.File, camera: str, geometry: tuple[int, int]) -> None:
        path = self.path
        dset = f.get(f"davis/{camera}/events")
        if not isinstance(dset, h5py.Dataset):
            have = [c for c in CAMERAS if isinstance(f.get(f"davis/{c}/events"), h5py.Dataset)]
            raise HeaderError(
                path,
                None,
                f"no /davis/{camera}/events (MVSEC layout); cameras with events: "
                f"{have or 'none'}; found: {describe_h5(f)}",
            )
        if dset.ndim != 2 or dset.shape[1] != 4 or dset.dtype.kind not in "fiu":
            raise HeaderError(
                path,
                None,
                f"{dset.name} must be an (N, 4) numeric array of [x, y, t, p] rows; "
                f"it is {dset.shape} {dset.dtype}",
            )
        check_filters(path, dset)
        self._dset = dset
        self._buf: np.ndarray | None = None
        self._where = dset.name
        self._set_rows(dset.shape[0], chunk_rows(dset))
        meta = {"layout": self.layout, "camera": camera, "time_in_file": "UNIX seconds (float64)"}
        self.info = StreamInfo(
            width=int(geometry[0]), height=int(geometry[1]), format="hdf5", path=path, metadata=meta
        )
        if self.strict:
            self.info.event_count = self._rows
            if self._rows:
                self.info.start_time = self._t_at(0)
                self.info.end_time = self._t_at(self._rows - 1)

    def _read_rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        buf = self._buf
        if buf is None:
            buf = self._buf = np.empty((self._grid, 4), dtype=np.float64)
        self._dset.read_direct(buf, np.s_[a:b], np.s_[0 : b - a])
        n = b - a
        x, y, p, t = (np.empty(n, dtype=np.int64) for _ in range(4))
        _columns(buf[:n], x, y, p, t)
        return x, y, p, t

    def _t_at(self, i: int) -> int:
        try:
            t_s = float(self._dset[i, 2])
        except OSError as exc:
            raise self._io_error(exc, i, i + 1) from exc
        return round(t_s * 1e6) if abs(t_s * 1e6) < 9.0e18 else NO_TIME


@njit(cache=True, nogil=True)
def _columns(rows, x, y, p, t):
    """``[x, y, t_s, p]`` float rows -> integer columns; x = -1 marks non-pixel coordinates,
    p = 2 a polarity other than -1, 0, 1, t = NO_TIME a time that is not finite."""
    for i in range(rows.shape[0]):
        xf = rows[i, 0]
        yf = rows[i, 1]
        tf = rows[i, 2] * 1e6
        pf = rows[i, 3]
        if 0 <= xf < 65536 and 0 <= yf < 65536 and np.floor(xf) == xf and np.floor(yf) == yf:
            x[i] = np.int64(xf)
            y[i] = np.int64(yf)
        else:
            x[i] = -1
            y[i] = -1
        p[i] = 1 if pf == 1 else (0 if pf == 0 or pf == -1 else 2)
        t[i] = np.int64(np.rint(tf)) if abs(tf) < 9.0e18 else NO_TIME
