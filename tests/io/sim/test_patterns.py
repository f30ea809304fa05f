"""Footprint-filtered textures against dense sampling of their definitions."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.io.sim.patterns import band, filtered_noise, hash01, pulse, value_noise


def _mean_indicator(inside, u, fp, n=20001):
    xs = np.linspace(u - fp / 2, u + fp / 2, n)
    return float(np.mean([inside(x) for x in xs]))


@settings(max_examples=60, deadline=None)
@given(
    u=st.floats(-50, 50),
    a=st.floats(0, 0.9),
    width=st.floats(0.05, 0.9),
    period=st.floats(1.0, 3.0),
    fp=st.floats(0.01, 6.0),
)
def test_pulse_is_the_mean_of_the_periodic_indicator(u, a, width, period, fp):
    a, b = a * period, min(a + width, 0.99) * period

    def inside(x):
        r = x - np.floor(x / period) * period
        return a <= r < b

    assert abs(pulse(u, a, b, period, fp) - _mean_indicator(inside, u, fp)) < 2e-3


@settings(max_examples=60, deadline=None)
@given(u=st.floats(-5, 5), a=st.floats(-3, 3), width=st.floats(0.01, 3), fp=st.floats(0.01, 4.0))
def test_band_is_the_mean_of_the_indicator(u, a, width, fp):
    b = a + width
    assert abs(band(u, a, b, fp) - _mean_indicator(lambda x: a <= x < b, u, fp)) < 2e-3


def test_zero_footprint_gives_the_plain_pattern():
    assert pulse(0.3, 0.2, 0.5, 1.0, 0.0) == 1.0
    assert pulse(1.6, 0.2, 0.5, 1.0, 0.0) == 0.0
    assert band(0.5, 0.0, 1.0, 0.0) == 1.0 and band(1.0, 0.0, 1.0, 0.0) == 0.0


def test_noise_hits_its_lattice_values_and_fades_with_the_footprint():
    for i, j in [(0, 0), (3, -7), (-120, 55)]:
        assert value_noise(float(i), float(j), 9) == hash01(i, j, 9)
    rng = np.random.default_rng(0)
    for u, v in rng.uniform(-100, 100, (200, 2)):
        n = value_noise(u, v, 4)
        assert 0.0 <= n <= 1.0
        assert abs(filtered_noise(u, v, 0.2, 4) - n) < 1e-12  # fine enough to show in full
        assert filtered_noise(u, v, 1.0, 4) == 0.5  # a cell per pixel: only the mean is left
        half = filtered_noise(u, v, 0.5, 4)
        assert abs(half - 0.5) <= abs(n - 0.5)
