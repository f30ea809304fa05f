"""Recordings that a crash cannot spoil: events go to disk as EVT 3.0 RAW while recording.

RAW is a header and then a plain sequence of words, each written once and never revisited, so
a recording cut short by a crash (even SIGKILL) keeps every word handed to the operating
system and opens as it is. Formats that keep their bookkeeping until they close do not: an
HDF5 file killed mid-write does not open (its metadata is half written), and an ``.npy``
file says it holds no events. So a recording to ``PATH`` in any format but RAW is written to a
journal, ``PATH.partial.raw``, and converted into ``PATH`` when it stops; the journal is then
deleted. A crash leaves the journal: it reads as it is, and :func:`finish_recording` (the
``spikesight recover`` command, or the viewer's File menu) turns it into ``PATH``. While a
recording runs, its RAW file is locked (``flock``, where the system has it), so a journal that
another process is still writing is never taken for one a crash left.

(Measured before choosing this: HDF5's SWMR mode writes files that still open after SIGKILL,
but only to readers that ask for SWMR; h5py's default, Metavision and HDFView refuse them
until ``h5clear`` resets a flag.)

RAW holds times below 2**40 µs. When a recording's first event is later (a DV camera stamps µs
since the Unix epoch), the RAW file holds times relative to it, and that time is stored in its
header (``% spikesight_t0_us``, :data:`~spikesight.io.raw_header.T0_KEY`); finishing adds it
back, since the other formats hold the camera's clock as it is.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Mapping
from typing import IO

try:
    import fcntl
except ImportError:  # Windows: a file open for writing cannot be deleted or replaced there anyway
    fcntl = None

import numpy as np

from ..io import format_for_output, open_source, open_writer
from ..io.evt3 import Evt3Writer
from ..io.raw import MAX_COORD, MAX_WRITE_T, RawWriter
from ..io.raw_header import T0_KEY
from ..io.writer import EventWriter

log = logging.getLogger(__name__)

JOURNAL_SUFFIX = ".partial.raw"


def journal_path(path: str | os.PathLike) -> str:
    """Where a recording to ``path`` keeps its events until it is finished."""
    return os.fspath(path) + JOURNAL_SUFFIX


def target_of(journal: str | os.PathLike) -> str:
    """The file a journal becomes when finished (its name without ``.partial.raw``)."""
    journal = os.fspath(journal)
    if not journal.endswith(JOURNAL_SUFFIX) or len(os.path.basename(journal)) == len(JOURNAL_SUFFIX):
        raise ValueError(f"{journal}: not a recording journal (its name must end in {JOURNAL_SUFFIX})")
    return journal[: -len(JOURNAL_SUFFIX)]


def in_use(path: str | os.PathLike) -> bool:
    """Whether a recording is writing ``path`` now (its lock is held)."""
    if fcntl is None:
        return False
    with open(path, "rb") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    return False


def _lock(path: str) -> IO[bytes] | None:
    """Hold an exclusive lock on ``path`` until the returned file is closed."""
    if fcntl is None:
        return None
    f = open(path, "rb")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        f.close()
        raise ValueError(f"{path}: another recording is writing this file") from exc
    return f


def writes_raw(path: str | os.PathLike, format: str | None = None) -> bool:
    """Whether ``path`` (or ``format``) is written by a RAW writer, which needs no journal."""
    return issubclass(format_for_output(path, format).writer_class(), RawWriter)


class RecordingWriter(EventWriter):
    """Records to ``path`` (format from its extension, or ``format``) through an EVT 3.0 RAW file.

    A ``.raw`` target is that RAW file; any other is written from the journal at
    :meth:`close` (``writer_kwargs`` go to its writer). The RAW file is opened at the first
    event, whose time decides the offset (:attr:`t0`). :attr:`time_offset_us` is what the
    times in the finished file are relative to: ``t0`` for a RAW target, 0 for the others.
    """

    def __init__(self, path: str | os.PathLike, width: int, height: int, *, format: str | None = None,
                 **writer_kwargs: object) -> None:
        super().__init__(path, width, height)
        if not (0 < self.width <= MAX_COORD and 0 < self.height <= MAX_COORD):
            raise ValueError(f"{self.path}: a crash-safe recording holds at most {MAX_COORD}x{MAX_COORD} "
                             f"pixels, not {self.width}x{self.height}")
        self.direct = writes_raw(self.path, format)
        if self.direct and (format not in (None, "raw", "evt3") or writer_kwargs):
            raise ValueError(f"{self.path}: recordings to RAW are written as EVT 3.0, without options")
        self.format = format
        self.writer_kwargs = writer_kwargs
        self.raw_path = self.path if self.direct else journal_path(self.path)
        self.t0 = 0
        self._raw: Evt3Writer | None = None
        self._lock: IO[bytes] | None = None

    @property
    def time_offset_us(self) -> int:
        """The camera-clock time (µs) that the finished file's times are relative to."""
        return self.t0 if self.direct else 0

    def _open_raw(self, first_t: int) -> Evt3Writer:
        self.t0 = first_t if first_t >= MAX_WRITE_T else 0
        header = {T0_KEY: self.t0} if self.t0 else None
        if os.path.exists(self.raw_path) and in_use(self.raw_path):
            raise ValueError(f"{self.raw_path}: another recording is writing this file")
        self._raw = Evt3Writer(self.raw_path, self.width, self.height, header=header)
        self._raw.flush()  # the header on disk: a crash from now on leaves a file that opens
        self._lock = _lock(self.raw_path)
        if self.t0:
            log.info("%s: times recorded relative to %d µs (the first event; kept in the header)",
                     self.raw_path, self.t0)
        return self._raw

    def _write(self, events: np.ndarray) -> None:
        raw = self._raw if self._raw is not None else self._open_raw(int(events["t"][0]))
        if self.t0:
            events = events.copy()
            events["t"] -= self.t0
        raw.write(events)

    def flush(self) -> None:
        """Hand what is written so far to the operating system: a crash then keeps it."""
        if self._raw is not None:
            self._raw.flush()

    def _finish(self) -> None:
        raw = self._raw if self._raw is not None else self._open_raw(0)
        raw.close()
        if self._lock is not None:
            self._lock.close()
        if not self.direct:
            finish_recording(self.raw_path, self.path, format=self.format, **self.writer_kwargs)


