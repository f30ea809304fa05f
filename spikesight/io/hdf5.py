"""HDF5 event files: Metavision's layout, read and written, and the opener for every HDF5 layout.

:func:`open_hdf5` looks inside the file and returns the reader for its layout: Metavision
(``/CD/events``, this module), MVSEC (``/davis/{left,right}/events``, :mod:`.mvsec`) or DSEC
(``/events/{x,y,t,p}``, :mod:`.dsec`). Every reader reads bounded slices of the datasets
(never a whole file), seeks through the file's own index (``/CD/indexes``, ``ms_to_idx``)
or a binary search over the stored times, and checks every event against the geometry,
the polarity set and the time order.

Metavision layout (written by the Metavision SDK / OpenEB ``HDF5EventFileWriter``):

- ``/CD/events``: compound ``x <u2 @0, y <u2 @2, p <i2 @4, t <i8 @8`` (16 bytes), chunks of
  16384 events, growable. The SDK compresses it with Prophesee's ECF codec (HDF5 filter
  0x8ECF, optional, no parameters), for which no HDF5 plugin ships on PyPI: this module moves
  the raw chunks with ``read_direct_chunk``/``write_direct_chunk`` and codes them with
  :mod:`.ecf` (a chunk whose filter mask says "not filtered" holds plain records). Other
  filters (gzip, and through ``hdf5plugin`` Blosc, Zstd, LZ4, Bitshuffle, ...) go through h5py.
- ``/CD/indexes``: ``(id <u8, ts <i8)`` with a string attribute ``offset`` = minus the first
  event time. Entry 0 is ``(0, -1)``; entry ``k >= 1`` is the first event with
  ``t - t_first >= 2000 (k - 1)`` µs and its relative time; a period without events repeats
  the entry before it. Readers take an entry as a hint and check it.
- ``/EXT_TRIGGER/events``: compound ``p <i2 @0, t <i8 @8, id <i2 @16`` (24 bytes), uncompressed,
  with ``/EXT_TRIGGER/indexes`` built the same way from the trigger times.
- Root attributes: scalar strings; ``version="1.0"``, ``geometry="1280x720"`` and whatever the
  camera reported (``generation``, ``serial_number``, ``integrator_name``, ...). A
  ``time_shift`` attribute is kept in the metadata, never applied: times come out as stored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping

import h5py
import hdf5plugin
import numpy as np
from numba import njit

from .ecf import (
    ECF_FILTER_ID,
    HEADER_BYTES,
    MAX_CHUNK_EVENTS,
    MAX_COORD,
    S_COUNT,
    S_MAX_X,
    S_MAX_Y,
    S_OFFSET,
    S_ORDERED,
    S_STATUS,
    EcfChunkError,
    decode_batch,
    encode_chunks,
    problem,
    usable_cpus,
)
from .errors import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnsupportedCodecError,
)
from .events import EVENT_DTYPE, TRIGGER_DTYPE, concat_events
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

CD_DTYPE = np.dtype(
    {
        "names": ["x", "y", "p", "t"],
        "formats": ["<u2", "<u2", "<i2", "<i8"],
        "offsets": [0, 2, 4, 8],
        "itemsize": 16,
    }
)
EXT_TRIGGER_DTYPE = np.dtype(
    {"names": ["p", "t", "id"], "formats": ["<i2", "<i8", "<i2"], "offsets": [0, 8, 16], "itemsize": 24}
)
INDEX_DTYPE = np.dtype([("id", "<u8"), ("ts", "<i8")])
INDEX_PERIOD_US = 2000
METAVISION_CHUNK = 16384
DEFAULT_CHUNK_EVENTS = 1 << 18

_PLUGIN_FILTERS = {
    "blosc": hdf5plugin.Blosc,
    "blosc2": hdf5plugin.Blosc2,
    "zstd": hdf5plugin.Zstd,
    "lz4": hdf5plugin.LZ4,
    "bitshuffle": hdf5plugin.Bitshuffle,
    "bzip2": hdf5plugin.BZip2,
}
NO_TIME = np.iinfo(np.int64).min
_REASONS = ("coordinates", "polarity", "timestamp", "time_order")


def open_h5(path: str | os.PathLike) -> h5py.File:
    """Open ``path`` read-only as HDF5, turning h5py's errors into :class:`EventFormatError`\\ s."""
    path = os.fspath(path)
    if os.path.getsize(path) == 0:
        raise EmptyFileError(path, 0, "the file is empty")
    if not h5py.is_hdf5(path):
        raise HeaderError(path, 0, "not an HDF5 file (no HDF5 signature)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if "truncated" in str(exc).lower():
            raise TruncatedError(path, None, f"the HDF5 file is truncated ({exc})") from exc
        raise HeaderError(path, None, f"cannot open the HDF5 file: {exc}") from exc


def describe_h5(f: h5py.File, limit: int = 30) -> str:
    """What a file holds, for error messages: ``name (shape dtype)`` of its first datasets and groups."""
    found: list[str] = []

    def visit(name: str, obj: object) -> None:
        if len(found) < limit:
            if isinstance(obj, h5py.Dataset):
                found.append(f"{name} {obj.shape} {obj.dtype}")
            else:
                found.append(f"{name}/")

    f.visititems(visit)
    return ", ".join(found) if found else "nothing (no groups or datasets)"


def filter_ids(dset: h5py.Dataset) -> list[int]:
    """The filter ids of ``dset``'s pipeline, in order (empty when it is stored unfiltered)."""
    dcpl = dset.id.get_create_plist()
    return [dcpl.get_filter(i)[0] for i in range(dcpl.get_nfilters())]


def is_ecf(dset: h5py.Dataset) -> bool:
    """True when ``dset`` is chunked and its only filter is Prophesee's ECF (what Metavision writes)."""
    return dset.chunks is not None and filter_ids(dset) == [ECF_FILTER_ID]


def check_filters(path: str, dset: h5py.Dataset) -> None:
    """Raise :class:`UnsupportedCodecError` when ``dset`` uses a compression filter this build lacks.

    Looks at the dataset's filter pipeline only: no data is read. (ECF alone on Metavision's
    ``/CD/events`` is decoded by :class:`MetavisionH5Reader` and never comes here.)
    """
    dcpl = dset.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        code, _flags, _values, name = dcpl.get_filter(i)
        if h5py.h5z.filter_avail(code):
            continue
        if code == ECF_FILTER_ID:
            raise UnsupportedCodecError(
                path,
                None,
                f"{dset.name} is compressed with Prophesee's ECF codec (ECF, HDF5 filter 0x8ECF) "
                f"in the pipeline {filter_ids(dset)}: spikesight decodes ECF only as the only filter "
                "of a Metavision /CD/events dataset, and no HDF5 plugin for ECF is installed",
            )
        label = name.decode(errors="replace") if isinstance(name, bytes) else str(name)
        raise UnsupportedCodecError(
            path,
            None,
            f"{dset.name} is compressed with HDF5 filter {code} (0x{code:X}, {label!r}), "
            "which is not available in this build (hdf5plugin provides Blosc, Zstd, LZ4, Bitshuffle, ...)",
        )


def codec_name(dset: h5py.Dataset) -> str:
    """The dataset's filter pipeline in words: ``"none"``, ``"ecf"``, ``"shuffle+deflate"``, ..."""
    dcpl = dset.id.get_create_plist()
    names = []
    for i in range(dcpl.get_nfilters()):
        code, _flags, _values, name = dcpl.get_filter(i)
        label = name.decode(errors="replace").split(" ")[0] if isinstance(name, bytes) else str(name)
        names.append("ecf" if code == ECF_FILTER_ID else label or f"0x{code:X}")
    return "+".join(names) or "none"


def chunk_rows(dset: h5py.Dataset) -> int:
    """The dataset's chunk length along its first axis (1 when stored contiguously)."""
    return int(dset.chunks[0]) if dset.chunks else 1


def parse_geometry(text: str) -> tuple[int, int] | None:
    """``"1280x720"`` -> ``(1280, 720)``; ``None`` when it does not parse."""
    w, sep, h = str(text).strip().lower().partition("x")
    if not sep or not w.strip().isdigit() or not h.strip().isdigit():
        return None
    return int(w), int(h)


def attr_text(value: object) -> str:
    """An HDF5 attribute value as text (scalar strings come back as ``str`` or ``bytes``)."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return attr_text(value.reshape(-1)[0])
    return str(value)


def check_numeric_fields(path: str, dset: h5py.Dataset, fields: tuple[str, ...]) -> None:
    """A compound dataset must be 1-D and hold integer fields ``fields``."""
    names = dset.dtype.names or ()
    missing = [f for f in fields if f not in names]
    if missing or dset.ndim != 1:
        raise HeaderError(
            path,
            None,
            f"{dset.name} must be a 1-D compound dataset with fields {list(fields)}; "
            f"it is {dset.shape} {dset.dtype}",
        )
    for f in fields:
        if dset.dtype[f].kind not in "iu":
            raise HeaderError(
                path, None, f"{dset.name} field {f!r} must be an integer type, not {dset.dtype[f]}"
            )


class H5EventSource(EventSource):
    """What every HDF5 reader shares: rows read in blocks on a fixed grid, checks, and seeking.

    A subclass sets the geometry and row count, reads rows ``[a, b)`` into events
    (:meth:`_read_rows`), returns the time of one row (:meth:`_t_at`) and, where the file has an
    index, a row to start from (:meth:`_row_hint`). Blocks always start on multiples of the grid
    (a multiple of the dataset chunk), so a block read after a seek is the same block as on the
    first pass. Errors name the dataset and row (HDF5 data has no meaningful byte offset).
    """

    layout = "hdf5"

    def __init__(self, path: str | os.PathLike, strict: bool, chunk_events: int) -> None:
        super().__init__(os.fspath(path), strict)
        self._chunk_events = int(chunk_events)
        if self._chunk_events <= 0:
            raise ValueError(f"chunk_events must be positive, got {chunk_events}")
        self._file: h5py.File | None = None
        self._rows = 0
        self._grid = self._chunk_events
        self._where = "events"

    # -- what a layout implements --------------------------------------------------------

    def _read_rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Rows ``[a, b)`` as integer columns ``x, y, p, t`` (t before adding ``_t_offset``).

        A layout marks a row whose coordinates are not pixel indices with x = -1, and one
        without a usable time with t = ``NO_TIME``: the shared checks reject them.
        """
        raise NotImplementedError

    def _t_at(self, i: int) -> int:
        """The time (µs, as output) of row ``i``."""
        raise NotImplementedError

    def _row_hint(self, t: int) -> int | None:
        """A row at or before the first event with time ``>= t``, from the file's index (or None)."""
        return None

    def _triggers_between(self, t_lo: int | None, t_hi: int | None, state: dict) -> np.ndarray | None:
        """External triggers with ``t_lo <= t < t_hi`` (None: unbounded), read forward via ``state``."""
        return None

    def _checked_block(self, prev_t: int | None) -> np.ndarray | None:
        """The rows of the last :meth:`_read_rows` as a fresh event array when the layout has
        proved them good already (geometry, polarity, time order after ``prev_t``), else None
        (then the shared checks run)."""
        return None

    def _block_skipped(self) -> dict[str, int]:
        """Rows the last :meth:`_read_rows` dropped (lenient mode), by reason."""
        return {}

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    # -- shared machinery ----------------------------------------------------------------

    def _set_rows(self, rows: int, align: int) -> None:
        self._rows = int(rows)
        align = max(1, int(align))
        self._grid = max(align, (self._chunk_events // align) * align)

    def _fail(self, cls: type[EventFormatError], row: int, message: str) -> EventFormatError:
        return cls(self.path, None, f"{self._where}[{row}]: {message}")

    def _io_error(self, exc: OSError, a: int, b: int) -> EventFormatError:
        return TruncatedError(self.path, None, f"cannot read {self._where}[{a}:{b}] ({exc})")

    def _bad_row(
        self, reason: int, cols: tuple[np.ndarray, ...], i: int, a: int, last: int
    ) -> EventFormatError:
        x, y, p, t = (int(c[i]) for c in cols)
        w, h = self.info.width, self.info.height
        if _REASONS[reason] == "coordinates":
            if x == -1:
                return self._fail(
                    CoordinateError,
                    a + i,
                    "coordinates are not pixel indices (negative, fractional or not finite)",
                )
            return self._fail(
                CoordinateError, a + i, f"event at x={x} y={y} lies outside the {w}x{h} geometry"
            )
        if _REASONS[reason] == "polarity":
            return self._fail(EventFormatError, a + i, f"polarity {p} is not one of {self._polarities}")
        if _REASONS[reason] == "timestamp":
            return self._fail(EventFormatError, a + i, "time is not a finite number")
        return self._fail(
            TimeOrderError, a + i, f"time goes backwards: t={t + self._t_offset} µs after t={last} µs"
        )

    _polarities = "{0, 1}"
    _t_offset = 0
    _has_triggers = False

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        if self._file is None:
            raise ValueError(f"{self.path}: the source is closed")
        start = 0 if checkpoint is None else checkpoint.offset
        prev_t = None if checkpoint is None else checkpoint.state
        trig_state: dict = {}
        w, h = self.info.width, self.info.height
        if self._rows == 0 and self._has_triggers and start == 0:
            trig = self._triggers_between(None, None, trig_state)
            yield Chunk(
                Checkpoint(0),
                np.empty(0, dtype=EVENT_DTYPE),
                trig,
                trig_state.pop("skipped", {}),
                {"ext_trigger": len(trig)} if len(trig) else {},
            )
        for a in range(start, self._rows, self._grid):
            b = min(a - a % self._grid + self._grid, self._rows)
            try:
                cols = self._read_rows(a, b)
            except OSError as exc:
                raise self._io_error(exc, a, b) from exc
            cp = Checkpoint(a, prev_t)
            t_lo = None if a == 0 or not len(cols[3]) else int(cols[3][0]) + self._t_offset
            ev = self._checked_block(prev_t)
            if ev is not None:
                k, counts = len(ev), ()
                if k:
                    prev_t = int(ev["t"][-1])
            else:
                ev = np.empty(len(cols[3]), dtype=EVENT_DTYPE)
                k, counts, bad, reason, last, started = _compact(
                    *cols,
                    self._t_offset,
                    w,
                    h,
                    0 if prev_t is None else prev_t,
                    prev_t is not None,
                    self.strict,
                    ev["x"],
                    ev["y"],
                    ev["p"],
                    ev["t"],
                )
                if bad >= 0 and self.strict:
                    raise self._bad_row(reason, cols, bad, a, last)
                prev_t = last if started else None
            skipped = {_REASONS[r]: int(c) for r, c in enumerate(counts) if c}
            skipped.update(self._block_skipped())
            t_hi = None if b >= self._rows or not self._has_triggers else self._t_at(b)
            trig = self._triggers_between(t_lo, t_hi, trig_state)
            other = {}
            if trig is not None:
                skipped.update(trig_state.pop("skipped", {}))
                if len(trig):
                    other["ext_trigger"] = len(trig)
            yield Chunk(cp, ev[:k] if k < len(ev) else ev, trig, skipped, other)

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        if self._rows == 0:
            return None
        row = self._row_hint(t)
        if row is None or not self._hint_ok(row, t):
            row = self._bisect(t)
        a = (row // self._grid) * self._grid
        state = self._t_at(a - 1) if a > 0 and self.strict else None
        return Checkpoint(a, state)

    def _hint_ok(self, row: int, t: int) -> bool:
        """True when every row before ``row`` is earlier than ``t`` (enough to start there)."""
        if not 0 <= row <= self._rows:
            return False
        return row == 0 or self._t_at(row - 1) < t

    def _bisect(self, t: int) -> int:
        """First row with time ``>= t`` by binary search over single-row reads (sorted data)."""
        lo, hi = 0, self._rows
        while lo < hi:
            mid = (lo + hi) // 2
            if self._t_at(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo


@njit(cache=True, nogil=True)
def _compact(x, y, p, t, t_offset, width, height, prev_t, started, stop_at_bad, ox, oy, op, ot):
    """Copy the good rows of columns ``x, y, p, t`` into ``ox, oy, op, ot``; count the bad ones.

    Bad, by reason (the index into ``_REASONS``): coordinates outside ``width x height``,
    polarity not 0 or 1, ``t == NO_TIME``, time before the last good row's. Returns the rows
    kept, the counts, the first bad row (-1: none) and its reason, the last good time and
    whether there was one. With ``stop_at_bad`` it returns at the first bad row.
    """
    counts = np.zeros(4, np.int64)
    first_bad = -1
    first_reason = -1
    k = 0
    last = np.int64(prev_t)
    for i in range(t.shape[0]):
        xi = np.int64(x[i])
        yi = np.int64(y[i])
        pi = np.int64(p[i])
        ti = np.int64(t[i])
        r = -1
        if ti == NO_TIME:
            r = 2
        elif xi < 0 or xi >= width or yi < 0 or yi >= height:
            r = 0
        elif pi != 0 and pi != 1:
            r = 1
        else:
            ti += t_offset
            if started and ti < last:
                r = 3
        if r >= 0:
            counts[r] += 1
            if first_bad < 0:
                first_bad = i
                first_reason = r
                if stop_at_bad:
                    break
            continue
        ox[k] = xi
        oy[k] = yi
        op[k] = pi
        ot[k] = ti
        k += 1
        last = ti
        started = True
    return k, counts, first_bad, first_reason, last, started


class EcfChunks:
    """The raw chunks of an ECF-compressed ``/CD/events``, read with ``read_direct_chunk`` and
    decoded by :mod:`.ecf`, several chunks per call (in parallel with ``threads > 1``).

    A chunk whose filter mask has bit 0 set was stored unfiltered (the ECF filter is optional
    in the pipeline) and holds plain 16-byte records. Each ECF chunk must announce exactly the
    rows the dataset's shape gives it. Errors name the chunk and its byte offset in the file.
    """

    def __init__(self, path: str, dset: h5py.Dataset, threads: int) -> None:
        self.path = path
        self.dset = dset
        self.rows = int(dset.shape[0])
        self.chunk = chunk_rows(dset)
        self.threads = threads
        self._buf = np.empty(0, np.uint8)
        self._cached: tuple[int, np.ndarray] | None = None

    def _where(self, k: int) -> str:
        a = k * self.chunk
        return f"{self.dset.name} chunk {k} (rows {a}..{min(a + self.chunk, self.rows) - 1})"

    def read(
        self, a: int, b: int, strict: bool, width: int, height: int
    ) -> tuple[np.ndarray, bool, dict[str, int]]:
        """Rows ``[a, b)`` as a fresh event array, whether they are proved good (inside
        ``width x height``, polarity 0/1, time never decreasing), and the rows skipped (lenient)."""
        c = self.chunk
        k0, k1 = a // c, -(-b // c)
        ids = self.dset.id
        infos = [ids.get_chunk_info_by_coord((k * c,)) for k in range(k0, k1)]
        sizes = np.array([0 if i.byte_offset is None else i.size for i in infos], np.int64)
        ends = np.cumsum(sizes)
        starts = ends - sizes
        if len(self._buf) < int(ends[-1]):
            self._buf = np.empty(int(ends[-1] * 1.25) + 64, np.uint8)
        buf = self._buf
        want = np.minimum(c, self.rows - np.arange(k0, k1, dtype=np.int64) * c)
        bases = np.arange(k1 - k0, dtype=np.int64) * c
        out = np.empty(int(bases[-1] + want[-1]), dtype=EVENT_DTYPE)
        bad: dict[int, EventFormatError] = {}
        plain: list[int] = []
        for j, info in enumerate(infos):
            if info.byte_offset is None:
                bad[j] = EventFormatError(
                    self.path,
                    None,
                    f"{self._where(k0 + j)} is not stored in the file (an unfinished recording?)",
                )
                continue
            ids.read_direct_chunk(info.chunk_offset, out=buf[starts[j] : ends[j]])
            if info.filter_mask & 1:  # the optional ECF filter was skipped: plain records
                plain.append(j)
                n = int(want[j])
                if sizes[j] < 16 * n:
                    bad[j] = EventFormatError(
                        self.path,
                        info.byte_offset,
                        f"{self._where(k0 + j)} is stored unfiltered but holds {sizes[j]} bytes "
                        f"for {n} events of 16 bytes",
                    )
                else:
                    out[bases[j] : bases[j] + n] = np.frombuffer(buf, CD_DTYPE, n, int(starts[j]))
        ecf = np.array([j for j in range(len(infos)) if j not in bad and j not in plain], np.int64)
        summary = decode_batch(buf, starts[ecf], ends[ecf], want[ecf], bases[ecf], out, self.threads)
        for row, j in zip(summary, ecf.tolist(), strict=True):
            if row[S_STATUS]:
                off = int(row[S_OFFSET])
                msg = f"{self._where(k0 + j)}: {problem(int(row[S_STATUS]), off, int(row[S_COUNT]))}"
                bad[j] = EcfChunkError(self.path, int(infos[j].byte_offset) + off, msg, off)
        if bad and strict:
            raise bad[min(bad)]
        lo, hi = a - k0 * c, b - k0 * c
        if bad:
            keep = np.ones(len(out), bool)
            for j in bad:
                keep[bases[j] : bases[j] + want[j]] = False
            keep = keep[lo:hi]
            return out[lo:hi][keep], False, {"ecf_chunk": int(np.count_nonzero(~keep))}
        proved = (
            not plain
            and int(summary[:, S_MAX_X].max()) < width
            and int(summary[:, S_MAX_Y].max()) < height
            and bool(summary[:, S_ORDERED].all())
            and bool(np.all(out["t"][bases[1:]] >= out["t"][bases[1:] - 1]))
        )
        if lo or hi != len(out):
            out = out[lo:hi].copy()
        return out, proved, {}

    def t_at(self, i: int) -> int:
        """The time of row ``i``: from the chunk header for a chunk's first row (when its first
        time token adds nothing to t0, as encoders write it), else by decoding its chunk (the
        last decoded chunk is kept)."""
        k, r = divmod(i, self.chunk)
        if r == 0:
            info = self.dset.id.get_chunk_info_by_coord((i,))
            if info.byte_offset is not None and not info.filter_mask & 1 and info.size > HEADER_BYTES:
                head = np.empty(info.size, np.uint8)
                self.dset.id.read_direct_chunk(info.chunk_offset, out=head)
                if head[HEADER_BYTES] >> 4 == 0:
                    return int(head[4:12].view("<i8")[0])
        if self._cached is None or self._cached[0] != k:
            a = k * self.chunk
            ev, _, _ = self.read(a, min(a + self.chunk, self.rows), True, 1 << 16, 1 << 16)
            self._cached = (k, ev)
        return int(self._cached[1]["t"][r])


class MetavisionH5Reader(H5EventSource):
    """Reads Metavision HDF5 files (``/CD/events``, ``/CD/indexes``, ``/EXT_TRIGGER/events``).

    Geometry comes from the root ``geometry`` attribute (``geometry=(w, h)`` overrides it or
    stands in when it is missing). Seeks read one entry of ``/CD/indexes`` and check it with
    one row of ``/CD/events``; a missing or wrong index falls back to a binary search.
    External triggers come with the chunks (``Chunk.triggers``) and in :attr:`triggers`.

    ECF-compressed ``/CD/events`` (what the Metavision SDK writes) is decoded by spikesight's
    own codec, ``threads`` chunks at a time (default: the CPUs this process may use); a chunk
    that does not decode raises :class:`~.ecf.EcfChunkError` naming the chunk and its byte
    offset in the file, or, with ``strict=False``, is skipped and counted as ``ecf_chunk``.
    """

    layout = "metavision"

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        strict: bool = True,
        geometry: tuple[int, int] | None = None,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
        threads: int | None = None,
    ) -> None:
        super().__init__(path, strict, chunk_events)
        self._threads = usable_cpus() if threads is None else max(1, int(threads))
        f = self._file = open_h5(self.path)
        try:
            self._open(f, geometry)
        except BaseException:
            self.close()
            raise

    def _open(self, f: h5py.File, geometry: tuple[int, int] | None) -> None:
        path = self.path
        cd = f.get("CD/events")
        if not isinstance(cd, h5py.Dataset):
            raise HeaderError(
                path, None, f"no /CD/events dataset (Metavision layout); found: {describe_h5(f)}"
            )
        check_numeric_fields(path, cd, ("x", "y", "p", "t"))
        self._ecf: EcfChunks | None = None
        if is_ecf(cd):
            if cd.dtype.itemsize != CD_DTYPE.itemsize or any(
                cd.dtype.fields[k][1] != CD_DTYPE.fields[k][1] for k in "xypt"
            ):
                raise HeaderError(
                    path, None, f"{cd.name} is ECF-compressed but not laid out as EventCD: {cd.dtype}"
                )
            self._ecf = EcfChunks(path, cd, self._threads)
        else:
            check_filters(path, cd)
        self._cd = cd
        self._buf: np.ndarray | None = None
        self._block: np.ndarray | None = None
        self._skipped: dict[str, int] = {}
        self._where = cd.name
        meta = {k: attr_text(v) for k, v in f.attrs.items()}
        if geometry is None:
            geometry = parse_geometry(meta.get("geometry", ""))
            if geometry is None:
                raise GeometryError(
                    path,
                    None,
                    f"no usable 'geometry' root attribute ({meta.get('geometry')!r}); "
                    "pass geometry=(width, height)",
                )
        self._set_rows(cd.shape[0], chunk_rows(cd))
        self._index = self._open_index(f.get("CD/indexes"))
        trig = f.get("EXT_TRIGGER/events")
        self._trig = None
        if isinstance(trig, h5py.Dataset) and trig.shape[0]:
            check_numeric_fields(path, trig, ("p", "t", "id"))
            check_filters(path, trig)
            self._trig = trig
            self._has_triggers = True
        meta["layout"] = self.layout
        meta["compression"] = codec_name(cd)
        n = self._rows
        self.info = StreamInfo(
            width=int(geometry[0]), height=int(geometry[1]), format="hdf5", path=path, metadata=meta
        )
        if self.strict:
            self.info.event_count = n
            if n:
                self.info.start_time = self._t_at(0)
                self.info.end_time = self._t_at(n - 1)

    def _open_index(self, idx: object) -> tuple[h5py.Dataset, int] | None:
        """``(indexes dataset, first event time)`` when the index looks usable, else None."""
        if not isinstance(idx, h5py.Dataset) or idx.ndim != 1 or not idx.shape[0]:
            return None
        names = idx.dtype.names or ()
        if "id" not in names or "ts" not in names or "offset" not in idx.attrs:
            return None
        try:
            offset = int(attr_text(idx.attrs["offset"]).strip())
        except ValueError:
            log.warning(
                "%s: /CD/indexes has an unreadable offset attribute; seeking by binary search", self.path
            )
            return None
        return idx, -offset

    def _read_rows(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if self._ecf is not None:
            ev, proved, self._skipped = self._ecf.read(a, b, self.strict, self.info.width, self.info.height)
            self._block = ev if proved else None
            return ev["x"], ev["y"], ev["p"], ev["t"]
        buf = self._buf
        if buf is None or len(buf) < b - a:
            buf = self._buf = np.empty(self._grid, dtype=self._cd.dtype)
        self._cd.read_direct(buf, np.s_[a:b], np.s_[0 : b - a])
        raw = buf[: b - a]
        return raw["x"], raw["y"], raw["p"], raw["t"]

    def _checked_block(self, prev_t: int | None) -> np.ndarray | None:
        ev, self._block = self._block, None
        if ev is None or (prev_t is not None and len(ev) and int(ev["t"][0]) < prev_t):
            return None
        return ev

    def _block_skipped(self) -> dict[str, int]:
        skipped, self._skipped = self._skipped, {}
        return skipped

    def _t_at(self, i: int) -> int:
        if self._ecf is not None:
            return self._ecf.t_at(i)
        try:
            return int(self._cd[i]["t"])
        except OSError as exc:
            raise self._io_error(exc, i, i + 1) from exc

    def _row_hint(self, t: int) -> int | None:
        if self._index is None:
            return None
        idx, t_first = self._index
        if t <= t_first:
            return 0
        k = min((t - t_first) // INDEX_PERIOD_US + 1, idx.shape[0] - 1)
        return int(idx[k]["id"])

    def _triggers_between(self, t_lo: int | None, t_hi: int | None, state: dict) -> np.ndarray | None:
        trig = self._trig
        if trig is None:
            return None
        m = trig.shape[0]
        if "next" not in state:
            state["next"] = 0 if t_lo is None else self._trigger_bisect(t_lo)
        i0 = state["next"]
        i1 = m if t_hi is None else max(i0, self._trigger_bisect(t_hi, i0))
        state["next"] = i1
        try:
            raw = trig[i0:i1]
        except OSError as exc:
            raise TruncatedError(self.path, None, f"cannot read {trig.name}[{i0}:{i1}] ({exc})") from exc
        out = np.empty(len(raw), dtype=TRIGGER_DTYPE)
        for name in ("p", "t", "id"):
            out[name] = raw[name]
        return self._check_triggers(out, i0, state)

    def _check_triggers(self, trig: np.ndarray, i0: int, state: dict) -> np.ndarray:
        """Polarity in {0, 1} and time order of triggers; strict raises, lenient drops and counts."""
        if not len(trig):
            return trig
        bad_p = (trig["p"] != 0) & (trig["p"] != 1)
        start = state.get("last_t", np.iinfo(np.int64).min)
        t = trig["t"]
        back = t < np.maximum.accumulate(np.concatenate(([start], t[:-1])))
        bad = bad_p | back
        if np.any(bad):
            i = int(np.argmax(bad))
            where = f"{self._trig.name}[{i0 + i}]"
            if self.strict:
                if bad_p[i]:
                    raise EventFormatError(
                        self.path, None, f"{where}: trigger polarity {int(trig['p'][i])} is not 0 or 1"
                    )
                raise TimeOrderError(
                    self.path, None, f"{where}: trigger time goes backwards (t={int(t[i])} µs)"
                )
            state["skipped"] = {
                k: int(v)
                for k, v in (
                    ("trigger_polarity", np.count_nonzero(bad_p)),
                    ("trigger_time_order", np.count_nonzero(back & ~bad_p)),
                )
                if v
            }
            trig = trig[~bad]
        if len(trig):
            state["last_t"] = max(start, int(trig["t"].max()))
        return trig

    def _trigger_bisect(self, t: int, lo: int = 0) -> int:
        hi = self._trig.shape[0]
        while lo < hi:
            mid = (lo + hi) // 2
            if int(self._trig[mid]["t"]) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo


def index_entries(
    t: np.ndarray,
    t_first: int,
    first_id: int,
    next_period: int,
    last: tuple[int, int],
) -> tuple[np.ndarray, int, tuple[int, int]]:
    """Metavision index entries for a time-sorted block of times ``t`` (µs; relative to ``t_first``,
    the first time of the table).

    ``first_id`` is the id of the block's first event, ``next_period`` the first 2000 µs period
    without an entry yet, ``last`` the entry written before. Returns the entries of periods
    ``next_period .. (t[-1] - t_first) // 2000`` (the first event of each, or the previous entry for
    a period without events), then the updated ``next_period`` and ``last``. Only a binary search
    per period touches ``t``.
    """
    q_last = (int(t[-1]) - t_first) // INDEX_PERIOD_US
    if q_last < next_period:
        return np.empty(0, dtype=INDEX_DTYPE), next_period, last
    q = np.arange(next_period, q_last + 1, dtype=np.int64)
    pos = np.searchsorted(t, t_first + q * INDEX_PERIOD_US, side="left")  # < len(t): q <= q_last
    t_rel = t[pos] - t_first
    has = t_rel < (q + 1) * INDEX_PERIOD_US
    src = np.maximum.accumulate(np.where(has, np.arange(len(q)), -1))
    ids = np.where(src >= 0, first_id + pos[np.maximum(src, 0)], last[0])
    ts = np.where(src >= 0, t_rel[np.maximum(src, 0)], last[1])
    out = np.empty(len(q), dtype=INDEX_DTYPE)
    out["id"] = ids
    out["ts"] = ts
    return out, q_last + 1, (int(ids[-1]), int(ts[-1]))


class _IndexedTable:
    """One growable Metavision table (events + indexes) written in whole chunks.

    With ``ecf_threads`` set, the events are ECF-encoded here and stored chunk by chunk with
    ``write_direct_chunk`` (filter mask 0), as the Metavision SDK stores them; the last chunk
    holds only the events that are left. Whole chunks are encoded straight from the caller's
    array (no copy); only the unfinished chunk is kept, copied.
    """

    ECF_BATCH = 64  # chunks encoded per call (bounds the encoder's scratch memory)

    def __init__(
        self, events: h5py.Dataset, indexes: h5py.Dataset, chunk: int, ecf_threads: int | None = None
    ) -> None:
        self.events = events
        self.indexes = indexes
        self.chunk = chunk
        self.ecf_threads = ecf_threads
        self.pending: list[np.ndarray] = []
        self.pending_n = 0
        self.rows = 0
        self.index_rows = 0
        self.t_first: int | None = None
        self.next_period = 0
        self.last = (0, -1)

    def append(self, records: np.ndarray) -> None:
        if self.t_first is None:
            self.t_first = int(records["t"][0])
            _set_text_attr(self.indexes, "offset", str(-self.t_first))
            self._append_index(np.array([(0, -1)], dtype=INDEX_DTYPE))
        entries, self.next_period, self.last = index_entries(
            records["t"], self.t_first, self.rows + self.pending_n, self.next_period, self.last
        )
        self._append_index(entries)
        if self.ecf_threads is not None:
            self._append_ecf(records)
            return
        self.pending.append(records)
        self.pending_n += len(records)
        if self.pending_n >= 64 * self.chunk:
            self.flush(whole_chunks=True)

    def _append_ecf(self, records: np.ndarray) -> None:
        if self.pending_n:
            head = concat_events([*self.pending, records[: self.chunk - self.pending_n]])
            records = records[self.chunk - self.pending_n :]
            self.pending, self.pending_n = [head], len(head)
            if len(head) < self.chunk:
                return
            self.flush()
        whole = (len(records) // self.chunk) * self.chunk
        if whole:
            self._write_ecf(records[:whole])
        rest = records[whole:]
        self.pending = [rest.copy()] if len(rest) else []
        self.pending_n = len(rest)

    def _write_ecf(self, data: np.ndarray) -> None:
        """Encode ``data`` (starting on a chunk boundary) and store it, chunk by chunk."""
        self.events.resize((self.rows + len(data),))
        ids = self.events.id
        step = self.ECF_BATCH * self.chunk
        for lo in range(0, len(data), step):
            part = data[lo : lo + step]
            buf, starts, sizes = encode_chunks(part, self.chunk, threads=self.ecf_threads, check=False)
            for k, (a, size) in enumerate(zip(starts.tolist(), sizes.tolist(), strict=True)):
                ids.write_direct_chunk((self.rows + lo + k * self.chunk,), buf[a : a + size], filter_mask=0)
        self.rows += len(data)

    def _append_index(self, entries: np.ndarray) -> None:
        if len(entries):
            self.indexes.resize((self.index_rows + len(entries),))
            self.indexes[self.index_rows :] = entries
            self.index_rows += len(entries)

    def flush(self, whole_chunks: bool = False) -> None:
        if not self.pending_n:
            return
        data = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        whole = (len(data) // self.chunk) * self.chunk
        n = whole if whole_chunks else len(data)
        if n and self.ecf_threads is not None:
            self._write_ecf(data[:n])
            if n > whole:
                # the unfinished chunk is stored, so the file holds it, and stays pending: direct
                # chunk writes start on chunk boundaries, so it is written again, whole, in place
                self.rows -= n - whole
                n = whole
        elif n:
            self.events.resize((self.rows + n,))
            self.events[self.rows :] = data[:n]
            self.rows += n
        rest = data[n:]
        self.pending = [rest] if len(rest) else []
        self.pending_n = len(rest)


class MetavisionH5Writer(EventWriter):
    """Writes Metavision HDF5 files that :class:`MetavisionH5Reader` and h5py read back exactly.

    ``compression``: ``"ecf"`` (the default, as the Metavision SDK writes: Prophesee's codec,
    HDF5 filter 0x8ECF, read by the SDK and by Prophesee's HDF5 plugin), ``"gzip"`` (with byte
    shuffle; ``level`` 0-9, default 4), ``"lzf"``, ``"none"``, or an ``hdf5plugin`` filter name
    (``"blosc"``, ``"blosc2"``, ``"zstd"``, ``"lz4"``, ``"bitshuffle"``, ``"bzip2"``); files with
    those read in h5py without a Prophesee plugin. ECF holds x and y up to 2047 and chunks of at
    most 65535 events: a larger geometry raises ``ValueError``, unless ``fallback`` names the
    compression to use instead. Events must come in time order (every writer checks it).
    ``threads``: chunks encoded in parallel (default: the usable CPUs, at most 4).
    Tables, chunk size (16384), indexes, the uncompressed ``/EXT_TRIGGER`` tables and root
    attributes follow the Metavision SDK's writer. ``metadata`` adds root string attributes
    (serial_number, generation, ...).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        compression: str | None = "ecf",
        *,
        level: int | None = None,
        chunk_size: int = METAVISION_CHUNK,
        metadata: Mapping[str, object] | None = None,
        fallback: str | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__(path, width, height)
        if not 0 < self.width <= 65535 or not 0 < self.height <= 65535:
            raise ValueError(
                f"{self.path}: geometry {self.width}x{self.height} does not fit 16-bit coordinates"
            )
        chunk_size = int(chunk_size)
        if chunk_size <= 0:
            raise ValueError(f"{self.path}: chunk_size must be positive, got {chunk_size}")
        compression = self._ecf_or_fallback(compression, fallback, chunk_size)
        ecf_threads = None
        if compression == "ecf":
            ecf_threads = min(4, usable_cpus()) if threads is None else max(1, int(threads))
        self.compression = compression
        filters = _compression_args(self.path, compression, level)
        self._f = h5py.File(self.path, "w")
        try:
            f = self._f
            for key, value in (metadata or {}).items():
                _set_text_attr(f, str(key), str(value))
            _set_text_attr(f, "version", "1.0")
            _set_text_attr(f, "geometry", f"{self.width}x{self.height}")
            kw = {"shape": (0,), "maxshape": (None,), "chunks": (int(chunk_size),)}
            self._cd = _IndexedTable(
                f.create_dataset("CD/events", dtype=CD_DTYPE, **kw, **filters),
                f.create_dataset("CD/indexes", dtype=INDEX_DTYPE, **kw),
                chunk_size,
                ecf_threads,
            )
            self._trig = _IndexedTable(
                f.create_dataset("EXT_TRIGGER/events", dtype=EXT_TRIGGER_DTYPE, **kw),
                f.create_dataset("EXT_TRIGGER/indexes", dtype=INDEX_DTYPE, **kw),
                chunk_size,
            )
        except BaseException:
            self._f.close()
            raise
        self._last_trigger_t: int | None = None

    def _ecf_or_fallback(self, compression: str | None, fallback: str | None, chunk_size: int) -> str:
        """``compression`` as a name; ECF is replaced by ``fallback`` (or refused) where it cannot
        hold the data."""
        name = "none" if compression is None else str(compression).lower()
        if name != "ecf":
            return name
        why = None
        if self.width > MAX_COORD + 1 or self.height > MAX_COORD + 1:
            why = (
                f"ECF stores x and y in 11 bits (0..{MAX_COORD}); a {self.width}x{self.height} "
                "geometry does not fit"
            )
        elif chunk_size > MAX_CHUNK_EVENTS:
            why = f"an ECF chunk holds at most {MAX_CHUNK_EVENTS} events, not chunk_size={chunk_size}"
        if why is None:
            return name
        if fallback is None:
            raise ValueError(
                f"{self.path}: {why}; choose another compression (compression='gzip'), "
                "or fallback='gzip' to use it only where ECF cannot hold the data"
            )
        log.info("%s: %s; writing with %r instead", self.path, why, fallback)
        return self._ecf_or_fallback(fallback, None, chunk_size)

    def _write(self, events: np.ndarray) -> None:
        if bool(np.any(events["p"].view(np.uint16) > 1)):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        if self._cd.ecf_threads is not None:  # encoded now, or copied where it waits
            self._cd.append(events)
            return
        rec = np.empty(len(events), dtype=CD_DTYPE)
        for name in ("x", "y", "p", "t"):
            rec[name] = events[name]
        self._cd.append(rec)

    def write_triggers(self, triggers: np.ndarray) -> None:
        """Append external triggers (fields p, t, id; time-ordered) to ``/EXT_TRIGGER``."""
        if not len(triggers):
            return
        t = np.asarray(triggers["t"], dtype=np.int64)
        if (self._last_trigger_t is not None and t[0] < self._last_trigger_t) or bool(np.any(np.diff(t) < 0)):
            raise ValueError(f"{self.path}: triggers must be written in non-decreasing time order")
        rec = np.empty(len(triggers), dtype=EXT_TRIGGER_DTYPE)
        for name in ("p", "t", "id"):
            rec[name] = triggers[name]
        self._trig.append(rec)
        self._last_trigger_t = int(t[-1])

    def flush(self) -> None:
        """Write buffered events and triggers and flush the HDF5 file; writing goes on after it.
        This does not make the file crash-safe: HDF5 metadata written after the flush can still
        leave it unreadable (the viewer records HDF5 through a RAW journal for that)."""
        self._cd.flush()
        self._trig.flush()
        self._f.flush()

    def _finish(self) -> None:
        try:
            self._cd.flush()
            self._trig.flush()
        finally:
            self._f.close()


def _set_text_attr(obj: h5py.HLObject, key: str, value: str) -> None:
    """A scalar variable-length string attribute, ASCII where possible (as the Metavision SDK writes)."""
    cset = "ascii" if value.isascii() else "utf-8"
    obj.attrs.create(key, value, dtype=h5py.string_dtype(cset))


def _compression_args(path: str, compression: str | None, level: int | None) -> dict:
    name = "none" if compression is None else str(compression).lower()
    if name == "none":
        return {}
    if name == "gzip":
        return {
            "compression": "gzip",
            "compression_opts": 4 if level is None else int(level),
            "shuffle": True,
        }
    if name == "lzf":
        return {"compression": "lzf", "shuffle": True}
    if name in _PLUGIN_FILTERS:
        cls = _PLUGIN_FILTERS[name]
        if level is None:
            return dict(cls())
        if name not in ("blosc", "blosc2", "zstd"):
            raise ValueError(f"{path}: compression {name!r} takes no level")
        return dict(cls(clevel=int(level)))
    if name == "ecf":
        if level is not None:
            raise ValueError(f"{path}: compression 'ecf' takes no level")
        # what the Metavision SDK declares: filter 0x8ECF, optional, no parameters; the chunks
        # are encoded here and written raw, so no plugin is needed
        return {"compression": ECF_FILTER_ID, "allow_unknown_filter": True}
    raise ValueError(
        f"{path}: unknown compression {compression!r}; use 'ecf', 'gzip', 'lzf', 'none' or one of "
        f"{sorted(_PLUGIN_FILTERS)}"
    )


def open_hdf5(path: str | os.PathLike, *, strict: bool = True, **kw) -> EventSource:
    """Open an HDF5 event file with the reader for its layout (Metavision, MVSEC or DSEC).

    Keyword arguments go to that reader (``camera="right"`` for MVSEC, ``geometry=(w, h)``,
    ``chunk_events``). A file with none of the known layouts raises :class:`HeaderError`
    listing what it holds.
    """
    path = os.fspath(path)
    with open_h5(path) as f:
        if "events" in _group(f, "CD"):
            cls: type[EventSource] = MetavisionH5Reader
        elif any("events" in _group(f, f"davis/{cam}") for cam in _group(f, "davis")):
            from .mvsec import MvsecReader

            cls = MvsecReader
        elif set(_group(f, "events")) & {"x", "y", "t", "p"}:
            from .dsec import DsecReader

            cls = DsecReader
        else:
            raise HeaderError(
                path,
                None,
                "no known HDF5 event layout (Metavision /CD/events, MVSEC "
                f"/davis/<camera>/events, DSEC /events/{{x,y,t,p}}); found: {describe_h5(f)}",
            )
    return cls(path, strict=strict, **kw)


def _group(f: h5py.File, name: str) -> h5py.Group | dict:
    """The group ``name`` of ``f``, or an empty dict when it is missing or not a group."""
    obj = f.get(name)
    return obj if isinstance(obj, h5py.Group) else {}
