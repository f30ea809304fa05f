"""Camera settings written in a live source's URI: ``SCHEME:[SERIAL]?name=value&name=value``.

A URI is all the viewer's source picker, ``spikesight app SOURCE`` and a kiosk's command line
can pass, so the settings that :func:`~spikesight.io.open_source` takes as keyword arguments can
also follow the serial as a query: ``prophesee:?roi=576,296,100,100&biases=less_sensitive``,
``dv:DXA00093?biases=low&noise_filter_us=1000``, ``prophesee:?biases=diff_on:20,diff_off:-20``.
Each scheme names the options it takes and how each value is read (:func:`parse_roi`,
:func:`parse_biases`, :func:`parse_int`); an unknown option, a malformed value, or an option
given both in the URI and as a keyword argument raises ``ValueError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Parser = Callable[[str], Any]


def parse_roi(text: str) -> tuple[int, int, int, int]:
    """``"x,y,width,height"`` (pixels) -> a tuple; width and height must be positive."""
    parts = text.split(",")
    try:
        x, y, w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"roi={text!r}: expected x,y,width,height (four integers)") from None
    if x < 0 or y < 0 or w <= 0 or h <= 0:
        raise ValueError(f"roi={text!r}: x and y must be >= 0, width and height > 0")
    return x, y, w, h


def parse_biases(text: str) -> str | dict[str, int]:
    """A preset name (``"less_sensitive"``), or raw values ``"name:value,name:value"``."""
    if ":" not in text:
        if not text or not text.replace("_", "").isalnum():
            raise ValueError(f"biases={text!r}: expected a preset name or name:value,name:value")
        return text
    values = {}
    for item in text.split(","):
        name, _, value = item.partition(":")
        try:
            values[name.strip()] = int(value)
        except ValueError:
            raise ValueError(f"biases={text!r}: {item!r} is not name:integer") from None
        if not name.strip():
            raise ValueError(f"biases={text!r}: {item!r} has no bias name")
    return values


def parse_int(text: str) -> int:
    """A whole number (µs, counts)."""
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer, not {text!r}") from None



def split_options(scheme: str, rest: str, parsers: Mapping[str, Parser],
                  kwargs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split ``rest`` (what follows ``SCHEME:``) into the part before ``?`` and the keyword
    arguments to open the source with: ``kwargs`` plus the query's options, read by ``parsers``."""
    head, sep, query = rest.partition("?")
    out = dict(kwargs)
    if not sep:
        return head, out
    for item in query.split("&"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if name not in parsers:
            known = ", ".join(sorted(parsers)) or "none"
            raise ValueError(f"{scheme}:{rest}: unknown option {name!r} (options: {known})")
        if not eq:
            raise ValueError(f"{scheme}:{rest}: option {name!r} needs a value ({name}=...)")
        if name in out:
            raise ValueError(f"{scheme}:{rest}: {name} is given both in the URI and as an argument")
        try:
            out[name] = parsers[name](value.strip())
        except ValueError as exc:
            raise ValueError(f"{scheme}:{rest}: {exc}") from None
    return head, out
