"""Input coding over T steps (direct, rate, randomized smoothing) and certified-radius evaluation.

An analog input ``x`` of shape ``[B, ...]`` becomes ``[T, B, ...]``:

* **direct**: ``x[t] = x`` (the first conv + spiking neuron layer does the encoding);
* **rate** (Poisson/Bernoulli): ``s[t] ~ Bernoulli(clamp(x, 0, 1))`` independently per step and
  element. ``s[t] = x + η[t]`` with zero-mean noise of variance ``x (1 - x)``: rate coding is a
  data-dependent input noise;
* **randomized smoothing coding** (RSC; Wu, Yao, Chou, Qiu, Yang, Xu, Li, "RSC-SNN: Exploring the
  Trade-off Between Adversarial Robustness and Accuracy in Spiking Neural Networks via Randomized
  Smoothing Coding", ACM MM 2024, arXiv 2407.20099): replace that noise by Gaussian noise of a
  chosen level, ``x[t] = x + σ ε[t]``, ``ε ~ N(0, I)``. ``per_step=True`` draws ε independently at
  every step (like rate coding), ``per_step=False`` once per input. The paper's full text and code
  were not reachable (the official repository holds only a README); which of the two it uses is
  unverified, and ``per_step=True`` is this module's default.

**Certification** follows CERTIFY of Cohen, Rosenfeld & Kolter, "Certified Adversarial Robustness
via Randomized Smoothing", ICML 2019: the smoothed classifier ``g(x) = argmax_c P(f(enc(x)) = c)``
is evaluated by Monte-Carlo. n0 noisy samples pick the top class ĉ, n more count it (n_A); the
one-sided Clopper-Pearson bound at level 1 - α gives ``p_A = B^{-1}(α; n_A, n - n_A + 1)`` (the
α-quantile of a Beta distribution); if ``p_A > 1/2`` the prediction ĉ is certified within the
ℓ2 radius ``R = σ Φ^{-1}(p_A)``, otherwise the answer is to abstain. With per-step noise the
encoder feeds T independent noisy copies: a shift ε of x moves the stacked input by
``sqrt(T) |ε|``, so the radius in input space is ``σ Φ^{-1}(p_A) / sqrt(T)``; :func:`certify`
applies that factor. The regularised incomplete beta function (continued fraction, DLMF 8.17.22,
evaluated by Lentz's method) and its inverse (bisection) are implemented here, since scipy is not
a dependency; Φ^{-1} is :class:`statistics.NormalDist`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from statistics import NormalDist

import torch
from torch import nn

from .base import reset_net

__all__ = [
    "Certificate",
    "DirectEncoder",
    "RandomizedSmoothingEncoder",
    "RateEncoder",
    "beta_ppf",
    "betainc",
    "certified_accuracy",
    "certify",
    "clopper_pearson_lower",
    "direct_encode",
    "normal_ppf",
    "rate_encode",
    "rsc_encode",
    "smoothed_counts",
]


def direct_encode(x: torch.Tensor, T: int) -> torch.Tensor:
    """``[B, ...] -> [T, B, ...]``, the same input at every step (a broadcast view, no copy)."""
    return x.unsqueeze(0).expand(T, *x.shape)


def rate_encode(x: torch.Tensor, T: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Bernoulli spikes with probability ``clamp(x, 0, 1)``, independent per step: ``[T, B, ...]``."""
    p = x.detach().clamp(0.0, 1.0).unsqueeze(0).expand(T, *x.shape)
    return torch.bernoulli(p, generator=generator)


def rsc_encode(
    x: torch.Tensor,
    T: int,
    sigma: float,
    generator: torch.Generator | None = None,
    per_step: bool = True,
) -> torch.Tensor:
    """Randomized smoothing coding: ``x + σ ε`` with ``ε ~ N(0, I)`` per step (or shared), ``[T, B, ...]``."""
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    shape = (T, *x.shape) if per_step else (1, *x.shape)
    noise = torch.randn(shape, generator=generator, dtype=x.dtype, device=x.device)
    return x.unsqueeze(0) + sigma * noise.expand(T, *x.shape)


def _generator(seed: int | None) -> torch.Generator | None:
    return None if seed is None else torch.Generator().manual_seed(seed)


