"""Ticks of the log-scaled energy axis: few, round, inside a view that holds the data."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.app.axes import MIN_SPAN, log_ticks, tick_label


def test_snn_and_ann_energy_of_the_detector():
    # SNN 231 µJ, ANN 824 µJ: the view 231 / 1.25 .. 824 * 1.25 holds 200, 500 and 1000
    ticks, lo, hi = log_ticks(231, 824)
    assert ticks == [200, 500, 1000]
    assert (lo, hi) == pytest.approx((184.8, 1030.0))
    assert [tick_label(v) for v in ticks] == ["200", "500", "1k"]


def test_a_flat_curve_gets_a_view_of_five_times_around_it():
    ticks, lo, hi = log_ticks(231, 231)
    assert hi / lo == pytest.approx(5) and math.sqrt(lo * hi) == pytest.approx(231)
    assert ticks == [200, 500]


def test_many_decades_keep_every_few_powers_of_ten():
    ticks, _, _ = log_ticks(1e-3, 1e3)
    assert ticks == pytest.approx([1e-3, 1e-1, 10, 1e3])


def test_labels():
    assert [tick_label(v) for v in (0.05, 2, 500, 1500, 2e4, 3e6, 1e9)] == \
        ["0.05", "2", "500", "1.5k", "20k", "3M", "1G"]


def test_bad_values():
    for lo, hi in ((0, 1), (-1, 1), (1, math.inf), (math.nan, 2)):
        with pytest.raises(ValueError):
            log_ticks(lo, hi)
    with pytest.raises(ValueError):
        log_ticks(1, 2, max_ticks=0)


def _round(v: float) -> bool:
    e = math.floor(math.log10(v) + 1e-9)
    return any(math.isclose(v, m * 10.0**e, rel_tol=1e-9) for m in (1, 2, 5))


@settings(max_examples=100, deadline=None)
@given(lo=st.floats(1e-6, 1e9), ratio=st.floats(1.0, 1e6), max_ticks=st.integers(1, 6))
def test_ticks_are_few_round_and_inside_a_view_that_holds_the_data(lo, ratio, max_ticks):
    hi = lo * ratio
    ticks, v_lo, v_hi = log_ticks(lo, hi, max_ticks=max_ticks)
    assert v_lo <= lo and hi <= v_hi and v_hi / v_lo >= MIN_SPAN * (1 - 1e-9)
    assert 1 <= len(ticks) <= max_ticks and ticks == sorted(ticks)
    assert all(v_lo <= t <= v_hi and _round(t) for t in ticks)
    if max_ticks >= 2 and v_hi / v_lo < 20:  # a short axis: two 1-2-5 values fit in a view of 5x
        assert len(ticks) >= 2
