"""Frames to events: an ESIM/v2e-style DVS emulator, fed one frame at a time.

A person without an event camera can turn a video, a webcam or a rendered scene into events
with it. The model, per pixel (as in ESIM, Rebecq et al. 2018, and v2e, Hu et al. 2021):

* brightness is ``L = log(I + eps)`` of the linear intensity ``I`` (uint8 frames are divided by
  255, uint16 by 65535, float frames are taken as they are; colour frames (BGR, OpenCV's order)
  become luma first);
* each pixel keeps a reference level; between two frames at ``t0`` and ``t1`` its brightness
  is interpolated linearly in time, and an ON event fires whenever ``L - ref`` reaches the
  pixel's ON threshold (the reference then moves up by that threshold), an OFF event whenever
  it falls to minus the OFF threshold: a change spanning several thresholds gives several
  events, each at its own interpolated time (µs, rounded to nearest);
* thresholds differ per pixel: ``N(threshold, threshold_sigma)``, clipped below at
  ``min_threshold``, drawn once from the seed (fixed-pattern mismatch);
* leak: the reference drifts down by ``leak_hz`` thresholds per second, so a static pixel
  emits ON events at ``leak_hz`` (v2e's leak events); the initial reference of each pixel gets
  a random phase so that leak events do not fire in lockstep;
* shot noise: ON or OFF events (even odds) at ``shot_noise_hz`` per pixel, Poisson in time,
  independent of the signal (they do not move the reference);
* refractory period: an event less than ``refractory_us`` after the pixel's previous event
  is dropped (signal and noise alike); a dropped signal crossing still moves the reference,
  since the pixel's reset holds it at the current brightness while it is blind.

The emulator is streaming: :meth:`Emulator.feed` takes the next frame and its timestamp and
returns the events of the interval since the previous frame, sorted by time (ties in
row-major pixel order; rounding can give an event the timestamp of the frame that starts the
interval, the same as the previous interval's last events, which stay before it); state is
kept between calls. Everything random comes from one
``numpy.random.Generator`` seeded by ``seed`` and consumed in frame order, so the events
are the same whether the frames come one by one or all at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .events import EVENT_DTYPE

_NO_EVENT = np.int64(-(1 << 62))
_LUMA_BGR = np.array([0.114, 0.587, 0.299])


@dataclass(frozen=True)
class EmulatorConfig:
    """Parameters of the pixel model (thresholds in log-intensity units, rates per pixel)."""

    threshold_on: float = 0.2
    threshold_off: float = 0.2
    threshold_sigma: float = 0.03
    min_threshold: float = 0.01
    refractory_us: int = 0
    log_eps: float = 1e-3
    shot_noise_hz: float = 0.0
    leak_hz: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold_on <= 0 or self.threshold_off <= 0 or self.min_threshold <= 0:
            raise ValueError("thresholds must be positive")
        if self.threshold_sigma < 0 or self.refractory_us < 0 or self.log_eps <= 0:
            raise ValueError("threshold_sigma and refractory_us must be >= 0, log_eps > 0")
        if self.shot_noise_hz < 0 or self.leak_hz < 0:
            raise ValueError("noise rates must be >= 0")


def to_intensity(frame: np.ndarray) -> np.ndarray:
    """A frame as float64 linear intensity ``[H, W]``: uint8 / 255, uint16 / 65535, BGR -> luma."""
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    if frame.dtype == np.uint8:
        scale = 1.0 / 255.0
    elif frame.dtype == np.uint16:
        scale = 1.0 / 65535.0
    elif frame.dtype.kind == "f":
        scale = 1.0
    else:
        raise ValueError(f"frames must be uint8, uint16 or float, got {frame.dtype}")
    if frame.ndim == 3:
        if frame.shape[2] not in (3, 4):
            raise ValueError(f"colour frames need 3 (BGR) or 4 (BGRA) channels, got {frame.shape[2]}")
        frame = frame[:, :, :3] @ _LUMA_BGR
    elif frame.ndim != 2:
        raise ValueError(f"frames must be [H, W] or [H, W, C], got shape {frame.shape}")
    return np.asarray(frame, dtype=np.float64) * scale


@njit(cache=True, nogil=True)
def _crossings(d0, delta, c_on, c_off):
    """Threshold crossings of one pixel in one interval: (count, polarity, threshold)."""
    if delta > 0.0:
        n = np.int64(np.floor((d0 + delta) / c_on))
        return max(n, np.int64(0)), 1, c_on
    if delta < 0.0:
        n = np.int64(np.floor(-(d0 + delta) / c_off))
        return max(n, np.int64(0)), 0, c_off
    return np.int64(0), 1, c_on


@njit(cache=True, nogil=True)
def _interval(l0, l1, ref, c_on, c_off, leak, last, t0, t1, refractory, noise_pix, noise_t, noise_p):
    """Events of all pixels between frames at ``t0`` and ``t1``; updates ``ref`` and ``last``.

    ``l0``, ``l1``: log brightness at both frames; ``leak``: reference drift per µs;
    ``noise_*``: the noise events, sorted by pixel, then time.
    Returns (pixel, t, p) columns, per pixel in time order.
    """
    npx = l0.shape[0]
    dt = t1 - t0
    bound = noise_t.shape[0]
    for i in range(npx):
        d0 = l0[i] - ref[i]
        n, _, _ = _crossings(d0, l1[i] - l0[i] + leak[i] * dt, c_on[i], c_off[i])
        bound += n
    out_i = np.empty(bound, dtype=np.int64)
    out_t = np.empty(bound, dtype=np.int64)
    out_p = np.empty(bound, dtype=np.int16)
    k = 0
    n_noise = noise_pix.shape[0]
    qe = 0
    for i in range(npx):
        d0 = l0[i] - ref[i]
        delta = l1[i] - l0[i] + leak[i] * dt
        n, pol, c = _crossings(d0, delta, c_on[i], c_off[i])
        q = qe
        while qe < n_noise and noise_pix[qe] == i:
            qe += 1
        if n == 0 and q == qe:
            ref[i] -= leak[i] * dt
            continue
        sign = 1.0 if pol == 1 else -1.0
        j = 1
        prev = last[i]
        while j <= n or q < qe:
            ts = t1 + 1
            if j <= n:
                tau = (sign * j * c - d0) / delta * dt
                ts = t0 + np.int64(np.floor(tau + 0.5))
            if j <= n and (q >= qe or ts <= noise_t[q]):
                t = ts
                p = pol
                j += 1
            else:
                t = noise_t[q]
                p = noise_p[q]
                q += 1
            if t - prev < refractory:
                continue
            out_i[k] = i
            out_t[k] = t
            out_p[k] = p
            k += 1
            prev = t
        last[i] = prev
        ref[i] += sign * n * c - leak[i] * dt
    return out_i[:k], out_t[:k], out_p[:k]


class Emulator:
    """A streaming frames-to-events converter (see the module docstring for the model).

    >>> emu = Emulator(EmulatorConfig(threshold_sigma=0.0))
    >>> len(emu.feed(np.full((2, 2), 0.1), 0))
    0
    >>> ev = emu.feed(np.full((2, 2), 0.1 * np.exp(0.5)), 1000)
    >>> len(ev), set(ev["p"].tolist())
    (8, {1})
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.reset()

    def reset(self) -> None:
        """Forget all frames and restart the random stream from the seed."""
        self._rng = np.random.default_rng(self.config.seed)
        self._shape: tuple[int, int] | None = None
        self._t: int | None = None
        self._log: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int] | None:
        """``(height, width)`` of the frames, once the first one has come."""
        return self._shape

    @property
    def thresholds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The per-pixel ``(ON, OFF)`` thresholds ``[H, W]``, once the first frame has come."""
        if self._shape is None:
            return None
        return self._c_on.reshape(self._shape).copy(), self._c_off.reshape(self._shape).copy()

    @property
    def time(self) -> int | None:
        """Timestamp (µs) of the last frame fed."""
        return self._t

    def _start(self, log_frame: np.ndarray) -> None:
        cfg = self.config
        n = log_frame.size
        self._c_on = self._thresholds(cfg.threshold_on, n)
        self._c_off = self._thresholds(cfg.threshold_off, n)
        self._leak = self._c_on * (cfg.leak_hz * 1e-6)
        self._ref = log_frame.copy()
        if cfg.leak_hz > 0:
            self._ref -= self._rng.random(n) * self._c_on
        self._last = np.full(n, _NO_EVENT, dtype=np.int64)

    def _thresholds(self, nominal: float, n: int) -> np.ndarray:
        cfg = self.config
        if cfg.threshold_sigma == 0:
            return np.full(n, max(nominal, cfg.min_threshold))
        c = nominal + cfg.threshold_sigma * self._rng.standard_normal(n)
        return np.maximum(c, cfg.min_threshold)

    def _noise(self, n_px: int, t0: int, t1: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rate = self.config.shot_noise_hz
        count = int(self._rng.poisson(rate * n_px * (t1 - t0) * 1e-6)) if rate > 0 else 0
        if count == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int16)
        pix = self._rng.integers(0, n_px, count)
        t = self._rng.integers(t0 + 1, t1 + 1, count)
        p = self._rng.integers(0, 2, count).astype(np.int16)
        order = np.lexsort((t, pix))
        return pix[order], t[order], p[order]

    def feed(self, frame: np.ndarray, t: int) -> np.ndarray:
        """Take the next frame (timestamp ``t`` in µs, increasing) and return the events since
        the previous one, sorted by time; the first frame only sets the reference."""
        t = int(t)
        intensity = to_intensity(frame)
        log_frame = np.log(intensity.ravel() + self.config.log_eps)
        if self._shape is None:
            self._shape = intensity.shape
            self._start(log_frame)
            self._t, self._log = t, log_frame
            return np.empty(0, dtype=EVENT_DTYPE)
        if intensity.shape != self._shape:
            raise ValueError(f"frame shape {intensity.shape} differs from the first frame's {self._shape}")
        if t <= self._t:
            raise ValueError(f"frame timestamps must increase: {t} µs after {self._t} µs")
        noise_pix, noise_t, noise_p = self._noise(log_frame.size, self._t, t)
        pix, tt, pp = _interval(
            self._log,
            log_frame,
            self._ref,
            self._c_on,
            self._c_off,
            self._leak,
            self._last,
            self._t,
            t,
            self.config.refractory_us,
            noise_pix,
            noise_t,
            noise_p,
        )
        self._t, self._log = t, log_frame
        order = np.argsort(tt, kind="stable")
        width = self._shape[1]
        ev = np.empty(len(order), dtype=EVENT_DTYPE)
        pix = pix[order]
        ev["x"] = pix % width
        ev["y"] = pix // width
        ev["p"] = pp[order]
        ev["t"] = tt[order]
        return ev

    def feed_many(self, frames, times) -> np.ndarray:
        """Feed several frames (any iterable, with their timestamps); all their events in one array."""
        pieces = [self.feed(f, t) for f, t in zip(frames, times, strict=True)]
        pieces = [p for p in pieces if len(p)]
        return np.concatenate(pieces) if pieces else np.empty(0, dtype=EVENT_DTYPE)
