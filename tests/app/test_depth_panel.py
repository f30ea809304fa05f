"""The depth panel colours log depth between the model's range and leaves unknown pixels empty."""

from __future__ import annotations

import numpy as np
import pytest

from spikesight.app.widgets.depth_panel import DepthPanel
from spikesight.perception.results import DepthMap, Result


def test_log_depth_colours_clipped_range_and_round_ticks(qtbot):
    panel = DepthPanel()
    qtbot.addWidget(panel)
    depth = np.array([[1.0, 2.0, 8.0], [80.0, 200.0, np.nan]], np.float32)
    panel.set_result(Result("depth", 0, 1, DepthMap(depth, max_depth=80.0, min_depth=2.0)))
    shown = panel.image.image
    # log10 of the depth clipped to [2, 80] m; NaN (no estimate) stays NaN
    np.testing.assert_allclose(shown[0], np.log10([2.0, 2.0, 8.0]))
    np.testing.assert_allclose(shown[1, :2], np.log10([80.0, 80.0]))
    assert np.isnan(shown[1, 2])
    assert panel.colour_bar.levels() == pytest.approx((np.log10(2.0), np.log10(80.0)))
    ticks = panel.colour_bar.axis._tickLevels[0]
    assert [label for _, label in ticks] == ["2", "3", "5", "10", "20", "30", "50", "80"]
    assert "83% of pixels" in panel.caption.text()
