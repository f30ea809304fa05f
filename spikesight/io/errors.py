"""Errors raised on bad event input.

Every reader raises a subclass of :class:`EventFormatError` that names the file, the byte
offset (or record index, for container formats) and what was wrong, so a user can find
the bad spot with a hex editor.
"""

from __future__ import annotations

import os


class EventFormatError(ValueError):
    """Bad event input: names the file, where in it, and what was wrong."""

    def __init__(self, path: str | os.PathLike | None, offset: int | None, message: str, unit: str = "byte"):
        self.path = None if path is None else os.fspath(path)
        self.offset = offset
        self.unit = unit
        self.message = message
        where = self.path if self.path is not None else "<stream>"
        if offset is not None:
            where = f"{where} at {unit} {offset}"
        super().__init__(f"{where}: {message}")


class EmptyFileError(EventFormatError):
    """The file holds no bytes at all (or no header)."""


class HeaderError(EventFormatError):
    """The header is missing, malformed, or names another format."""


class GeometryError(EventFormatError):
    """The sensor geometry is unknown, or the data disagrees with it."""


class TruncatedError(EventFormatError):
    """The data ends in the middle of a word, event or packet."""


class UnknownWordError(EventFormatError):
    """A word type that the format's specification does not define."""


class CoordinateError(EventFormatError):
    """An event lies outside the sensor geometry."""


class TimeOrderError(EventFormatError):
    """Time runs backwards beyond what the format's wrap rule allows."""


class UnsupportedCodecError(EventFormatError):
    """The data is compressed with a codec this build cannot decode."""


class UnsupportedFormatError(EventFormatError):
    """No reader (or writer) knows this file or URI."""
