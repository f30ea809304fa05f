"""How the window writes times, rates and replay factors (Qt-free, so tests check them directly)."""

from __future__ import annotations

import math


def format_time(us: int | None) -> str:
    """``83_456_789`` -> ``"1:23.457"``; under a minute ``"12.346 s"``; ``None`` -> ``"--"``."""
    if us is None:
        return "--"
    sign = "-" if us < 0 else ""
    ms = int(round(abs(us) / 1000))
    s, ms = divmod(ms, 1000)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    if h:
        return f"{sign}{h}:{m:02d}:{s:02d}.{ms:03d}"
    if m:
        return f"{sign}{m}:{s:02d}.{ms:03d}"
    return f"{sign}{s}.{ms:03d} s"


def format_speed(speed: float, fastest: bool = False) -> str:
    """``0.01`` -> ``"1/100x"``, ``2.0`` -> ``"2x"``; as fast as possible -> ``"max"``."""
    if fastest:
        return "max"
    if speed >= 1:
        return f"{speed:g}x"
    inv = 1 / speed
    return f"1/{inv:.0f}x" if abs(inv - round(inv)) < 1e-6 * inv else f"{speed:.3g}x"


def format_rate(ev_per_s: float) -> str:
    """Events per second as ``"1.23 Mev/s"`` / ``"45.6 kev/s"`` / ``"12 ev/s"``."""
    if ev_per_s is None or math.isnan(ev_per_s):
        return "--"
    if ev_per_s >= 1e6:
        return f"{ev_per_s / 1e6:.2f} Mev/s"
    if ev_per_s >= 1e3:
        return f"{ev_per_s / 1e3:.1f} kev/s"
    return f"{ev_per_s:.0f} ev/s"


def format_duration_ms(us: int) -> str:
    """An accumulation time: ``20000`` -> ``"20 ms"``, ``1500`` -> ``"1.5 ms"``."""
    ms = us / 1000
    return f"{ms:.3g} ms" if ms < 1000 else f"{ms / 1000:.3g} s"


def format_energy(pj: float) -> str:
    """Energy in pJ written with a sensible unit."""
    for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
        if pj >= scale:
            return f"{pj / scale:.3g} {unit}"
    return f"{pj:.3g} pJ"
