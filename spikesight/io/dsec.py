"""DSEC event files (``events.h5`` of each sequence's ``events/left`` or ``events/right``).

Layout (DSEC's README and its writer scripts): ``/events/x``, ``/events/y`` (uint16),
``/events/p`` (uint8, 0 or 1), ``/events/t`` (uint32, µs **relative** to ``/t_offset``), all
the same length; ``/t_offset`` (int64 scalar, µs; absent means 0) and ``/ms_to_idx`` (uint64,
entry ``ms`` = index of the first event with ``t >= 1000 ms``). The datasets are usually
compressed with Blosc (zstd + bit shuffle); ``hdf5plugin`` decodes them. The geometry is
640x480 (raw, not rectified, sensor coordinates).

Output times **include ``t_offset``**: ``t = events/t + t_offset``, the time base DSEC's images,
disparity and the other camera use. Seeking reads one ``ms_to_idx`` entry and checks it with
one row of ``t``; without a usable entry it bisects ``t``.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from .errors import HeaderError
from .hdf5 import (
    DEFAULT_CHUNK_EVENTS,
    H5EventSource,
    check_filters,
    chunk_rows,
    describe_h5,
    open_h5,
)
from .info import StreamInfo

DSEC_GEOMETRY = (640, 480)
COLUMNS = ("x", "y", "t", "p")


class DsecReader(H5EventSource):
    """Reads a DSEC ``events.h5`` file; times come out as ``events/t + t_offset`` µs."""

    layout = "dsec"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        strict: bool = True,
        geometry: tuple[int, int] = DSEC_GEOMETRY,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
    ) -> None:
        super().__init__(path, strict, chunk_events)
        f = self._file = open_h5(self.path)
        try:
            self._open(f, geometry)
        except BaseException:
            self.close()
            raise

    def _open(self, f: h5py.File, geometry: tuple[int, int]) -> None:
        path = self.path
        cols = {}
        for name in COLUMNS:
            d = f.get(f"events/{name}")
            if not isinstance(d, h5py.Dataset):
                raise HeaderError(
                    path,
                    None,
                    f"no /events/{name} dataset (DSEC layout needs /events/x, y, t, p); "
                    f"found: {describe_h5(f)}",
                )
            if d.ndim != 1 or d.dtype.kind not in "iu":
                raise HeaderError(
                    path, None, f"{d.name} must be a 1-D integer dataset; it is {d.shape} {d.dtype}"
                )
            check_filters(path, d)
            cols[name] = d
        lengths = {name: d.shape[0] for name, d in cols.items()}
        if len(set(lengths.values())) != 1:
            raise HeaderError(path, None, f"the /events columns differ in length: {lengths}")
        self._cols = cols
        self._where = "/events"
        self._t_offset = self._read_t_offset(f)
        self._ms_to_idx = self._open_ms_to_idx(f)
        self._set_rows(lengths["t"], chunk_rows(cols["t"]))
        meta = {"layout": self.layout, "t_offset": str(self._t_offset)}
        self.info = StreamInfo(
            width=int(geometry[0]), height=int(geometry[1]), format="hdf5", path=path, metadata=meta
        )
        if self.strict:
            self.info.event_count = self._rows
            if self._rows:
                self.info.start_time = self._t_at(0)
                self.info.end_time = self._t_at(self._rows - 1)

    def _read_t_offset(self, f: h5py.File) -> int:
        d = f.get("t_offset")
        if d is None:
            return 0
        if not isinstance(d, h5py.Dataset) or d.size != 1 or d.dtype.kind not in "iu":
            raise HeaderError(self.path, None, f"/t_offset must be one integer (µs); it is {d}")
        return int(np.asarray(d[()]).reshape(-1)[0])

    def _open_ms_to_idx(self, f: h5py.File) -> h5py.Dataset | None:
        d = f.get("ms_to_idx")
        if isinstance(d, h5py.Dataset) and d.ndim == 1 and d.dtype.kind in "iu" and d.shape[0]:
            check_filters(self.path, d)
            return d
        return None

    def _read_rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        c = self._cols
        return c["x"][a:b], c["y"][a:b], c["p"][a:b], c["t"][a:b]

    def _t_at(self, i: int) -> int:
        try:
            return int(self._cols["t"][i]) + self._t_offset
        except OSError as exc:
            raise self._io_error(exc, i, i + 1) from exc

    def _row_hint(self, t: int) -> int | None:
        if self._ms_to_idx is None:
            return None
        ms = (t - self._t_offset) // 1000
        if ms <= 0:
            return 0
        return int(self._ms_to_idx[min(ms, self._ms_to_idx.shape[0] - 1)])