def finish_recording(journal: str | os.PathLike, target: str | os.PathLike | None = None, *,
                     strict: bool = True, format: str | None = None,
                     **writer_kwargs: object) -> dict[str, int]:
    """Convert a recording's RAW journal into ``target`` (default: its name without
    ``.partial.raw``), adding back the time offset its header keeps, then delete the journal.

    The target is written under a temporary name and renamed when complete, so it never exists
    half-written; if anything fails the journal is kept. ``strict=False`` (for a journal cut
    by a crash) skips a trailing partial word or a damaged word and returns what it skipped,
    by reason; ``strict=True`` raises on them.
    """
    journal = os.fspath(journal)
    target = target_of(journal) if target is None else os.fspath(target)
    if in_use(journal):
        raise ValueError(f"{journal}: a recording is still writing it")
    fmt = format_for_output(target, format).name
    folder, name = os.path.split(os.path.abspath(target))
    partial = os.path.join(folder, f".finishing-{name}")
    try:
        with open_source(journal, format="raw", strict=strict) as src:
            t0 = int(src.info.metadata.get(T0_KEY, 0))
            with open_writer(partial, src.info.width, src.info.height, format=fmt, **writer_kwargs) as w:
                for ev in src:
                    if t0 and len(ev):
                        ev = ev.copy()
                        ev["t"] += t0
                    w.write(ev)
            skipped = dict(src.stats.skipped)
        os.replace(partial, target)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    os.remove(journal)
    if skipped:
        log.warning("%s: skipped %s while finishing the recording", journal, describe_skipped(skipped))
    log.info("finished the recording %s (from %s)", target, journal)
    return skipped


def unfinished(paths: list[str]) -> list[str]:
    """The journals among ``paths`` that exist and no recording is writing (cut short by a crash)."""
    return [p for p in paths if p.endswith(JOURNAL_SUFFIX) and os.path.isfile(p) and not in_use(p)]


def add_recover_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``recover`` command to the ``spikesight`` command's subparsers."""
    sp = subparsers.add_parser(
        "recover", help="finish a recording that a crash cut short (PATH.partial.raw -> PATH)",
        description="A recording to a format other than RAW is kept as PATH.partial.raw until it stops. "
                    "A crash leaves that file (it opens as it is); this turns it into PATH, with the "
                    "camera's timestamps, and deletes it.")
    sp.add_argument("journal", nargs="+", help="the PATH.partial.raw file(s) a recording left")
    sp.add_argument("-o", "--output", help="write here instead of PATH (one journal only)")
    sp.set_defaults(func=cmd_recover)
    return sp


def cmd_recover(args: argparse.Namespace) -> int:
    if args.output is not None and len(args.journal) > 1:
        raise ValueError("--output takes one journal")
    for journal in args.journal:
        target = args.output or target_of(journal)
        skipped = finish_recording(journal, target, strict=False)
        note = f" (skipped {describe_skipped(skipped)})" if skipped else ""
        print(f"{journal} -> {target}{note}")
    return 0


def describe_skipped(skipped: Mapping[str, int]) -> str:
    """``reason: n, ...`` for a notice or a log line."""
    return ", ".join(f"{k}: {v}" for k, v in skipped.items())
