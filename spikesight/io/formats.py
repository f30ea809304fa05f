"""Which formats exist, how to recognise them, and which class reads or writes each.

Readers and writers are named as ``"module:Class"`` strings and imported on first use, so
an optional dependency (dv-processing for AEDAT 4) is only needed for its own format.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from .errors import EmptyFileError, UnsupportedFormatError

SNIFF_BYTES = 4096


@dataclass(frozen=True)
class FormatSpec:
    """One file format: its name, extensions, a header sniffer, and its reader/writer."""

    name: str
    description: str
    extensions: tuple[str, ...]
    reader: str | None
    writer: str | None = None
    sniff: Callable[[bytes], bool] | None = None

    def reader_class(self) -> type:
        return _load(self.reader)

    def writer_class(self) -> type:
        if self.writer is None:
            raise UnsupportedFormatError(None, None, f"format {self.name!r} cannot be written")
        return _load(self.writer)


def _load(ref: str | None) -> type:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


FORMATS: dict[str, FormatSpec] = {}


def register_format(spec: FormatSpec) -> None:
    """Add (or replace) a format in the registry."""
    FORMATS[spec.name] = spec


def _ext(path: str) -> str:
    base = os.path.basename(path).lower()
    for spec in FORMATS.values():
        for ext in sorted(spec.extensions, key=len, reverse=True):
            if base.endswith(ext):
                return ext
    return os.path.splitext(base)[1]


def detect_format(path: str | os.PathLike) -> FormatSpec:
    """The format of an existing file: from its header first, its extension second."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if not head:
        raise EmptyFileError(path, 0, "the file is empty")
    for spec in FORMATS.values():
        if spec.sniff is not None and spec.reader is not None and spec.sniff(head):
            return spec
    ext = _ext(path)
    for spec in FORMATS.values():
        if ext in spec.extensions and spec.reader is not None:
            return spec
    raise UnsupportedFormatError(path, 0, f"unknown event file format (extension {ext!r}, no known header)")


def format_for_output(path: str | os.PathLike, fmt: str | None = None) -> FormatSpec:
    """The format to write ``path`` in: ``fmt`` when given, else from the extension."""
    path = os.fspath(path)
    if fmt is not None:
        if fmt not in FORMATS:
            raise UnsupportedFormatError(path, None, f"unknown format {fmt!r}; known: {sorted(FORMATS)}")
        return FORMATS[fmt]
    ext = _ext(path)
    for spec in FORMATS.values():
        if ext in spec.extensions and spec.writer is not None:
            return spec
    writable = sorted(ext for s in FORMATS.values() if s.writer for ext in s.extensions)
    raise UnsupportedFormatError(path, None, f"no writer for extension {ext!r}; writable: {writable}")
