"""Input coding and the randomized-smoothing certificate (Clopper-Pearson, Φ^-1, CERTIFY)."""

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from spikesight.perception.snn.coding import (
    Certificate,
    DirectEncoder,
    RandomizedSmoothingEncoder,
    RateEncoder,
    beta_ppf,
    betainc,
    certified_accuracy,
    certify,
    clopper_pearson_lower,
    direct_encode,
    normal_ppf,
    rate_encode,
    rsc_encode,
    smoothed_counts,
)


def binomial_upper_tail(k: int, n: int, p: Fraction) -> Fraction:
    """P(X >= k) for X ~ Binomial(n, p), exactly."""
    return sum((math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1)), Fraction(0))


def test_direct_coding_repeats_the_input():
    x = torch.rand(2, 3)
    y = direct_encode(x, 4)
    assert y.shape == (4, 2, 3)
    assert all(torch.equal(y[t], x) for t in range(4))
    assert torch.equal(DirectEncoder(4)(x), y)


def test_rate_coding_is_seeded_binary_with_the_input_as_rate():
    x = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0, 1.7, -0.3])
    a = RateEncoder(2000, seed=3)(x)
    b = RateEncoder(2000, seed=3)(x)
    assert torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    rate = a.mean(0)
    p = x.clamp(0, 1)
    # Bernoulli(p) = p + η with E[η] = 0, Var[η] = p (1 - p): 5 standard errors.
    assert torch.all((rate - p).abs() <= 5 * torch.sqrt(p * (1 - p) / 2000) + 1e-9)
    assert torch.equal(rate[[0, 4, 5, 6]], torch.tensor([0.0, 1.0, 1.0, 0.0]))
    var = a.var(0, unbiased=False)
    assert torch.allclose(var, p * (1 - p), atol=0.02)


def test_rate_encode_uses_the_generator():
    x = torch.full((100,), 0.5)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    assert not torch.equal(rate_encode(x, 3, g1), rate_encode(x, 3, g2))


def test_randomized_smoothing_coding_noise_statistics():
    x = torch.linspace(-1, 1, 50)
    y = RandomizedSmoothingEncoder(T=4000, sigma=0.25, seed=0)(x)
    noise = y - x
    assert noise.shape == (4000, 50)
    assert noise.mean().abs() < 0.25 * 5 / math.sqrt(noise.numel())
    assert abs(noise.std().item() - 0.25) < 0.005
    # per-step noise is independent across steps
    corr = torch.corrcoef(noise[:, :2].T)[0, 1]
    assert corr.abs() < 0.1
    shared = rsc_encode(x, 5, 0.25, torch.Generator().manual_seed(0), per_step=False)
    assert all(torch.equal(shared[t], shared[0]) for t in range(5))
    assert torch.equal(rsc_encode(x, 3, 0.0), direct_encode(x, 3))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), data=st.data())
def test_betainc_equals_the_binomial_tail(n, data):
    k = data.draw(st.integers(1, n))
    p = Fraction(data.draw(st.integers(1, 999)), 1000)
    # I_p(k, n - k + 1) = P(Binomial(n, p) >= k)
    assert betainc(k, n - k + 1, float(p)) == pytest.approx(
        float(binomial_upper_tail(k, n, p)), rel=1e-10, abs=1e-14
    )


def test_betainc_closed_forms():
    assert betainc(1, 1, 0.3) == pytest.approx(0.3, rel=1e-14)
    assert betainc(3.0, 1.0, 0.7) == pytest.approx(0.7**3, rel=1e-13)
    assert betainc(0.5, 0.5, 0.25) == pytest.approx(2 / math.pi * math.asin(0.5), rel=1e-12)
    assert betainc(2, 5, 0.0) == 0.0 and betainc(2, 5, 1.0) == 1.0


def test_beta_ppf_inverts_betainc():
    for a, b, q in [(2.5, 4.0, 0.3), (50, 3, 0.001), (1, 1, 0.42), (0.5, 0.5, 0.9)]:
        x = beta_ppf(q, a, b)
        assert betainc(a, b, x) == pytest.approx(q, rel=1e-9)


