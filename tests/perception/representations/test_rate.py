"""Rate coding: shapes, reproducibility, and the statistics of the spikes it draws."""

import numpy as np
import pytest
import torch

from spikesight.perception.representations import RateCoding, rate_code


def test_shapes_and_dtype():
    assert RateCoding(steps=3)(torch.rand(4, 5)).shape == (3, 1, 4, 5)
    out = RateCoding(steps=2)(np.random.default_rng(0).random((3, 4, 5)))
    assert out.shape == (2, 3, 4, 5) and out.dtype == torch.float32


def test_certain_rates_fire_always_or_never():
    out = RateCoding(steps=50)(torch.tensor([[0.0, 1.0]]))
    assert out[:, 0, 0, 0].sum() == 0 and out[:, 0, 0, 1].sum() == 50


def test_same_seed_same_spikes_other_seed_other_spikes():
    frame = torch.full((8, 8), 0.5)
    a, b, c = RateCoding(10, seed=3)(frame), RateCoding(10, seed=3)(frame), RateCoding(10, seed=4)(frame)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bernoulli_firing_rate_and_independence():
    rates = torch.tensor([0.0, 0.05, 0.3, 0.5, 0.9]).repeat(200, 1)  # 200 pixels per rate
    out = rate_code(rates, 400, "bernoulli", seed=1)[:, 0]  # [T, 200, 5]
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    mean = out.mean(dim=(0, 1))
    # 80 000 draws per rate: the mean's standard deviation is below 0.002
    assert torch.allclose(mean, rates[0], atol=0.01)
    # successive steps and neighbouring pixels are uncorrelated
    x = out[:, :, 3] - 0.5
    assert abs((x[1:] * x[:-1]).mean().item()) < 0.01
    assert abs((x[:, 1:] * x[:, :-1]).mean().item()) < 0.01


def test_poisson_mean_and_variance():
    lam = torch.tensor([0.0, 0.2, 1.0, 4.0, 30.0]).repeat(100, 1)
    out = rate_code(lam, 400, "poisson", seed=2)[:, 0]
    assert bool((out == out.round()).all()) and bool((out >= 0).all())
    mean = out.mean(dim=(0, 1))
    var = out.var(dim=(0, 1))
    assert torch.allclose(mean, lam[0], rtol=0.03, atol=0.01)
    assert torch.allclose(var, lam[0], rtol=0.06, atol=0.01)


@pytest.mark.parametrize(
    ("mode", "value"),
    [("bernoulli", 1.5), ("bernoulli", -0.1), ("poisson", 101.0), ("bernoulli", float("nan"))],
)
def test_rates_out_of_range_raise(mode, value):
    with pytest.raises(ValueError):
        rate_code(torch.tensor([[value]]), 2, mode)


@pytest.mark.parametrize("shape", [(5,), (1, 2, 3, 4)])
def test_bad_shapes_raise(shape):
    with pytest.raises(ValueError):
        rate_code(torch.zeros(shape), 2)


@pytest.mark.parametrize("kwargs", [{"steps": 0}, {"steps": 2, "mode": "gauss"}])
def test_bad_configuration_raises(kwargs):
    with pytest.raises(ValueError):
        RateCoding(**kwargs)
