"""The depth map of the depth pipeline, in colour, with a colour bar in metres."""

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
        self.colour_bar = pg.ColorBarItem(values=(0, 80), colorMap=pg.colormap.get("viridis"),
                                          label="depth (m)", interactive=False, width=14)
        self.colour_bar.setImageItem(self.image, insert_in=self.graphics.ci)
        self.caption = QLabel("no depth yet")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.caption)
        self.depth: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def set_result(self, result: Result) -> None:
        out = result.output
        if not isinstance(out, DepthMap):
            return
        self.depth = out.depth
        self.colour_bar.setLevels((0.0, float(out.max_depth)))
        self.image.setImage(out.depth, autoLevels=False, levels=(0.0, float(out.max_depth)))
        if self._shape != out.depth.shape:
            self._shape = out.depth.shape
            self.view_box.autoRange(padding=0.0)
        valid = np.isfinite(out.depth)
        med = float(np.median(out.depth[valid])) if valid.any() else float("nan")
        self.caption.setText(f"median {med:.1f} m, {100 * valid.mean():.0f}% of pixels with depth")

    def clear(self) -> None:
        self.depth = None
        self.image.clear()
        self.caption.setText("no depth yet")