def test_clopper_pearson_known_values():
    # The textbook 95 % interval for 5 of 10 is (0.187086, 0.812914).
    assert clopper_pearson_lower(5, 10, 0.025) == pytest.approx(0.18708602, abs=1e-8)
    assert 1 - clopper_pearson_lower(5, 10, 0.025) == pytest.approx(0.81291398, abs=1e-8)
    # All successes: the bound solves p^n = alpha.
    assert clopper_pearson_lower(100, 100, 0.001) == pytest.approx(0.001 ** (1 / 100), rel=1e-12)
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 30), data=st.data())
def test_clopper_pearson_bound_solves_the_binomial_tail(n, data):
    k = data.draw(st.integers(1, n))
    alpha = data.draw(st.sampled_from([0.001, 0.01, 0.05, 0.2]))
    p = clopper_pearson_lower(k, n, alpha)
    assert float(binomial_upper_tail(k, n, Fraction(p))) == pytest.approx(alpha, rel=1e-7)


def test_normal_ppf_known_values():
    assert normal_ppf(0.5) == 0.0
    assert normal_ppf(0.975) == pytest.approx(1.959963984540054, rel=1e-14)
    assert normal_ppf(0.99) == pytest.approx(2.3263478740408408, rel=1e-14)
    assert normal_ppf(0.001) == pytest.approx(-3.090232306167813, rel=1e-14)


class ThresholdSNN(nn.Module):
    """A classifier on the time-averaged input: class 1 if mean(x) > 0 else class 0."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x_seq):
        self.calls += 1
        m = x_seq.mean(dim=(0, 2))
        return torch.stack([-m, m], dim=1)


def test_smoothed_counts_and_certify_on_a_known_classifier():
    model = ThresholdSNN()
    x = torch.full((16,), 0.05)
    sigma, T = 0.5, 4
    counts = smoothed_counts(
        model,
        x,
        1000,
        T=T,
        sigma=sigma,
        num_classes=2,
        batch_size=300,
        generator=torch.Generator().manual_seed(0),
    )
    assert counts.sum() == 1000 and model.calls == 4
    # mean over T * 16 noisy values ~ N(0.05, σ² / 64): P(class 1) = Φ(0.05 / (0.5 / 8)) = Φ(0.8)
    p1 = 0.5 * (1 + math.erf(0.8 / math.sqrt(2)))
    assert abs(counts[1].item() / 1000 - p1) < 5 * math.sqrt(p1 * (1 - p1) / 1000)

    cert = certify(
        model,
        x,
        T=T,
        sigma=sigma,
        num_classes=2,
        n0=100,
        n=2000,
        alpha=0.001,
        generator=torch.Generator().manual_seed(1),
    )
    assert cert.label == 1
    assert cert.p_lower == pytest.approx(clopper_pearson_lower(cert.counts[1], 2000, 0.001))
    assert cert.radius == pytest.approx(sigma * normal_ppf(cert.p_lower) / math.sqrt(T))
    # The smoothed classifier changes its answer when the input mean reaches 0: the smallest ℓ2
    # shift is 0.05 * sqrt(16) = 0.2. The certificate must stay below it (without the 1/sqrt(T)
    # of per-step noise it would claim about 0.35) and approach it with many samples.
    assert 0.15 < cert.radius < 0.2


def test_certify_abstains_when_the_classes_tie():
    model = ThresholdSNN()
    cert = certify(
        model,
        torch.zeros(8),
        T=2,
        sigma=1.0,
        num_classes=2,
        n0=50,
        n=500,
        generator=torch.Generator().manual_seed(2),
    )
    assert cert.abstained and cert.radius == 0.0


def test_certified_accuracy():
    certs = [
        Certificate(1, 0.5, 0.9, (0, 1)),
        Certificate(0, 0.2, 0.8, (1, 0)),
        Certificate(-1, 0.0, 0.4, (1, 1)),
    ]
    assert certified_accuracy(certs, [1, 0, 0], 0.0) == pytest.approx(2 / 3)
    assert certified_accuracy(certs, [1, 0, 0], 0.3) == pytest.approx(1 / 3)
    assert certified_accuracy(certs, [0, 0, 0], 0.3) == 0.0
