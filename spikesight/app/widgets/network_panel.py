"""What the network does: for the chosen task, a spike raster per layer over the last seconds,
each layer's firing rate as a bar beside its band, and the energy per window of the SNN against the
same network run as a non-spiking ANN. A big network shows an evenly spaced subset of its layers
(see :mod:`..raster`), captioned "12 of 88 layers"; hovering a band names its layer in full. The
energy plot's log axis carries a few round ticks (:func:`..axes.log_ticks`), not pyqtgraph's
minor ticks, whose labels overlap on a plot this short."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...perception.results import Result
from ..axes import log_ticks, tick_label
from ..raster import LayerRows, RasterHistory
from ..timefmt import format_energy

_LAYER_COLOURS = ("#f2c14e", "#3d8bfd", "#3ddc84", "#ff6b6b", "#c77dff", "#4cc9f0")


def _colour(i: int) -> str:
    return _LAYER_COLOURS[i % len(_LAYER_COLOURS)]


class NetworkPanel(QWidget):
    """Fed every result; shows those of the task chosen in its combo box."""

    def __init__(self, span_us: int = 2_000_000, max_layers: int = 12, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = RasterHistory(span_us, max_layers=max_layers)
        self.task_box = QComboBox()
        self.task_box.currentTextChanged.connect(self._task_changed)
        self.energy_label = QLabel("energy: --")
        top = QHBoxLayout()
        top.addWidget(QLabel("task"))
        top.addWidget(self.task_box, 1)
        self.layers_label = QLabel("")
        top.addWidget(self.layers_label)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#14181f")
        self.raster_plot = self.graphics.addPlot(row=0, col=0, title="spikes per layer")
        self.raster_plot.setLabel("bottom", "time (s)")
        self.raster_plot.setMouseEnabled(False, False)
        self.raster_plot.hideButtons()
        self.raster_plot.invertY(True)
        self.raster_plot.setXRange(-span_us / 1e6, 0, padding=0.01)
        # each layer's firing rate as a bar level with its band of the raster (a shared y axis)
        self.rate_plot = self.graphics.addPlot(row=0, col=1, title="rate")
        self.rate_plot.setMouseEnabled(False, False)
        self.rate_plot.hideButtons()
        self.rate_plot.setYLink(self.raster_plot)
        self.rate_plot.invertY(True)
        self.rate_plot.hideAxis("left")
        self.rate_plot.setLabel("bottom", "per step")  # as tall as the raster's axis: the bands line up
        self.rate_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.rate_bars = pg.BarGraphItem(x0=[], y=[], height=[], width=[], brush="#3d8bfd")
        self.rate_plot.addItem(self.rate_bars)
        self.energy_plot = self.graphics.addPlot(row=1, col=0, colspan=2, title="energy per window")
        self.energy_plot.setLabel("left", "µJ (log)")
        self.energy_plot.setLogMode(False, True)
        self.energy_plot.setMouseEnabled(False, False)
        self.energy_plot.hideButtons()
        self.energy_plot.addLegend(offset=(-5, 5))
        self.snn_curve = self.energy_plot.plot(pen=pg.mkPen("#3ddc84", width=2), name="SNN")
        self.ann_curve = self.energy_plot.plot(pen=pg.mkPen("#ff6b6b", width=2), name="ANN")
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.graphics.ci.layout.setColumnStretchFactor(0, 4)
        self.graphics.ci.layout.setColumnStretchFactor(1, 1)
        self.graphics.scene().sigMouseMoved.connect(self._hover)
        self._scatters: dict[str, pg.ScatterPlotItem] = {}
        self._layout_names: list[str] = []
        self.energy_ticks: list[tuple[float, str]] = []

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
                item = pg.ScatterPlotItem(pen=None, symbol="s", size=3, brush=pg.mkBrush(_colour(i)))
                self.raster_plot.addItem(item)
                self._scatters[row.name] = item
            self.raster_plot.getAxis("left").setTicks([[(self._centre(row), row.label) for row in h.layout]])
            total = (h.layout[-1].offset + h.layout[-1].rows) if h.layout else 1
            self.raster_plot.setYRange(-0.5, total - 0.5, padding=0.02)
        self.layers_label.setText(self.layers_caption())
        for name, (x, y) in h.points().items():
            self._scatters[name].setData(x, y)
        rates = dict(h.firing_rates())
        rows = [(i, row) for i, row in enumerate(h.layout) if row.name in rates]
        if rows:
            widths = [rates[row.name] for _, row in rows]
            self.rate_bars.setOpts(x0=[0] * len(rows), y=[self._centre(row) for _, row in rows],
                                   height=[0.8 * row.rows for _, row in rows], width=widths,
                                   brushes=[pg.mkBrush(_colour(i)) for i, _ in rows])
            self.rate_plot.setXRange(0, max(0.05, max(widths) * 1.1), padding=0)
        else:
            self.rate_bars.setOpts(x0=[], y=[], width=[], height=[])
        t, snn, ann = h.energy()
        snn_uj, ann_uj = np.maximum(snn, 1e-3) * 1e-6, np.maximum(ann, 1e-3) * 1e-6
        self.snn_curve.setData(t, snn_uj)
        self.ann_curve.setData(t, ann_uj)
        if len(t):
            both = np.concatenate([snn_uj, ann_uj])
            self._set_energy_axis(float(both.min()), float(both.max()))
        r = h.latest
        if r is not None and r.energy is not None and r.energy.snn_pj > 0:
            e = r.energy
            self.energy_label.setText(f"energy per window: SNN {format_energy(e.snn_pj)} vs ANN "
                                      f"{format_energy(e.ann_pj)} ({e.ann_pj / e.snn_pj:.1f}x less)")
        else:
            self.energy_label.setText("energy: --")

    def _set_energy_axis(self, lo: float, hi: float) -> None:
        """Round ticks (log10 positions: the plot is in log mode) and a view range that holds them."""
        ticks, v_lo, v_hi = log_ticks(lo, hi, max_ticks=4)
        self.energy_ticks = [(math.log10(v), tick_label(v)) for v in ticks]
        self.energy_plot.getAxis("left").setTicks([self.energy_ticks, []])
        self.energy_plot.setYRange(math.log10(v_lo), math.log10(v_hi), padding=0)

    def layers_caption(self) -> str:
        """The caption: "12 of 88 layers" when a subset is shown, "5 layers" when all are, "" before any."""
        h = self.history
        if not h.total_layers:
            return ""
        if h.shown_layers < h.total_layers:
            return f"{h.shown_layers} of {h.total_layers} layers"
        return f"{h.total_layers} layer" + ("s" if h.total_layers > 1 else "")

    @staticmethod
    def _centre(row: LayerRows) -> float:
        return row.offset + (row.rows - 1) / 2

    def layer_tip(self, row: float) -> str:
        """The tooltip over raster row ``row``: the full name of the layer there and its place."""
        lay = self.history.layer_at(row)
        return "" if lay is None else f"{lay.name} (layer {lay.index + 1} of {self.history.total_layers})"

    def _hover(self, pos: QPointF) -> None:
        """Name the layer under the mouse in full (tick labels are shortened)."""
        for plot in (self.raster_plot, self.rate_plot):
            if plot.sceneBoundingRect().contains(pos):
                self.graphics.setToolTip(self.layer_tip(plot.vb.mapSceneToView(pos).y()))
                return
        self.graphics.setToolTip("")

    def spike_count(self) -> int:
        """Spikes now drawn (tests and screenshot checks)."""
        return sum(len(item.data) for item in self._scatters.values())
