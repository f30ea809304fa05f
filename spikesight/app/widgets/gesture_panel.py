"""The gesture pipeline's answer: the label, large, and every class's probability.

When the output is a decision (the gesture pipeline's ``GestureDecision``: duck-typed on
``decided``, ``kept``, ``frame_scores``, ``frame_events``), the label is the decided class, or,
while no class reaches the confidence, the most probable one greyed with a "?"; under it a strip of
the window's frames, oldest left, each a cell coloured by whether it was computed or dropped, as
tall as its input-attention score (or its share of the events where there are no scores).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...perception.results import GesturePrediction, Result

_TOP, _OTHER = "#f2c14e", "#3d8bfd"
# a frame's cell: background and bar, green when computed, grey when dropped
_KEPT, _KEPT_CELL = "#3ddc84", "#1d3b2a"
_DROPPED, _DROPPED_CELL = "#6b7482", "#1a1d23"
_DECIDED_STYLE = "font-size: 22px; font-weight: bold;"
_TENTATIVE_STYLE = "font-size: 22px; font-weight: normal; color: #7d8696;"


def is_decision(output: object) -> bool:
    """Whether ``output`` carries a decision and its frames (duck-typed, as ``GestureDecision``)."""
    return all(hasattr(output, a) for a in ("decided", "kept", "frame_scores", "frame_events"))


def frame_strip(output: object) -> tuple[np.ndarray, np.ndarray] | None:
    """Per frame of a decision's window: computed or not, and the bar height in [0, 1].

    Heights are the input-attention scores (in [0, 1]) or, without scores, the events of each frame
    over the most in any frame. ``None`` for an output that is not a decision or has no frames.
    """
    if not is_decision(output):
        return None
    scores, events, kept = output.frame_scores, output.frame_events, output.kept
    if scores is not None:
        heights = np.clip(np.asarray(scores, float), 0.0, 1.0)
    elif events is not None:
        counts = np.asarray(events, float)
        top = counts.max(initial=0.0)
        heights = counts / top if top > 0 else np.zeros(len(counts))
    elif kept is not None:
        heights = np.zeros(len(kept))
    else:
        return None
    kept = np.ones(len(heights), bool) if kept is None else np.asarray(kept, bool)
    if len(kept) != len(heights) or not len(kept):
        return None
    return kept, heights


class GesturePanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(240)
        self.label = QLabel("--")
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setStyleSheet(_DECIDED_STYLE)

        self.strip = pg.PlotWidget()
        self.strip.setMouseEnabled(False, False)
        self.strip.setMenuEnabled(False)
        self.strip.hideButtons()
        self.strip.hideAxis("left")
        self.strip.hideAxis("bottom")
        self.strip.setFixedHeight(48)
        self.strip.setYRange(0, 1, padding=0.04)
        self.cells = pg.BarGraphItem(x=[], height=[], width=0.86)
        self.frame_bars = pg.BarGraphItem(x=[], height=[], width=0.86)
        self.strip.addItem(self.cells)
        self.strip.addItem(self.frame_bars)
        self.strip_caption = QLabel("")
        self.strip_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(False, False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setXRange(0, 1, padding=0)
        self.plot.getAxis("bottom").setLabel("probability")
        self.plot.invertY(True)
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.7, width=[], brush=_OTHER)
        self.plot.addItem(self.bars)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.label)
        lay.addWidget(self.strip)
        lay.addWidget(self.strip_caption)
        lay.addWidget(self.plot, 1)
        self.prediction: GesturePrediction | None = None
        self.tentative = False
        """Whether the label shows a class not yet decided (greyed, with a "?")."""
        self.kept: np.ndarray | None = None
        """Per frame of the last decision's window, oldest first: computed (True) or dropped."""
        self.frame_heights: np.ndarray | None = None
        self._names: tuple[str, ...] = ()
        self._show_strip(False)

    def set_result(self, result: Result) -> None:
        out = result.output
        if not isinstance(out, GesturePrediction):
            return
        self.prediction = out
        p = np.asarray(out.probabilities, float)
        k = int(np.argmax(p))
        decided = out.decided if is_decision(out) else k
        self.tentative = decided is None
        if self.tentative:
            self.label.setText(f"{out.class_names[k]} ?  {100 * p[k]:.0f}%")
            self.label.setStyleSheet(_TENTATIVE_STYLE)
        else:
            k = int(decided)
            self.label.setText(f"{out.class_names[k]}  {100 * p[k]:.0f}%")
            self.label.setStyleSheet(_DECIDED_STYLE)
        y = np.arange(len(p))
        brushes = [pg.mkBrush(_TOP if i == k else _OTHER) for i in y]
        self.bars.setOpts(x0=np.zeros(len(p)), y=y, width=p, height=0.7, brushes=brushes)
        if out.class_names != self._names:
            self._names = tuple(out.class_names)
            self.plot.getAxis("left").setTicks([list(enumerate(self._names))])
            self.plot.setYRange(-0.5, len(p) - 0.5, padding=0.02)
        self._set_strip(frame_strip(out))

    def _set_strip(self, strip: tuple[np.ndarray, np.ndarray] | None) -> None:
        if strip is None:
            self.kept = self.frame_heights = None
            self._show_strip(False)
            return
        self.kept, self.frame_heights = strip
        n = len(self.kept)
        x = np.arange(n)
        self.cells.setOpts(x=x, height=np.ones(n), width=0.86,
                           brushes=[pg.mkBrush(_KEPT_CELL if k else _DROPPED_CELL) for k in self.kept],
                           pens=[pg.mkPen(_KEPT if k else _DROPPED) for k in self.kept])
        self.frame_bars.setOpts(x=x, height=self.frame_heights, width=0.86,
                                brushes=[pg.mkBrush(_KEPT if k else _DROPPED) for k in self.kept], pen=None)
        self.strip.setXRange(-0.5, n - 0.5, padding=0.01)
        self.strip_caption.setText(f"{int(self.kept.sum())} of {n} frames computed")
        self._show_strip(True)

    def _show_strip(self, shown: bool) -> None:
        self.strip.setVisible(shown)
        self.strip_caption.setVisible(shown)

    def clear(self) -> None:
        self.prediction = None
        self.tentative = False
        self.label.setText("--")
        self.label.setStyleSheet(_DECIDED_STYLE)
        self.bars.setOpts(x0=[], y=[], width=[])
        self._set_strip(None)
