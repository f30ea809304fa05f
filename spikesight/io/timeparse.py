"""Parse times given on a command line: plain integers are µs; `s`, `ms`, `us` suffixes allowed."""

from __future__ import annotations

_UNITS = {"us": 1, "µs": 1, "ms": 1_000, "s": 1_000_000}


def parse_time_us(text: str | int | float) -> int:
    """``"1.5s"`` -> 1_500_000; ``"200ms"`` -> 200_000; ``"42"`` or ``"42us"`` -> 42.

    >>> parse_time_us("2.5ms")
    2500
    """
    if isinstance(text, int | float):
        return int(round(text))
    s = text.strip().lower()
    for unit in sorted(_UNITS, key=len, reverse=True):
        if s.endswith(unit):
            number = s[: -len(unit)].strip()
            break
    else:
        unit, number = "us", s
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use e.g. 1500000, 1.5s, 200ms, 42us)") from None
    return int(round(value * _UNITS[unit]))
