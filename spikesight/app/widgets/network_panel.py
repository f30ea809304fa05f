"""What the network does: for the chosen task, a spike raster per layer over the last seconds,
each layer's firing rate as a bar, and the energy per window of the SNN against the same
network run as a non-spiking ANN."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...perception.results import Result
from ..raster import RasterHistory
from ..timefmt import format_energy

_LAYER_COLOURS = ("#f2c14e", "#3d8bfd", "#3ddc84", "#ff6b6b", "#c77dff", "#4cc9f0")


class NetworkPanel(QWidget):
    """Fed every result; shows those of the task chosen in its combo box."""

    def __init__(self, span_us: int = 2_000_000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = RasterHistory(span_us)
        self.task_box = QComboBox()
        self.task_box.currentTextChanged.connect(self._task_changed)
        self.energy_label = QLabel("energy: --")
        top = QHBoxLayout()
        top.addWidget(QLabel("task"))
        top.addWidget(self.task_box, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#14181f")
        self.raster_plot = self.graphics.addPlot(row=0, col=0, title="spikes per layer")
        self.raster_plot.setLabel("bottom", "time (s)")
        self.raster_plot.setMouseEnabled(False, False)
        self.raster_plot.hideButtons()
        self.raster_plot.invertY(True)
        self.raster_plot.setXRange(-span_us / 1e6, 0, padding=0.01)
        self.rate_plot = self.graphics.addPlot(row=1, col=0, title="firing rate")
        self.rate_plot.setMouseEnabled(False, False)
        self.rate_plot.hideButtons()
        self.rate_plot.invertY(True)
        self.rate_bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush="#3d8bfd")
        self.rate_plot.addItem(self.rate_bars)
        self.energy_plot = self.graphics.addPlot(row=2, col=0, title="energy per window")
        self.energy_plot.setLabel("left", "µJ (log)")
        self.energy_plot.setLogMode(False, True)
        self.energy_plot.setMouseEnabled(False, False)
        self.energy_plot.hideButtons()
        self.energy_plot.addLegend(offset=(-5, 5))
        self.snn_curve = self.energy_plot.plot(pen=pg.mkPen("#3ddc84", width=2), name="SNN")
        self.ann_curve = self.energy_plot.plot(pen=pg.mkPen("#ff6b6b", width=2), name="ANN")
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.graphics.ci.layout.setRowStretchFactor(2, 1)
        self._scatters: dict[str, pg.ScatterPlotItem] = {}
        self._layout_names: list[str] = []

        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(top)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.energy_label)
        self.dirty = False

    def set_tasks(self, tasks: list[str]) -> None:
        self.task_box.blockSignals(True)
        self.task_box.clear()
        self.task_box.addItems(tasks)
        self.task_box.blockSignals(False)
        self._task_changed(self.task_box.currentText())

    @property
    def task(self) -> str:
        return self.task_box.currentText()

    def _task_changed(self, _task: str) -> None:
        self.clear()

    def add_result(self, result: Result) -> None:
        if result.task != self.task or not result.layers:
            return
        self.history.add(result)
        self.dirty = True

    def clear(self) -> None:
        self.history.reset()
        self.dirty = True
        self.refresh()

    def refresh(self) -> None:
        """Redraw from the history (the window calls this a few times a second)."""
        if not self.dirty:
            return
        self.dirty = False
        h = self.history
        names = [row.name for row in h.layout]
        if names != self._layout_names:
            self._layout_names = names
            for item in self._scatters.values():
                self.raster_plot.removeItem(item)
            self._scatters = {}
            for i, row in enumerate(h.layout):
                item = pg.ScatterPlotItem(pen=None, symbol="s", size=3,
                                          brush=pg.mkBrush(_LAYER_COLOURS[i % len(_LAYER_COLOURS)]))
                self.raster_plot.addItem(item)
                self._scatters[row.name] = item
            ticks = [(row.offset + (row.rows - 1) / 2, row.name) for row in h.layout]
            self.raster_plot.getAxis("left").setTicks([ticks])
            total = (h.layout[-1].offset + h.layout[-1].rows) if h.layout else 1
            self.raster_plot.setYRange(-0.5, total - 0.5, padding=0.02)
            self.rate_plot.getAxis("left").setTicks([list(enumerate(names))])
            self.rate_plot.setYRange(-0.5, max(1, len(names)) - 0.5, padding=0.05)
        for name, (x, y) in h.points().items():
            self._scatters[name].setData(x, y)
        rates = h.firing_rates()
        if rates:
            self.rate_bars.setOpts(x0=[0] * len(rates), y=list(range(len(rates))), height=0.7,
                                   width=[r for _, r in rates])
            self.rate_plot.setXRange(0, max(0.05, max(r for _, r in rates) * 1.1), padding=0)
        else:
            self.rate_bars.setOpts(x0=[], y=[], width=[])
        t, snn, ann = h.energy()
        self.snn_curve.setData(t, np.maximum(snn, 1e-3) * 1e-6)
        self.ann_curve.setData(t, np.maximum(ann, 1e-3) * 1e-6)
        r = h.latest
        if r is not None and r.energy is not None and r.energy.snn_pj > 0:
            e = r.energy
            self.energy_label.setText(f"energy per window: SNN {format_energy(e.snn_pj)} vs ANN "
                                      f"{format_energy(e.ann_pj)} ({e.ann_pj / e.snn_pj:.1f}x less)")
        else:
            self.energy_label.setText("energy: --")

    def spike_count(self) -> int:
        """Spikes now drawn (tests and screenshot checks)."""
        return sum(len(item.data) for item in self._scatters.values())
