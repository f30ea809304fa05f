"""Events in NumPy files: a structured ``.npy`` array, or an ``.npz`` archive of columns.

Reading:

* ``.npy``: a 1-D structured array with integer fields x, y, p, t (any integer types, any
  order, other fields ignored; ``polarity``/``pol`` and ``timestamp``/``ts`` are accepted
  too, as dv-processing and older Prophesee tools name them). It is memory-mapped and
  converted to :data:`EVENT_DTYPE` chunk by chunk.
* ``.npz``: arrays x, y, p, t of equal length, plus optional scalars ``width`` and ``height``.
  Members stored uncompressed (``np.savez``) are memory-mapped inside the archive; compressed
  ones (``np.savez_compressed``) are decompressed as a stream, so a seek there decodes forward
  from the nearest indexed chunk instead of binary searching.
* Polarity {-1, 1} is read as {0, 1}. Geometry comes from ``geometry=(w, h)``, else the
  archive's ``width``/``height``, else the largest x and y plus one (a full pass, logged).
* Time must not decrease: :class:`TimeOrderError`, or with ``strict=False`` the event is
  dropped and counted, as are events with a bad polarity or outside the geometry.

Writing: ``.npy`` streams :data:`EVENT_DTYPE` records after a header whose shape is fixed up
at :meth:`close` (a file whose writer died keeps shape 0: ``strict=False`` reads its events
back). ``.npz`` spools each column to a temporary file beside the target, so memory stays
bounded, and builds the archive (``x, y, p, t, width, height``) at close; ``compress=True``
deflates it.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import tempfile
import tokenize
import zipfile
from collections.abc import Iterator

import numpy as np
from numba import njit

from .errors import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
)
from .events import EVENT_DTYPE
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
ALIASES = {"x": ("x",), "y": ("y",), "p": ("p", "polarity", "pol"), "t": ("t", "ts", "timestamp")}
_T_MIN = int(np.iinfo(np.int64).min)
_COPY_BLOCK = 1 << 22

Columns = dict[str, np.ndarray]

_OK, _POLARITY, _OUTSIDE, _BACKWARDS = 0, 1, 2, 3
_REASONS = {_POLARITY: "bad_polarity", _OUTSIDE: "outside_geometry", _BACKWARDS: "time_backwards"}


@njit(cache=True, nogil=True)
def _convert_columns(xs, ys, ps, ts, width, height, strict, last, x, y, p, t, counts):
    """Check and convert columns of any integer types into the x, y, p, t event columns.

    Returns (n_out, last t, error code, index): ``strict`` stops at the first bad event, else bad
    events are skipped and counted by code. Polarity -1 becomes 0.
    """
    k = 0
    for i in range(xs.shape[0]):
        xx, yy, pp, tt = np.int64(xs[i]), np.int64(ys[i]), np.int64(ps[i]), np.int64(ts[i])
        code = _OK
        if pp != 0 and pp != 1 and pp != -1:
            code = _POLARITY
        elif xx < 0 or yy < 0 or xx >= width or yy >= height:
            code = _OUTSIDE
        elif tt < last:
            code = _BACKWARDS
        if code != _OK:
            if strict:
                return k, last, code, i
            counts[code] += 1
            continue
        x[k] = xx
        y[k] = yy
        p[k] = 1 if pp == 1 else 0
        t[k] = tt
        last = tt
        k += 1
    return k, last, _OK, -1


def _read_npy_header(f, path: str, where: int) -> tuple[tuple[int, ...], np.dtype]:
    try:
        version = np.lib.format.read_magic(f)
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, fortran, dtype = read(f)
    except (ValueError, OSError, SyntaxError, EOFError, TypeError, tokenize.TokenError) as exc:
        # numpy parses the header dict with tokenize/ast: corrupt text raises their errors too
        raise HeaderError(path, where, f"not a valid .npy header: {exc}") from exc
    if fortran and len(shape) > 1:
        raise HeaderError(path, where, "Fortran-ordered arrays are not event arrays")
    return shape, dtype


def _check_integer(path: str, name: str, dtype: np.dtype) -> None:
    if dtype.kind not in "iub":
        raise HeaderError(path, 0, f"field {name!r} has dtype {dtype}; events need integers (t in µs)")


class _MappedColumns:
    """Columns that allow random access (memory-mapped arrays)."""

    random = True

    def __init__(self, cols: Columns, n: int) -> None:
        self.cols = cols
        self.n = n

    def chunks(self, start: int, size: int) -> Iterator[tuple[int, Columns]]:
        for a in range(start, self.n, size):
            yield a, {k: np.asarray(v[a : a + size]) for k, v in self.cols.items()}

    def t_at(self, i: int) -> int:
        return int(self.cols["t"][i])


class _ZipStreamColumns:
    """Columns decompressed member by member, in lockstep, from an ``.npz`` archive."""

    random = False

    def __init__(self, path: str, members: dict[str, zipfile.ZipInfo], dtypes: dict[str, np.dtype], n: int):
        self.path = path
        self.members = members
        self.dtypes = dtypes
        self.n = n

    def _read(self, stream, nbytes: int, name: str) -> bytes:
        try:
            data = stream.read(nbytes)
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise EventFormatError(self.path, None, f"member {name}.npy is corrupt: {exc}") from exc
        if len(data) < nbytes:
            raise TruncatedError(self.path, None, f"member {name}.npy ends early")
        return data

    def chunks(self, start: int, size: int) -> Iterator[tuple[int, Columns]]:
        with zipfile.ZipFile(self.path) as zf:
            streams = {k: zf.open(info) for k, info in self.members.items()}
            try:
                for k, s in streams.items():
                    _read_npy_header(s, self.path, 0)
                    skip = start * self.dtypes[k].itemsize
                    while skip:
                        skip -= len(self._read(s, min(skip, _COPY_BLOCK), k))
                for a in range(start, self.n, size):
                    b = min(a + size, self.n)
                    cols = {}
                    for k, s in streams.items():
                        dtype = self.dtypes[k]
                        cols[k] = np.frombuffer(self._read(s, (b - a) * dtype.itemsize, k), dtype)
                    yield a, cols
            finally:
                for s in streams.values():
                    s.close()


def _stored_member(path: str, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and absolute data offset of an uncompressed ``.npy`` member of a zip."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) < 30 or not local.startswith(ZIP_MAGIC):
            raise HeaderError(path, info.header_offset, f"bad zip entry for {info.filename}")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        f.seek(start)
        shape, dtype = _read_npy_header(f, path, start)
        offset = f.tell()
    if len(shape) == 1 and offset + shape[0] * dtype.itemsize > start + info.file_size:
        raise TruncatedError(path, offset, f"array {info.filename} holds fewer values than its header "
                                           "declares")
    return shape, dtype, offset


def _field_name(names: tuple[str, ...], key: str) -> str | None:
    return next((a for a in ALIASES[key] if a in names), None)


class NumpyReader(EventSource):
    """Stream events from a structured ``.npy`` or a column ``.npz`` (see the module doc)."""

    def __init__(self, path: str | os.PathLike, *, strict: bool = True,
                 geometry: tuple[int, int] | None = None, chunk_events: int = 1 << 20) -> None:
        path = os.fspath(path)
        super().__init__(path, strict)
        self._chunk = int(chunk_events)
        size = os.path.getsize(path)
        if size == 0:
            raise EmptyFileError(path, 0, "the file is empty")
        with open(path, "rb") as f:
            head = f.read(8)
        self._layout: tuple[int, int] | None = None  # (data offset, itemsize) of an .npy, for error offsets
        self._missing = 0
        stored: tuple[int, int] | None = None
        if head.startswith(NPY_MAGIC):
            self._cols = self._open_npy(path, size)
        elif head.startswith(ZIP_MAGIC):
            self._cols, stored = self._open_npz(path)
        else:
            raise HeaderError(path, 0, "neither a .npy file (\\x93NUMPY) nor an .npz archive (zip)")
        if geometry is not None:
            if stored is not None and tuple(geometry) != stored:
                log.warning("%s: geometry=%s overrides the stored %dx%d", path, tuple(geometry), *stored)
            stored = (int(geometry[0]), int(geometry[1]))
        if stored is None:
            stored = self._scan_geometry()
            log.info("%s: no geometry stored or given; using the largest x and y plus one: %dx%d",
                     path, *stored)
        n = self._cols.n
        self.info = StreamInfo(width=stored[0], height=stored[1], format="npy", path=path)
        if strict:
            self.info.event_count = n
            if n and self._cols.random:
                self.info.start_time = self._cols.t_at(0)
                self.info.end_time = self._cols.t_at(n - 1)

    # -- opening ---------------------------------------------------------------------------

    def _open_npy(self, path: str, size: int) -> _MappedColumns:
        with open(path, "rb") as f:
            shape, dtype = _read_npy_header(f, path, 0)
            offset = f.tell()
        if dtype.names is None or len(shape) != 1:
            raise HeaderError(path, 0, f"expected a 1-D structured array with fields x, y, p, t; got {dtype} "
                                       f"of shape {shape}")
        fields = {k: _field_name(dtype.names, k) for k in ALIASES}
        missing = [k for k, v in fields.items() if v is None]
        if missing:
            raise HeaderError(path, 0, f"the array lacks fields {missing}; has {dtype.names}")
        for name in fields.values():
            _check_integer(path, name, dtype[name])
        n, item = shape[0], dtype.itemsize
        whole, tail = divmod(size - offset, item)
        extra = size - offset - n * item
        if extra > 0:
            if self.strict:
                raise HeaderError(path, offset + n * item, f"{extra} bytes follow the {n} events the header "
                                  "declares (was its writer interrupted?); strict=False reads them")
            log.warning("%s: reading %d events beyond the %d the header declares", path, whole - n, n)
            n, self._missing = whole, int(tail > 0)
        elif extra < 0:
            self._missing = n - whole
            n = whole
        self._layout = (offset, item)
        arr = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n,)) if n else np.empty(0, dtype)
        return _MappedColumns({k: arr[name] for k, name in fields.items()}, n)

    def _open_npz(self, path: str) -> tuple[_MappedColumns | _ZipStreamColumns, tuple[int, int] | None]:
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise HeaderError(path, 0, f"not a valid .npz (zip) archive: {exc}") from exc
        with zf:
            infos = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
            members = {k: infos.get(_field_name(tuple(infos), k) or "") for k in ALIASES}
            missing = [k for k, v in members.items() if v is None]
            if missing:
                raise HeaderError(path, 0, f"the archive lacks arrays {missing}; has {sorted(infos)}")
            shapes, dtypes, offsets = {}, {}, {}
            for k, info in members.items():
                if info.compress_type == zipfile.ZIP_STORED:
                    shapes[k], dtypes[k], offsets[k] = _stored_member(path, info)
                else:
                    with zf.open(info) as s:
                        shapes[k], dtypes[k] = _read_npy_header(s, path, 0)
                if len(shapes[k]) != 1:
                    raise HeaderError(path, None, f"array {info.filename} has shape {shapes[k]}; "
                                                  "expected 1-D")
                _check_integer(path, info.filename, dtypes[k])
            lengths = {shapes[k][0] for k in members}
            if len(lengths) != 1:
                raise HeaderError(path, None, f"arrays x, y, p, t differ in length: "
                                              f"{ {k: shapes[k][0] for k in members} }")
            n = lengths.pop()
            stored = None
            if "width" in infos and "height" in infos:
                try:
                    with zf.open(infos["width"]) as w, zf.open(infos["height"]) as h:
                        stored = (int(np.load(w)), int(np.load(h)))
                except (ValueError, TypeError, OSError, zipfile.BadZipFile) as exc:
                    raise HeaderError(path, None, f"width/height are not two integers: {exc}") from exc
        if len(offsets) == len(members):
            cols = {k: np.memmap(path, dtype=dtypes[k], mode="r", offset=offsets[k], shape=(n,)) if n
                    else np.empty(0, dtypes[k]) for k in members}
            return _MappedColumns(cols, n), stored
        return _ZipStreamColumns(path, members, dtypes, n), stored

    def _scan_geometry(self) -> tuple[int, int]:
        w = h = 0
        for _, cols in self._cols.chunks(0, self._chunk):
            if len(cols["x"]):
                w = max(w, int(cols["x"].max()) + 1)
                h = max(h, int(cols["y"].max()) + 1)
        return w, h

    # -- decoding --------------------------------------------------------------------------

    def _where(self, i: int) -> tuple[int | None, str]:
        if self._layout is not None:
            return self._layout[0] + i * self._layout[1], f"event #{i}"
        return None, f"event #{i}"

    def _convert(self, a: int, cols: Columns, last: int) -> tuple[np.ndarray, int, dict[str, int]]:
        xs, ys, ps, ts = (c if c.dtype.isnative else c.astype(c.dtype.newbyteorder("="))
                          for c in (cols["x"], cols["y"], cols["p"], cols["t"]))
        ev = np.empty(len(xs), dtype=EVENT_DTYPE)
        counts = np.zeros(4, dtype=np.int64)
        k, new_last, code, i = _convert_columns(xs, ys, ps, ts, self.info.width, self.info.height,
                                                self.strict, last, ev["x"], ev["y"], ev["p"], ev["t"], counts)
        if code != _OK:
            where, what = self._where(a + i)
            if code == _POLARITY:
                raise EventFormatError(self.path, where, f"{what}: polarity {ps[i]}, expected 0 or 1 "
                                                         "(or -1 or 1)")
            if code == _OUTSIDE:
                raise CoordinateError(self.path, where, f"{what} at x={xs[i]}, y={ys[i]} is outside the "
                                                        f"{self.info.width}x{self.info.height} geometry")
            raise TimeOrderError(self.path, where, f"{what}: time goes back from {new_last} µs to {ts[i]} µs")
        return ev[:k], int(new_last), {_REASONS[c]: int(counts[c]) for c in _REASONS if counts[c]}

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        start, last = (0, _T_MIN) if checkpoint is None else (checkpoint.offset, checkpoint.state)
        for a, cols in self._cols.chunks(start, self._chunk):
            cp = Checkpoint(a, last)
            ev, last, skipped = self._convert(a, cols, last)
            yield Chunk(cp, ev, skipped=skipped)
        if self._missing:
            where, _ = self._where(self._cols.n)
            if self.strict:
                raise TruncatedError(self.path, where, f"the file ends {self._missing} event(s) short of "
                                                       "what its header declares")
            yield Chunk(Checkpoint(self._cols.n, last), np.empty(0, EVENT_DTYPE), skipped={"truncated": 1})

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        """Binary search on the t column where it is memory-mapped; the base index otherwise."""
        if not self._cols.random:
            return super()._checkpoint_for(t)
        lo, hi = 0, self._cols.n
        while lo < hi:
            mid = (lo + hi) // 2
            if self._cols.t_at(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return Checkpoint(lo, self._cols.t_at(lo - 1)) if lo else None

    def _close(self) -> None:
        self._cols = _MappedColumns({}, 0)


def _npy_header(n: int, dtype: np.dtype, total: int | None = None) -> bytes:
    """A version 1.0 ``.npy`` header for ``n`` records, padded to ``total`` bytes (a multiple of 64)."""
    descr = np.lib.format.dtype_to_descr(dtype)
    text = f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': ({n},), }}"
    need = len(NPY_MAGIC) + 4 + len(text) + 1
    total = total or -(-need // 64) * 64
    padded = text + " " * (total - need) + "\n"
    return NPY_MAGIC + b"\x01\x00" + struct.pack("<H", total - 10) + padded.encode("latin-1")


class NumpyWriter(EventWriter):
    """Write :data:`EVENT_DTYPE` events to ``.npy`` (streamed) or ``.npz`` (built at close)."""

    def __init__(self, path: str | os.PathLike, width: int, height: int, *, compress: bool = False) -> None:
        super().__init__(path, width, height)
        ext = os.path.splitext(self.path)[1].lower()
        if ext not in (".npy", ".npz"):
            raise ValueError(f"{self.path}: NumpyWriter writes .npy or .npz files")
        self._npz = ext == ".npz"
        self._compress = compress
        if self._npz:
            folder = os.path.dirname(os.path.abspath(self.path))
            self._tmp = {k: tempfile.TemporaryFile(dir=folder, prefix=".spikesight-")
                         for k in EVENT_DTYPE.names}
        else:
            self._header_size = len(_npy_header(2**63 - 1, EVENT_DTYPE))
            self._f = open(self.path, "wb")
            self._f.write(_npy_header(0, EVENT_DTYPE, self._header_size))

    def _write(self, events: np.ndarray) -> None:
        if bool(np.any((events["p"] != 0) & (events["p"] != 1))):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        if self._npz:
            for k, f in self._tmp.items():
                f.write(np.ascontiguousarray(events[k]).tobytes())
        else:
            self._f.write(np.ascontiguousarray(events).tobytes())

    def _finish(self) -> None:
        if not self._npz:
            self._f.seek(0)
            self._f.write(_npy_header(self.count, EVENT_DTYPE, self._header_size))
            self._f.close()
            return
        mode = zipfile.ZIP_DEFLATED if self._compress else zipfile.ZIP_STORED
        with zipfile.ZipFile(self.path, "w", compression=mode, allowZip64=True) as zf:
            for k, f in self._tmp.items():
                f.seek(0)
                with zf.open(f"{k}.npy", "w", force_zip64=True) as out:
                    out.write(_npy_header(self.count, EVENT_DTYPE[k]))
                    shutil.copyfileobj(f, out, _COPY_BLOCK)
                f.close()
            for k, v in (("width", self.width), ("height", self.height)):
                with zf.open(f"{k}.npy", "w") as out:
                    np.lib.format.write_array(out, np.asarray(v, dtype=np.int64))
