"""The depth map of the depth pipeline, in colour, with a colour bar in metres.

Colours follow log depth between the model's ``min_depth`` and ``max_depth`` (as the network
predicts it): a linear scale to 80 m would give the near objects, 2-10 m, a tenth of the colours.
Pixels without an estimate are transparent.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...perception.results import DepthMap, Result


class DepthPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(280)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#14181f")
        self.view_box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image)
        self.colour_bar = pg.ColorBarItem(values=(np.log10(2.0), np.log10(80.0)),
                                          colorMap=pg.colormap.get("viridis"),
                                          label="depth (m, log scale)", interactive=False, width=14)
        self.colour_bar.setImageItem(self.image, insert_in=self.graphics.ci)
        self.caption = QLabel("no depth yet")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.caption)
        self.depth: np.ndarray | None = None
        self.levels: tuple[float, float] | None = None
        self._tick_range: tuple[float, float] | None = None
        self._shape: tuple[int, ...] | None = None

    def set_result(self, result: Result) -> None:
        out = result.output
        if not isinstance(out, DepthMap):
            return
        self.depth = out.depth
        levels = self.levels = (float(np.log10(out.min_depth)), float(np.log10(out.max_depth)))
        self.colour_bar.setLevels(levels)
        self._ticks(out.min_depth, out.max_depth)
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = np.log10(np.clip(out.depth, out.min_depth, out.max_depth))
        self.image.setImage(shown, autoLevels=False, levels=levels)
        if self._shape != out.depth.shape:
            self._shape = out.depth.shape
            self.view_box.autoRange(padding=0.0)
        valid = np.isfinite(out.depth)
        med = float(np.median(out.depth[valid])) if valid.any() else float("nan")
        self.caption.setText(f"median {med:.1f} m, {100 * valid.mean():.0f}% of pixels with depth")

    def _ticks(self, lo: float, hi: float) -> None:
        """Colour-bar ticks at round metres (the bar's axis is in log10 metres)."""
        if self._tick_range == (lo, hi):
            return
        self._tick_range = (lo, hi)
        marks = [m for m in (1, 2, 3, 5, 10, 20, 30, 50, 80, 100, 200) if lo <= m <= hi]
        self.colour_bar.axis.setTicks([[(float(np.log10(m)), f"{m:g}") for m in marks], []])

    def clear(self) -> None:
        self.depth = None
        self.image.clear()
        self.caption.setText("no depth yet")
