"""Status-bar numbers, the network panel's raster layout, and how times are written (no Qt)."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikesight.app.frames import Frame
from spikesight.app.raster import RasterHistory, pick_layers, short_name
from spikesight.app.stats import PlaybackStats
from spikesight.app.timefmt import format_duration_ms, format_energy, format_rate, format_speed, format_time
from spikesight.perception.results import Detections, EnergyEstimate, LayerSpikes, Result

IMG = np.zeros((1, 1, 3), np.uint8)
CNT = np.zeros((1, 1), np.uint32)


def frame(t_end, epoch=0, n_on=0, n_off=0, period=10_000):
    return Frame(t_end, 10_000, period, IMG, CNT, n_on, n_off, epoch)


def test_display_fps_speedup_and_rates():
    s = PlaybackStats(window_s=2.0)
    assert math.isnan(s.display_fps(0.0)) and math.isnan(s.speedup(0.0))
    for k in range(21):  # 20 frames a second, 10 ms of event time each: 0.2x
        s.frame_shown(frame(1_000_000 + k * 10_000, n_on=30, n_off=10), wall=k * 0.05)
    assert s.display_fps(1.0) == pytest.approx(20.0)
    assert s.speedup(1.0) == pytest.approx(0.2)
    assert s.event_rate() == (3000.0, 1000.0)
    # a loop: event time jumps back; the speed-up counts only the new epoch, the fps all frames
    for k in range(1, 5):
        s.frame_shown(frame(k * 10_000, epoch=1), wall=1.0 + k * 0.05)
    assert s.speedup(1.2) == pytest.approx(0.2)
    assert s.display_fps(1.2) == pytest.approx(20.0)


def test_rate_history_is_bounded_in_time():
    s = PlaybackStats(history_s=1.0)
    for k in range(100):
        s.frame_shown(frame(k * 10_000), wall=k * 0.1)
    assert all(9.9 - p.wall <= 1.0 for p in s.rates)


def test_latency_is_averaged_per_task():
    s = PlaybackStats(latency_alpha=0.5)
    det = Detections.empty()
    s.result(Result("detection", 0, 1, det, latency_s=0.010))
    s.result(Result("detection", 1, 2, det, latency_s=0.020))
    assert s.latency_s == {"detection": pytest.approx(0.015)}


def result(t0, t1, layers, energy=None):
    return Result("detection", t0, t1, Detections.empty(), layers, energy)


def test_raster_points_layout_sampling_and_span():
    big = np.zeros((2, 100), bool)
    big[1, 99] = True  # the last neuron is always among the sampled ones
    small = np.eye(2, dtype=bool)
    h = RasterHistory(span_us=1_000, max_rows=10)
    layers = [LayerSpikes.from_raster("a", big, 100), LayerSpikes.from_raster("b", small, 2)]
    h.add(result(0, 100, layers, EnergyEstimate.from_pj(1, 4)))
    assert [(r.name, r.offset, r.rows) for r in h.layout] == [("a", 0, 10), ("b", 11, 2)]
    pts = h.points()
    # step k of a window [0, 100) with 2 steps sits at 25 or 75 µs; times are relative to its end
    np.testing.assert_allclose(pts["a"][0], [(75 - 100) / 1e6])
    assert pts["a"][1].tolist() == [9]
    np.testing.assert_allclose(pts["b"][0], [-75e-6, -25e-6])
    assert pts["b"][1].tolist() == [11, 12]
    t, snn, ann = h.energy()
    assert t.tolist() == [0.0] and snn.tolist() == [1.0] and ann.tolist() == [4.0]
    h.add(result(2_000, 2_100, layers))
    assert len(h.results) == 1  # the first is more than span_us older
    assert h.firing_rates() == [("a", 0.005), ("b", 0.5)]
    assert len(h.energy()[0]) == 0  # the result with energy has gone
    # time goes back (a loop): the new window is drawn right after the last one, not over it
    h.add(result(0, 100, [LayerSpikes.from_raster("a", big, 100)]))
    assert len(h.results) == 2 and [r.name for r in h.layout] == ["a"]
    xs = h.points()["a"][0]
    np.testing.assert_allclose(sorted(xs), [-125e-6, -25e-6])


def test_layer_subset_is_evenly_spaced_with_both_ends():
    # 88 layers in 12: ideal places i * 87 / 11 = 0, 7.91, 15.82, 23.73, 31.64, 39.55, 47.45, 55.36, ...
    assert pick_layers(88, 12) == [0, 8, 16, 24, 32, 40, 47, 55, 63, 71, 79, 87]
    assert pick_layers(5, 2) == [0, 4]
    assert pick_layers(12, 12) == list(range(12)) and pick_layers(3, 12) == [0, 1, 2]
    assert pick_layers(0, 12) == []
    with pytest.raises(ValueError):
        pick_layers(10, 1)
    with pytest.raises(ValueError):
        RasterHistory(max_layers=1)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(2, 40))
def test_layer_subset_properties(total, k):
    idx = pick_layers(total, k)
    assert len(idx) == min(total, k)
    assert idx[0] == 0 and idx[-1] == total - 1
    assert all(a < b for a, b in itertools.pairwise(idx))  # distinct, in network order
    if total > k:
        for i, j in enumerate(idx):  # each within half a layer of its ideal, evenly spaced place
            assert abs(j - Fraction(i * (total - 1), k - 1)) <= Fraction(1, 2)


@pytest.mark.parametrize(("name", "label"), [
    ("stage3.0.sep.pw1.lif", "stage3…pw1.lif"),
    ("td4.sep.pw1.lif", "td4…pw1.lif"),
    ("sppf.cv1.lif", "sppf.cv1.lif"),  # three components: nothing to drop
    ("down2.lif", "down2.lif"),
    ("conv1", "conv1"),
    ("head.box.0.1.lif", "head.box.0.1.lif"),  # "1.lif" alone says nothing: reach back to "box"
    ("model.blocks.3.attn.2.lif", "model…attn.2.lif"),
])
def test_short_layer_names(name, label):
    assert short_name(name) == label


def test_a_big_network_shows_a_subset_and_its_rates():
    names = [f"stage{i // 10}.{i % 10}.sep.pw1.lif" for i in range(30)]
    layers = []
    for i, name in enumerate(names):
        raster = np.zeros((2, 4), bool)
        raster[1, i % 4] = True  # one spike per layer, neuron i % 4 at step 1
        layers.append(LayerSpikes.from_raster(name, raster, neurons=4 * (i + 1), spike_count=i + 1))
    h = RasterHistory(max_rows=4, max_layers=4)
    h.add(result(0, 100, layers))
    # ideal places 0, 9.67, 19.33, 29
    assert [row.index for row in h.layout] == [0, 10, 19, 29]
    assert [row.name for row in h.layout] == [names[i] for i in (0, 10, 19, 29)]
    assert (h.shown_layers, h.total_layers) == (4, 30)
    assert [row.offset for row in h.layout] == [0, 5, 10, 15]
    assert h.layout[1].label == "stage1…pw1.lif"
    pts = h.points()
    assert sorted(pts) == sorted(names[i] for i in (0, 10, 19, 29))
    assert pts[names[19]][1].tolist() == [10 + 19 % 4]
    # rate = spikes / (steps * neurons) = (i + 1) / (2 * 4 * (i + 1)) = 1/8 for every layer
    assert h.firing_rates() == [(names[i], 0.125) for i in (0, 10, 19, 29)]
    # bands: rows 0-3, 5-8, 10-13, 15-18, each with half a row either side; the rows between are gaps
    assert h.layer_at(-0.4) is h.layout[0] and h.layer_at(8.4) is h.layout[1]
    assert h.layer_at(18.4) is h.layout[3]
    assert h.layer_at(4) is None and h.layer_at(18.6) is None and h.layer_at(-1) is None
    # a smaller network next: all its layers, the layout follows
    h.add(result(100, 200, layers[:3]))
    assert [row.index for row in h.layout] == [0, 1, 2] and (h.shown_layers, h.total_layers) == (3, 3)


@pytest.mark.parametrize(("us", "text"), [(None, "--"), (12_345_678, "12.346 s"), (83_456_789, "1:23.457"),
                                         (3_723_000_000, "1:02:03.000"), (-1_500_000, "-1.500 s")])
def test_format_time(us, text):
    assert format_time(us) == text


def test_other_formats():
    assert format_speed(0.01) == "1/100x" and format_speed(2.0) == "2x" and format_speed(1, True) == "max"
    assert format_speed(0.3) == "0.3x"
    assert format_rate(1.234e6) == "1.23 Mev/s" and format_rate(45_600) == "45.6 kev/s"
    assert format_rate(float("nan")) == "--"
    assert format_duration_ms(20_000) == "20 ms" and format_duration_ms(1_500) == "1.5 ms"
    assert format_duration_ms(1_000_000) == "1 s"
    assert format_energy(536_000) == "536 nJ" and format_energy(70.5e6) == "70.5 µJ"
    assert format_energy(3) == "3 pJ"
