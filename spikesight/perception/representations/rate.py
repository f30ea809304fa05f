"""Rate coding: intensity frames to T steps of random spikes, reproducible from a seed.

For feeding ordinary images (APS frames, rendered scenes, MNIST-like inputs) to a spiking
network. ``"bernoulli"`` fires with probability equal to the intensity at each step (what
snntorch's ``spikegen.rate`` and spikingjelly's ``PoissonEncoder`` call Poisson coding);
``"poisson"`` draws a Poisson count with mean equal to the intensity per step (graded
spikes). Random numbers come from SplitMix64 evaluated at (seed, step, pixel), so the same
seed always gives the same spikes, whatever the order or split of the work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from numba import njit

from .window import check_choice, check_positive

RateMode = Literal["bernoulli", "poisson"]
RATE_MODES: tuple[RateMode, ...] = ("bernoulli", "poisson")
MAX_POISSON_RATE = 100.0

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@njit(cache=True, nogil=True, inline="always")
def _splitmix(z):
    """SplitMix64's output function (Steele, Lea & Flood, OOPSLA 2014)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, nogil=True, inline="always")
def _uniform(key, counter):
    """A uniform double in [0, 1) from the SplitMix64 stream ``key`` at position ``counter``."""
    z = _splitmix(key + (counter + np.uint64(1)) * _GOLDEN)
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, nogil=True)
def _count_outside(rates, top):
    """How many rates are not in [0, top] (NaN included)."""
    bad = 0
    for r in rates:
        if not (r >= 0.0 and r <= top):
            bad += 1
    return bad


@njit(cache=True, nogil=True)
def _bernoulli(rates, out, key):
    """``out[k, j] = 1`` with probability ``rates[j]`` (steps x pixels), else 0."""
    steps, n = out.shape
    for k in range(steps):
        base = np.uint64(k) * np.uint64(n)
        for j in range(n):
            out[k, j] = 1.0 if _uniform(key, base + np.uint64(j)) < rates[j] else 0.0


@njit(cache=True, nogil=True)
def _poisson(rates, out, key):
    """``out[k, j]`` ~ Poisson(``rates[j]``), by inversion of the cumulative distribution."""
    steps, n = out.shape
    p0 = np.empty(n)
    for j in range(n):
        p0[j] = math.exp(-np.float64(rates[j]))
    for k in range(steps):
        base = np.uint64(k) * np.uint64(n)
        for j in range(n):
            u = _uniform(key, base + np.uint64(j))
            lam = np.float64(rates[j])
            count = 0
            pk = p0[j]
            cdf = pk
            while u > cdf:
                count += 1
                pk *= lam / count
                if pk == 0.0:
                    break
                cdf += pk
            out[k, j] = count


def rate_code(
    frames: torch.Tensor | np.ndarray, steps: int, mode: RateMode = "bernoulli", seed: int = 0
) -> torch.Tensor:
    """Spikes ``[steps, C, H, W]`` from intensities ``[H, W]`` or ``[C, H, W]``. See :class:`RateCoding`."""
    check_positive("steps", steps)
    check_choice("mode", mode, RATE_MODES)
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().to("cpu", torch.float32).numpy()
    rates = np.ascontiguousarray(frames, dtype=np.float32)
    if rates.ndim == 2:
        rates = rates[None]
    if rates.ndim != 3:
        raise ValueError(f"frames must be [H, W] or [C, H, W], got shape {rates.shape}")
    top = 1.0 if mode == "bernoulli" else MAX_POISSON_RATE
    if _count_outside(rates.reshape(-1), top):
        raise ValueError(f"{mode} rates must lie in [0, {top:g}] (no NaN)")
    out = np.empty((steps, *rates.shape), dtype=np.float32)
    key = np.uint64(_splitmix(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)))
    kernel = _poisson if mode == "poisson" else _bernoulli
    kernel(rates.reshape(-1), out.reshape(steps, -1), key)
    return torch.from_numpy(out)


@dataclass(frozen=True)
class RateCoding:
    """Intensity frames ``[H, W]`` or ``[C, H, W]`` to spikes ``[T, C, H, W]`` (float32), seeded.

    - ``"bernoulli"``: at each step a pixel of intensity ``r`` in [0, 1] fires (1.0) with
      probability ``r``, independently across steps and pixels;
    - ``"poisson"``: at each step a pixel emits a Poisson(``r``) count, ``r`` in [0, 100].

    The draws depend only on ``seed``, the step and the pixel: the same call gives the same
    spikes; use a new seed (say the frame index) for fresh draws. The work is single-threaded
    numba, like every representation here: torch's intra-op threads stall on a busy machine.

    >>> import torch
    >>> spikes = RateCoding(steps=4, seed=1)(torch.tensor([[0.0, 1.0]]))
    >>> spikes.shape, spikes[:, 0, 0, 0].tolist(), spikes[:, 0, 0, 1].tolist()
    (torch.Size([4, 1, 1, 2]), [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0])
    """

    steps: int
    mode: RateMode = "bernoulli"
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive("steps", self.steps)
        check_choice("mode", self.mode, RATE_MODES)

    def __call__(self, frames: torch.Tensor | np.ndarray) -> torch.Tensor:
        return rate_code(frames, self.steps, self.mode, self.seed)
