"""Procedural textures for the synthetic scenes, filtered to a pixel's footprint.

A rendered texture finer than a pixel flickers as the camera moves, and the emulator turns
that flicker into events no real camera would give; so every pattern here takes the size of
the pixel's footprint and fades (noise) or box-filters (stripes, windows) what it cannot show.
The noise is a lattice value noise over an integer hash: no texture arrays, and the same values
on every machine.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_M32 = 0xFFFFFFFF


@njit(cache=True, nogil=True)
def hash01(ix: int, iy: int, salt: int) -> float:
    """A hash of three integers as a float in [0, 1)."""
    h = ((ix & _M32) * 1540483477) & _M32
    h ^= ((iy & _M32) * 461845907) & _M32
    h ^= ((salt & _M32) * 668265261) & _M32
    h ^= h >> 15
    h = (h * 739982445) & _M32
    h ^= h >> 12
    h = (h * 695872825) & _M32
    h ^= h >> 15
    return h / 4294967296.0


@njit(cache=True, nogil=True)
def value_noise(u: float, v: float, salt: int) -> float:
    """Smooth noise in [0, 1] with one random value per unit lattice cell corner."""
    iu = math.floor(u)
    iv = math.floor(v)
    fu = u - iu
    fv = v - iv
    su = fu * fu * (3.0 - 2.0 * fu)
    sv = fv * fv * (3.0 - 2.0 * fv)
    i, j = np.int64(iu), np.int64(iv)
    a = hash01(i, j, salt)
    b = hash01(i + 1, j, salt)
    c = hash01(i, j + 1, salt)
    d = hash01(i + 1, j + 1, salt)
    return (a + (b - a) * su) + ((c + (d - c) * su) - (a + (b - a) * su)) * sv


@njit(cache=True, nogil=True)
def filtered_noise(u: float, v: float, footprint: float, salt: int) -> float:
    """:func:`value_noise` faded to its mean 0.5 as the footprint (in cells) nears one cell."""
    w = 1.5 - 1.5 * footprint
    if w <= 0.0:
        return 0.5
    if w > 1.0:
        w = 1.0
    return 0.5 + (value_noise(u, v, salt) - 0.5) * w


@njit(cache=True, nogil=True)
def _pulse_integral(x: float, a: float, b: float, period: float) -> float:
    k = math.floor(x / period)
    r = x - k * period - a
    width = b - a
    return k * width + min(max(r, 0.0), width)


@njit(cache=True, nogil=True)
def pulse(u: float, a: float, b: float, period: float, footprint: float) -> float:
    """Box-filtered periodic pulse: the share of ``[u - fp/2, u + fp/2]`` lying in ``[a, b) + k * period``."""
    if footprint < 1e-6:
        r = u - math.floor(u / period) * period
        return 1.0 if a <= r < b else 0.0
    h = 0.5 * footprint
    return (_pulse_integral(u + h, a, b, period) - _pulse_integral(u - h, a, b, period)) / footprint


@njit(cache=True, nogil=True)
def band(u: float, a: float, b: float, footprint: float) -> float:
    """Box-filtered indicator of ``a <= u < b`` (one band, not periodic)."""
    if footprint < 1e-6:
        return 1.0 if a <= u < b else 0.0
    h = 0.5 * footprint
    lo = max(u - h, a)
    hi = min(u + h, b)
    return max(hi - lo, 0.0) / footprint
