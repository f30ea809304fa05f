"""The network panel with a big network (a subset of its layers, short labels, full names on hover)
and the gesture panel with a decision (decided or tentative label, the strip of kept/dropped frames)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPointF

from spikesight.app.widgets.gesture_panel import GesturePanel
from spikesight.app.widgets.network_panel import NetworkPanel
from spikesight.perception.gesture.pipeline import GestureDecision
from spikesight.perception.results import Detections, EnergyEstimate, GesturePrediction, LayerSpikes, Result

SHOWN = [0, 8, 16, 24, 32, 40, 47, 55, 63, 71, 79, 87]  # 12 of 88, evenly spaced (see test_stats)


def big_network(n: int = 88) -> list[LayerSpikes]:
    """Layer ``i``: 32 sampled neurons of 64, ``i + 1`` spikes among them over 4 steps, ``2 (i + 1)``
    in the whole layer (rate 2 (i + 1) / (4 * 64) = (i + 1) / 128)."""
    layers = []
    for i in range(n):
        raster = np.zeros((4, 32), bool)
        raster.flat[:i + 1] = True
        layers.append(LayerSpikes.from_raster(f"stage{i // 10}.{i % 10}.sep.pw1.lif", raster, neurons=64,
                                              spike_count=2 * (i + 1)))
    return layers


@pytest.fixture
def network_panel(qtbot):
    panel = NetworkPanel()
    qtbot.addWidget(panel)
    panel.set_tasks(["detection"])
    panel.resize(480, 700)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_a_big_network_shows_twelve_layers_with_short_labels(network_panel, qtbot):
    panel = network_panel
    layers = big_network()
    panel.add_result(Result("detection", 0, 50_000, Detections.empty(), layers, EnergyEstimate.from_pj(1, 4)))
    panel.refresh()
    assert panel.layers_label.text() == "12 of 88 layers"
    ticks = panel.raster_plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == [f"stage{i // 10}…pw1.lif" for i in SHOWN]
    assert len(panel._scatters) == 12
    assert panel.spike_count() == sum(i + 1 for i in SHOWN)  # all 32 sampled neurons are drawn
    # one firing-rate bar per shown layer, level with its band's tick
    opts = panel.rate_bars.opts
    np.testing.assert_allclose(opts["width"], [(i + 1) / 128 for i in SHOWN])
    np.testing.assert_allclose(opts["y"], [pos for pos, _ in ticks])
    # over a band, the tooltip names the layer in full
    last = panel.history.layout[-1]
    assert panel.layer_tip(last.offset + 1) == "stage8.7.sep.pw1.lif (layer 88 of 88)"
    qtbot.waitUntil(lambda: panel.raster_plot.vb.width() > 10)
    pos = panel.raster_plot.vb.mapViewToScene(QPointF(-1.0, last.offset + 1))
    panel.graphics.scene().sigMouseMoved.emit(pos)
    assert panel.graphics.toolTip() == "stage8.7.sep.pw1.lif (layer 88 of 88)"
    gap = panel.raster_plot.vb.mapViewToScene(QPointF(-1.0, last.offset - 1))  # between two bands
    panel.graphics.scene().sigMouseMoved.emit(gap)
    assert panel.graphics.toolTip() == ""


def test_a_small_network_shows_every_layer(network_panel):
    panel = network_panel
    panel.add_result(Result("detection", 0, 50_000, Detections.empty(), big_network(3)))
    panel.refresh()
    assert panel.layers_label.text() == "3 layers"
    assert [label for _, label in panel.raster_plot.getAxis("left")._tickLevels[0]] == \
        ["stage0…pw1.lif"] * 3
    np.testing.assert_allclose(panel.rate_bars.opts["width"], [1 / 128, 2 / 128, 3 / 128])


def test_the_energy_axis_has_a_few_round_labels(network_panel):
    # SNN 231 µJ and ANN 824 µJ per window: pyqtgraph would label 2·10² .. 9·10², one over the other
    panel = network_panel
    for k in range(5):
        energy = EnergyEstimate.from_pj(snn_pj=231e6 + k * 1e6, ann_pj=824e6)
        panel.add_result(Result("detection", k * 50_000, (k + 1) * 50_000, Detections.empty(), big_network(3),
                                energy))
    panel.refresh()
    major, minor = panel.energy_plot.getAxis("left")._tickLevels
    assert [label for _, label in major] == ["200", "500", "1k"] and minor == []
    np.testing.assert_allclose([pos for pos, _ in major], np.log10([200, 500, 1000]))
    lo, hi = panel.energy_plot.vb.viewRange()[1]
    assert lo <= np.log10(231) and np.log10(824) <= hi  # the curves are in view


NAMES = ("clap", "wave", "roll")


def decision(probabilities, decided, kept, scores=None, events=None):
    return Result("gesture", 0, 1, GestureDecision(
        np.asarray(probabilities, np.float32), NAMES, (1, 2, 3), decided, float(np.max(probabilities)),
        None if kept is None else np.asarray(kept, bool),
        None if scores is None else np.asarray(scores, np.float32),
        None if events is None else np.asarray(events, np.int64)))


@pytest.fixture
def gesture_panel(qtbot):
    panel = GesturePanel()
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def test_a_decided_gesture_and_its_frames(gesture_panel):
    panel = gesture_panel
    kept = [True, False, True, True, False]
    scores = [0.9, 0.2, 0.7, 0.6, 0.1]
    panel.set_result(decision([0.1, 0.75, 0.15], 1, kept, scores=scores, events=[9, 1, 5, 5, 0]))
    assert panel.label.text() == "wave  75%" and not panel.tentative
    assert panel.strip.isVisible() and panel.strip_caption.isVisible()
    assert panel.strip_caption.text() == "3 of 5 frames computed"
    assert np.flatnonzero(~panel.kept).tolist() == [1, 4]
    # oldest frame leftmost; heights are the attention scores (not the events) when there are scores
    np.testing.assert_array_equal(panel.frame_bars.opts["x"], np.arange(5))
    np.testing.assert_allclose(panel.frame_bars.opts["height"], scores, rtol=1e-6)
    colours = [b.color().name() for b in panel.frame_bars.opts["brushes"]]
    assert colours[0] == colours[2] == colours[3] != colours[1] == colours[4]


def test_an_undecided_gesture_is_tentative_and_bars_follow_events(gesture_panel):
    panel = gesture_panel
    panel.set_result(decision([0.3, 0.45, 0.25], None, [True] * 4, events=[0, 5, 10, 2]))
    assert panel.tentative and panel.label.text() == "wave ?  45%"
    assert "color" in panel.label.styleSheet()  # greyed
    assert panel.strip_caption.text() == "4 of 4 frames computed"
    np.testing.assert_allclose(panel.frame_bars.opts["height"], [0.0, 0.5, 1.0, 0.2])
    # a window without events: empty bars, no division by zero
    panel.set_result(decision([0.3, 0.45, 0.25], None, [False, True], events=[0, 0]))
    np.testing.assert_allclose(panel.frame_bars.opts["height"], [0.0, 0.0])
    assert panel.strip_caption.text() == "1 of 2 frames computed"
    # then decided: the label is no longer greyed
    panel.set_result(decision([0.1, 0.2, 0.7], 2, [True, True]))
    assert not panel.tentative and panel.label.text() == "roll  70%"
    assert "color" not in panel.label.styleSheet()


def test_a_plain_prediction_has_no_strip(gesture_panel):
    panel = gesture_panel
    panel.set_result(decision([0.1, 0.75, 0.15], 1, [True, False]))
    assert panel.strip.isVisible()
    panel.set_result(Result("gesture", 0, 1, GesturePrediction(np.array([0.1, 0.2, 0.7]), NAMES)))
    assert panel.label.text() == "roll  70%" and not panel.tentative
    assert not panel.strip.isVisible() and not panel.strip_caption.isVisible() and panel.kept is None
    np.testing.assert_allclose(panel.bars.opts["width"], [0.1, 0.2, 0.7])
    panel.set_result(decision([0.1, 0.75, 0.15], None, [True, False]))
    panel.clear()
    assert panel.label.text() == "--" and not panel.tentative and not panel.strip.isVisible()