class DirectEncoder(nn.Module):
    """Module form of :func:`direct_encode`."""

    def __init__(self, T: int) -> None:
        super().__init__()
        self.T = T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return direct_encode(x, self.T)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class RateEncoder(nn.Module):
    """Module form of :func:`rate_encode`; ``seed`` makes the spike trains reproducible (CPU generator)."""

    def __init__(self, T: int, seed: int | None = None) -> None:
        super().__init__()
        self.T = T
        self.generator = _generator(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rate_encode(x, self.T, self.generator)

    def extra_repr(self) -> str:
        return f"T={self.T}"


class RandomizedSmoothingEncoder(nn.Module):
    """Module form of :func:`rsc_encode` (RSC-SNN) with noise level ``sigma``."""

    def __init__(self, T: int, sigma: float, seed: int | None = None, per_step: bool = True) -> None:
        super().__init__()
        self.T = T
        self.sigma = sigma
        self.per_step = per_step
        self.generator = _generator(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rsc_encode(x, self.T, self.sigma, self.generator, self.per_step)

    def extra_repr(self) -> str:
        return f"T={self.T}, sigma={self.sigma}, per_step={self.per_step}"


_FPMIN = 1e-300


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b) (DLMF 8.17.22) by the modified Lentz method."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
    h = d
    for m in range(1, 100_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _FPMIN else _FPMIN)
            c = 1.0 + numerator / c
            c = c if abs(c) > _FPMIN else _FPMIN
            h *= c * d
        if abs(c * d - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)`` (the Beta(a, b) CDF) for ``a, b > 0``."""
    if a <= 0 or b <= 0:
        raise ValueError(f"a and b must be > 0, got a={a}, b={b}")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - betainc(b, a, 1.0 - x)
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a


def beta_ppf(q: float, a: float, b: float) -> float:
    """The ``q``-quantile of Beta(a, b): the ``x`` with ``I_x(a, b) = q`` (bisection to 1e-15)."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be in [0, 1], got {q}")
    lo, hi = 0.0, 1.0
    while hi - lo > 1e-15:
        mid = 0.5 * (lo + hi)
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def clopper_pearson_lower(successes: int, trials: int, alpha: float) -> float:
    """One-sided ``1 - alpha`` Clopper-Pearson lower bound of a binomial proportion."""
    if trials < 1 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes}/{trials}")
    if successes == 0:
        return 0.0
    return beta_ppf(alpha, successes, trials - successes + 1)


def normal_ppf(p: float) -> float:
    """Φ^{-1}(p), the standard normal quantile."""
    return NormalDist().inv_cdf(p)


@dataclass(frozen=True)
class Certificate:
    """CERTIFY's answer: ``label`` (-1 to abstain), ℓ2 ``radius`` in input space, the bound ``p_lower``."""

    label: int
    radius: float
    p_lower: float
    counts: tuple[int, ...]

    @property
    def abstained(self) -> bool:
        return self.label < 0


def smoothed_counts(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    num: int,
    *,
    T: int,
    sigma: float,
    num_classes: int,
    batch_size: int = 100,
    per_step: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """How often ``model`` predicts each class on ``num`` RSC encodings of one input ``x`` (no batch dim).

    ``model`` maps ``[T, B, ...]`` to scores ``[B, num_classes]``; a module's state is reset
    before every batch (each batch is a set of independent sequences).
    """
    counts = torch.zeros(num_classes, dtype=torch.long)
    remaining = num
    with torch.no_grad():
        while remaining > 0:
            b = min(batch_size, remaining)
            batch = x.unsqueeze(0).expand(b, *x.shape)
            if isinstance(model, nn.Module):
                reset_net(model)
            scores = model(rsc_encode(batch, T, sigma, generator, per_step))
            counts += torch.bincount(scores.argmax(-1).cpu(), minlength=num_classes)
            remaining -= b
    return counts


def certify(
    model: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    T: int,
    sigma: float,
    num_classes: int,
    n0: int = 100,
    n: int = 100_000,
    alpha: float = 0.001,
    batch_size: int = 100,
    per_step: bool = True,
    generator: torch.Generator | None = None,
) -> Certificate:
    """Cohen et al.'s CERTIFY for an SNN fed by RSC (see the module docstring)."""
    kwargs = dict(
        T=T,
        sigma=sigma,
        num_classes=num_classes,
        batch_size=batch_size,
        per_step=per_step,
        generator=generator,
    )
    guess = int(smoothed_counts(model, x, n0, **kwargs).argmax())
    counts = smoothed_counts(model, x, n, **kwargs)
    p_lower = clopper_pearson_lower(int(counts[guess]), n, alpha)
    if p_lower <= 0.5:
        return Certificate(-1, 0.0, p_lower, tuple(counts.tolist()))
    radius = sigma * normal_ppf(p_lower) / math.sqrt(T if per_step else 1)
    return Certificate(guess, radius, p_lower, tuple(counts.tolist()))


def certified_accuracy(certificates: list[Certificate], labels: list[int], radius: float) -> float:
    """Share of inputs certified correct at ℓ2 ``radius``: right label and certified radius >= ``radius``."""
    if len(certificates) != len(labels):
        raise ValueError("one label per certificate is needed")
    if not certificates:
        return 0.0
    hits = sum(c.label == y and c.radius >= radius for c, y in zip(certificates, labels, strict=True))
    return hits / len(certificates)
