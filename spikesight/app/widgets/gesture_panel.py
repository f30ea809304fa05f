"""The gesture pipeline's answer: the most probable label, large, and every class's probability."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...perception.results import GesturePrediction, Result


class GesturePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(240)
        self.label = QLabel("--")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet("font-size: 22px; font-weight: bold;")
        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setXRange(0, 1, padding=0)
        self.plot.getAxis("bottom").setLabel("probability")
        self.plot.invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#3d8bfd")
        self.plot.addItem(self.bars)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.label)
        lay.addWidget(self.plot, 1)
        self.prediction: GesturePrediction | None = None
        self._names: tuple[str, ...] = ()

    def set_result(self, result: Result) -> None:
        out = result.output
        if not isinstance(out, GesturePrediction):
            return
        self.prediction = out
        p = np.asarray(out.probabilities, float)
        k = int(np.argmax(p))
        self.label.setText(f"{out.label}  {100 * p[k]:.0f}%")
        y = np.arange(len(p))
        brushes = [pg.mkBrush("#f2c14e" if i == k else "#3d8bfd") for i in y]
        self.bars.setOpts(x0=np.zeros(len(p)), y=y, width=p, height=0.7, brushes=brushes)
        if out.class_names != self._names:
            self._names = tuple(out.class_names)
            self.plot.getAxis("left").setTicks([list(enumerate(self._names))])
            self.plot.setYRange(-0.5, len(p) - 0.5, padding=0.02)

    def clear(self) -> None:
        self.prediction = None
        self.label.setText("--")
        self.bars.setOpts(x0=[], y=[], width=[])
