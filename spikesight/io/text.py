"""Events as text, one per line: RPG/ESIM ``events.txt`` (``t x y p``, t in seconds) and CSV
(``t,x,y,p``, t in µs).

Reading: the separator is a comma when the first line that is not blank or a ``#`` comment
holds one, else runs of spaces/tabs. That line may be ``width height`` (as in the RPG event
camera dataset and E2VID's text files); the next may name the columns (``t,x,y,p``, or any
order of t/ts/timestamp, x, y, p/polarity). ``time_unit="auto"`` reads t as seconds when a t
value of the first lines has a decimal point or an exponent, else as µs; seconds become µs
rounded to the nearest µs (ties away from zero), exactly, without going through floats
(values up to 2^63 µs; longer numbers are an error).
Polarity {-1, 1} is read as {0, 1}. Geometry comes from ``geometry=(w, h)``, else the first
line, else the largest x and y plus one (a full pass, logged).

Lines are parsed by a numba kernel in blocks of a few MB. Errors name the line number and
carry the byte offset of the line: a non-numeric value, a wrong column count, a polarity
other than -1/0/1, a coordinate outside the geometry, time running backwards, a fraction
of a µs in a µs file. ``strict=False`` skips such lines and counts them. Seeking uses the
index of chunks built while reading (line numbers stay exact).

Writing: ``.txt`` gets a ``width height`` line then ``t x y p`` with t in seconds to 6
decimals; ``.csv`` gets a ``t,x,y,p`` header then t in µs (a CSV keeps no geometry).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import numpy as np
from numba import njit

from .errors import CoordinateError, EmptyFileError, EventFormatError, HeaderError, TimeOrderError
from .events import EVENT_DTYPE
from .info import StreamInfo
from .source import Checkpoint, Chunk, EventSource
from .writer import EventWriter

log = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 22
MAX_LINE = 1 << 20
SNIFF_BYTES = 1 << 16
SNIFF_LINES = 100
COORD_LIMIT = 1 << 16
_T_MIN = int(np.iinfo(np.int64).min)
_NAMES = {"t": 0, "ts": 0, "timestamp": 0, "time": 0, "x": 1, "y": 2, "p": 3, "pol": 3, "polarity": 3}

_OK, _NUMBER, _COLUMNS, _POLARITY, _OUTSIDE, _BACKWARDS, _FRACTION = range(7)
_REASONS = {_NUMBER: "not_a_number", _COLUMNS: "wrong_column_count", _POLARITY: "bad_polarity",
            _OUTSIDE: "outside_geometry", _BACKWARDS: "time_backwards", _FRACTION: "fractional_us"}
_MESSAGES = {_NUMBER: "a value is not a number (or is out of range)",
             _COLUMNS: "expected 4 columns (t, x, y, p)", _POLARITY: "polarity is not 0 or 1 (or -1 or 1)",
             _BACKWARDS: "time goes backwards",
             _FRACTION: "t has a fraction but the file's times are in µs"}


@njit(cache=True, nogil=True)
def _parse_int(buf, i, end):
    """An optionally signed integer of at most 18 digits: (value, next index, ok)."""
    neg = False
    if i < end and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    start = i
    v = 0
    while i < end and 48 <= buf[i] <= 57:
        if i - start == 18:
            return 0, i, False
        v = v * 10 + (buf[i] - 48)
        i += 1
    if i == start:
        return 0, i, False
    return (-v if neg else v), i, True


@njit(cache=True, nogil=True)
def _parse_decimal(buf, i, end, digits):
    """Seconds (any decimal, with an exponent or not) as integer µs: (value, next index, code).

    The significant digits go to ``digits`` with the decimal point's position, so scaling by
    10^6 and rounding (the first dropped digit >= 5 rounds away from zero) are exact.
    """
    neg = False
    if i < end and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    nd = 0
    point = 0
    seen = False
    dot = False
    while i < end:
        c = buf[i]
        if 48 <= c <= 57:
            seen = True
            if nd == 0 and c == 48:
                if dot:
                    point -= 1
            elif nd < digits.shape[0]:
                digits[nd] = c - 48
                nd += 1
                if not dot:
                    point += 1
            elif not dot:
                point += 1
            i += 1
        elif c == 46 and not dot:
            dot = True
            i += 1
        else:
            break
    if not seen:
        return 0, i, _NUMBER
    exp = 0
    if i < end and (buf[i] == 69 or buf[i] == 101):
        exp, i, ok = _parse_int(buf, i + 1, end)
        if not ok:
            return 0, i, _NUMBER
    cut = point + exp + 6
    if cut > 19:
        return 0, i, _NUMBER
    v = 0
    for k in range(max(cut, 0)):
        d = digits[k] if k < nd else 0
        if v > (9223372036854775807 - d) // 10:
            return 0, i, _NUMBER
        v = v * 10 + d
    if 0 <= cut < nd and digits[cut] >= 5:
        if v == 9223372036854775807:
            return 0, i, _NUMBER
        v += 1
    return (-v if neg else v), i, _OK


@njit(cache=True, nogil=True)
def _parse_seconds(buf, i, end, digits):
    """Seconds as integer µs; plain decimals below 10^12 s take this fast path, others
    :func:`_parse_decimal`."""
    start = i
    neg = False
    if i < end and (buf[i] == 45 or buf[i] == 43):
        neg = buf[i] == 45
        i += 1
    whole = 0
    nd = 0
    while i < end and 48 <= buf[i] <= 57:
        if nd == 12:
            return _parse_decimal(buf, start, end, digits)
        whole = whole * 10 + (buf[i] - 48)
        nd += 1
        i += 1
    frac = 0
    nf = 0
    up = False
    if i < end and buf[i] == 46:
        i += 1
        while i < end and 48 <= buf[i] <= 57:
            if nf < 6:
                frac = frac * 10 + (buf[i] - 48)
            elif nf == 6:
                up = buf[i] >= 53
            nf += 1
            i += 1
    if nd == 0 and nf == 0:
        return 0, i, _NUMBER
    if i < end and (buf[i] == 69 or buf[i] == 101):
        return _parse_decimal(buf, start, end, digits)
    for _ in range(nf, 6):
        frac *= 10
    v = whole * 1_000_000 + frac + (1 if up else 0)
    return (-v if neg else v), i, _OK


@njit(cache=True, nogil=True)
def _parse_lines(buf, csv, seconds, cols, width, height, strict, last, line, t, x, y, p, counts):
    """Parse the lines of ``buf`` into the t, x, y, p columns (``cols[j]``: what column j holds).

    Returns (events, last t, last line number, error code, byte offset of the bad line);
    ``strict`` stops at the first bad line, else bad lines are skipped and counted by code.
    """
    n = buf.shape[0]
    vals = np.zeros(4, dtype=np.int64)
    digits = np.zeros(40, dtype=np.int64)
    i = 0
    k = 0
    while i < n:
        start = i
        line += 1
        j = i
        while j < n and (buf[j] == 32 or buf[j] == 9):
            j += 1
        code = _OK
        if j >= n or buf[j] == 10 or buf[j] == 13 or buf[j] == 35:
            code = -1  # blank line or comment
        for c in range(4 if code == _OK else 0):
            if c > 0:  # a separator: a comma with optional blanks around it, or blanks
                b = j
                while j < n and (buf[j] == 32 or buf[j] == 9):
                    j += 1
                if j >= n or buf[j] == 10 or buf[j] == 13:
                    code = _COLUMNS
                    break
                if csv:
                    if buf[j] != 44:
                        code = _NUMBER
                        break
                    j += 1
                    while j < n and (buf[j] == 32 or buf[j] == 9):
                        j += 1
                elif j == b:
                    code = _NUMBER
                    break
            q = cols[c]
            if q == 0 and seconds:
                v, j, code = _parse_seconds(buf, j, n, digits)
                if code != _OK:
                    break
            else:
                neg = False
                if j < n and (buf[j] == 45 or buf[j] == 43):
                    neg = buf[j] == 45
                    j += 1
                b = j
                v = 0
                while j < n and 48 <= buf[j] <= 57 and j - b < 18:
                    v = v * 10 + (buf[j] - 48)
                    j += 1
                if j == b or (j < n and 48 <= buf[j] <= 57):
                    code = _NUMBER
                    break
                if j < n and (buf[j] == 46 or buf[j] == 69 or buf[j] == 101):
                    code = _FRACTION if q == 0 else _NUMBER
                    break
                if neg:
                    v = -v
            vals[q] = v
        if code == _OK:  # only blanks may follow the fourth value
            b = j
            while j < n and (buf[j] == 32 or buf[j] == 9 or buf[j] == 13):
                j += 1
            if j < n and buf[j] != 10:
                code = (_COLUMNS if buf[j] == 44 else _NUMBER) if csv else (_COLUMNS if j > b else _NUMBER)
        if code == _OK:
            if vals[3] != 0 and vals[3] != 1 and vals[3] != -1:
                code = _POLARITY
            elif vals[1] < 0 or vals[2] < 0 or vals[1] >= width or vals[2] >= height:
                code = _OUTSIDE
            elif vals[0] < last:
                code = _BACKWARDS
        while j < n and buf[j] != 10:
            j += 1
        i = j + 1
        if code == -1:
            continue
        if code != _OK:
            if strict:
                return k, last, line, code, start
            counts[code] += 1
            continue
        t[k] = vals[0]
        x[k] = vals[1]
        y[k] = vals[2]
        p[k] = 1 if vals[3] == 1 else 0
        last = vals[0]
        k += 1
    return k, last, line, _OK, -1


def _is_int(token: str) -> bool:
    return token.lstrip("+-").isdigit()


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


class _Layout:
    """What the first lines of a text file say: separator, geometry, column order, time unit,
    and where the events start (``start`` bytes, after ``line`` lines)."""

    def __init__(self, head: bytes, path: str, time_unit: str) -> None:
        self.start = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        self.line = 0
        self.geometry: tuple[int, int] | None = None
        self.cols = np.arange(4, dtype=np.int64)
        self.csv = False
        lines = head[self.start :].split(b"\n")
        if len(head) == SNIFF_BYTES:
            lines.pop()  # maybe cut short
        data: list[list[str]] = []
        pos, stage, sep = self.start, 0, None
        for number, raw in enumerate(lines, start=1):
            pos += len(raw) + 1
            text = raw.decode("latin-1").strip()
            if not text or text.startswith("#"):
                continue
            if sep is None:
                self.csv = "," in text
                sep = "," if self.csv else None
            tokens = [tk.strip().strip("\"'") for tk in text.split(sep)]
            if stage == 0 and len(tokens) == 2 and all(map(_is_int, tokens)):
                self.geometry, stage = (int(tokens[0]), int(tokens[1])), 1
            elif stage < 2 and not _is_number(tokens[0]):
                self._names(tokens, path, pos - len(raw) - 1, number)
                stage = 2
            else:
                stage = 2
                data.append(tokens)
                if len(data) == SNIFF_LINES:
                    break
                continue
            self.start, self.line = pos, number
        if time_unit == "auto":
            t_col = int(np.flatnonzero(self.cols == 0)[0])
            time_unit = "s" if any(c in tk[t_col] for tk in data if len(tk) > t_col for c in ".eE") else "us"
        self.seconds = time_unit == "s"

    def _names(self, tokens: list[str], path: str, offset: int, number: int) -> None:
        names = [_NAMES.get(tk.lower(), -1) for tk in tokens]
        if sorted(names) != [0, 1, 2, 3]:
            raise HeaderError(path, offset, f"line {number}: {' '.join(tokens)!r} is neither a "
                                            "'width height' line, a t,x,y,p column header nor an event")
        self.cols = np.asarray(names, dtype=np.int64)


class TextReader(EventSource):
    """Stream events from a text/CSV file (see the module doc)."""

    def __init__(self, path: str | os.PathLike, *, strict: bool = True, time_unit: str = "auto",
                 geometry: tuple[int, int] | None = None, chunk_bytes: int = CHUNK_BYTES) -> None:
        path = os.fspath(path)
        super().__init__(path, strict)
        if time_unit not in ("s", "us", "auto"):
            raise ValueError(f"time_unit must be 's', 'us' or 'auto', got {time_unit!r}")
        self._chunk = int(chunk_bytes)
        if os.path.getsize(path) == 0:
            raise EmptyFileError(path, 0, "the file is empty")
        with open(path, "rb") as f:
            head = f.read(SNIFF_BYTES)
        self._layout = _Layout(head, path, time_unit)
        size = geometry if geometry is not None else self._layout.geometry
        if geometry is not None and self._layout.geometry not in (None, tuple(geometry)):
            log.warning("%s: geometry=%s overrides the file's %s", path, tuple(geometry),
                        self._layout.geometry)
        columns = ",".join("txyp"[c] for c in self._layout.cols)
        meta = {"time_unit": "s" if self._layout.seconds else "us", "columns": columns,
                "separator": "," if self._layout.csv else "space"}
        self.info = StreamInfo(width=COORD_LIMIT, height=COORD_LIMIT, format="text", path=path, metadata=meta)
        if size is None:
            size = self._scan_geometry()
            log.info("%s: no geometry in the file or given; using the largest x and y plus one: %dx%d",
                     path, *size)
        self.info.width, self.info.height = int(size[0]), int(size[1])

    def _scan_geometry(self) -> tuple[int, int]:
        w = h = 0
        for chunk in self._chunks_from(None):
            if len(chunk.events):
                w = max(w, int(chunk.events["x"].max()) + 1)
                h = max(h, int(chunk.events["y"].max()) + 1)
        return w, h

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        lay = self._layout
        if checkpoint is None:
            offset, line, last = lay.start, lay.line, _T_MIN
        else:
            offset, (line, last) = checkpoint.offset, checkpoint.state
        carry = b""
        with open(self.path, "rb") as f:
            f.seek(offset)
            while True:
                block = f.read(self._chunk)
                data = carry + block
                if not data:
                    return
                cut = data.rfind(b"\n") + 1 if block else len(data)
                if cut == 0:
                    if len(data) > MAX_LINE:
                        raise EventFormatError(self.path, offset, f"line {line + 1} is longer than "
                                                                  f"{MAX_LINE} bytes")
                    carry = data
                    continue
                buf = np.frombuffer(data, dtype=np.uint8, count=cut)
                ev = np.empty(data.count(b"\n", 0, cut) + 1, dtype=EVENT_DTYPE)
                counts = np.zeros(len(_REASONS) + 1, dtype=np.int64)
                k, new_last, new_line, code, pos = _parse_lines(
                    buf, lay.csv, lay.seconds, lay.cols, self.info.width, self.info.height, self.strict, last,
                    line, ev["t"], ev["x"], ev["y"], ev["p"], counts)
                if code != _OK:
                    nl = data.find(b"\n", pos, cut)
                    self._raise(code, offset + pos, new_line, data[pos : nl if nl >= 0 else cut])
                skipped = {_REASONS[c]: int(counts[c]) for c in _REASONS if counts[c]}
                yield Chunk(Checkpoint(offset, (line, last)), ev[:k], skipped=skipped)
                offset, line, last, carry = offset + cut, new_line, new_last, data[cut:]

    def _raise(self, code: int, where: int, line: int, text: bytes) -> None:
        shown = text.decode("latin-1").strip()
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        if code == _OUTSIDE:
            raise CoordinateError(self.path, where, f"line {line}: outside the {self.info.width}x"
                                                    f"{self.info.height} geometry: {shown!r}")
        cls = TimeOrderError if code == _BACKWARDS else EventFormatError
        raise cls(self.path, where, f"line {line}: {_MESSAGES[code]}: {shown!r}")


class TextWriter(EventWriter):
    """Write ``.txt`` (``width height``, then ``t x y p``, t in s) or ``.csv`` (``t,x,y,p``, t in µs)."""

    def __init__(self, path: str | os.PathLike, width: int, height: int) -> None:
        super().__init__(path, width, height)
        ext = os.path.splitext(self.path)[1].lower()
        if ext not in (".txt", ".csv"):
            raise ValueError(f"{self.path}: TextWriter writes .txt or .csv files")
        self._csv = ext == ".csv"
        self._f = open(self.path, "w", encoding="ascii", newline="\n")
        self._f.write("t,x,y,p\n" if self._csv else f"{self.width} {self.height}\n")

    def _write(self, events: np.ndarray) -> None:
        if bool(np.any((events["p"] != 0) & (events["p"] != 1))):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        for i in range(0, len(events), 1 << 16):
            part = events[i : i + (1 << 16)]
            rows = zip(*(part[k].tolist() for k in "txyp"), strict=True)
            if self._csv:
                self._f.write("".join(f"{t},{x},{y},{p}\n" for t, x, y, p in rows))
            else:
                self._f.write("".join(f"{'-' if t < 0 else ''}{abs(t) // 1_000_000}.{abs(t) % 1_000_000:06d} "
                                      f"{x} {y} {p}\n" for t, x, y, p in rows))

    def _finish(self) -> None:
        self._f.close()
