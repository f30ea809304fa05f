"""Event sources and sinks: every file format, live cameras, and streaming slices.

Open anything with :func:`open_source` (a path, or a URI such as ``dv:`` or ``sim:SCENE``),
slice it by time or count, and write with :func:`open_writer`. See DESIGN.md for the
event model.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from . import registry as _registry  # noqa: F401 - registers the formats
from .errors import (
    CoordinateError,
    EmptyFileError,
    EventFormatError,
    GeometryError,
    HeaderError,
    TimeOrderError,
    TruncatedError,
    UnknownWordError,
    UnsupportedCodecError,
    UnsupportedFormatError,
)
from .events import (
    EVENT_DTYPE,
    TRIGGER_DTYPE,
    as_events,
    concat_events,
    from_dv_arrays,
    from_dv_structured,
    make_events,
    to_dv_arrays,
)
from .formats import FORMATS, FormatSpec, detect_format, format_for_output, register_format
from .info import DecodeStats, StreamInfo
from .source import Checkpoint, Chunk, EventSlice, EventSource
from .writer import EventWriter

__all__ = [
    "EVENT_DTYPE",
    "FORMATS",
    "SCHEMES",
    "TRIGGER_DTYPE",
    "Checkpoint",
    "Chunk",
    "CoordinateError",
    "DecodeStats",
    "EmptyFileError",
    "EventFormatError",
    "EventSlice",
    "EventSource",
    "EventWriter",
    "FormatSpec",
    "GeometryError",
    "HeaderError",
    "StreamInfo",
    "TimeOrderError",
    "TruncatedError",
    "UnknownWordError",
    "UnsupportedCodecError",
    "UnsupportedFormatError",
    "as_events",
    "concat_events",
    "detect_format",
    "format_for_output",
    "from_dv_arrays",
    "from_dv_structured",
    "make_events",
    "open_source",
    "open_writer",
    "read_events",
    "register_format",
    "register_scheme",
    "to_dv_arrays",
    "write_events",
]

SCHEMES: dict[str, Callable[..., EventSource]] = {}


def register_scheme(name: str, opener: Callable[..., EventSource]) -> None:
    """Make ``open_source("NAME:rest")`` call ``opener("rest", **kwargs)``."""
    SCHEMES[name] = opener


def _split_scheme(uri: str) -> tuple[str, str] | None:
    scheme, sep, rest = uri.partition(":")
    if sep and len(scheme) > 1 and scheme.replace("-", "").isalnum() and not os.path.exists(uri):
        return scheme.lower(), rest
    return None


def open_source(uri: str | os.PathLike, *, format: str | None = None, **kwargs) -> EventSource:
    """Open a file path or a live/synthetic source URI as an :class:`EventSource`.

    ``format`` forces a file format by name (see :data:`FORMATS`); otherwise it comes from
    the file's header, then its extension. Other keyword arguments go to the reader
    (``strict=False`` for lenient decoding, ``geometry=(w, h)`` for RAW files without one).
    """
    if not isinstance(uri, os.PathLike):
        split = _split_scheme(str(uri))
        if split is not None:
            scheme, rest = split
            if scheme not in SCHEMES:
                raise UnsupportedFormatError(
                    str(uri), None, f"no source for scheme {scheme!r}; available: {sorted(SCHEMES) or 'none'}"
                )
            return SCHEMES[scheme](rest, **kwargs)
    path = os.fspath(uri)
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    spec = FORMATS[format] if format is not None else detect_format(path)
    return spec.reader_class()(path, **kwargs)


def read_events(path: str | os.PathLike, **kwargs) -> np.ndarray:
    """Read a whole (small) file into one event array."""
    with open_source(path, **kwargs) as src:
        return concat_events(list(src))


def open_writer(
    path: str | os.PathLike, width: int, height: int, *, format: str | None = None, **kwargs
) -> EventWriter:
    """A writer for ``path``; the format from ``format`` or from the extension."""
    spec = format_for_output(path, format)
    return spec.writer_class()(path, width, height, **kwargs)


def write_events(path: str | os.PathLike, events: np.ndarray, width: int, height: int, **kwargs) -> None:
    """Write a whole event array to ``path`` in one call."""
    with open_writer(path, width, height, **kwargs) as w:
        w.write(events)


from . import emulated_schemes as _emulated_schemes  # noqa: E402,F401 - registers video:, webcam: and sim:
from .live import schemes as _live_schemes  # noqa: E402,F401 - registers dv:, dv-net:, prophesee: and metavision:
