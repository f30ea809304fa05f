"""The status bar: event rate (ON/OFF), display FPS achieved vs asked, speed-up, pipeline latency,
frames dropped and pipeline windows dropped (or "every window" when the replay waits for the
pipelines instead), the recording state, and a small plot of the event rate over the last seconds."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ..model import PlayerModel
from ..stats import PlaybackStats
from ..timefmt import format_rate

ON_COLOUR = "#d8dfec"
OFF_COLOUR = "#407ec9"


class StatusPanel(QWidget):
    """Labels plus a sparkline; :meth:`refresh` is called a few times a second."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rate = QLabel("--")
        self.fps = QLabel("--")
        self.speedup = QLabel("--")
        self.latency = QLabel("")
        self.dropped = QLabel("dropped 0")
        self.recording = QLabel("")
        self.recording.setStyleSheet("color: #ff5555; font-weight: bold;")
        self.plot = pg.PlotWidget()
        self.plot.setFixedSize(180, 34)
        self.plot.setBackground(None)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setToolTip("Event rate (ON, OFF) over the last seconds")
        self.on_curve = self.plot.plot(pen=pg.mkPen(ON_COLOUR, width=1.5))
        self.off_curve = self.plot.plot(pen=pg.mkPen(OFF_COLOUR, width=1.5))
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 0, 2, 0)
        for w in (self.recording, self.rate, self.plot, self.fps, self.speedup, self.latency, self.dropped):
            lay.addWidget(w)
        self.rate.setToolTip("Event rate over the last frame period: ON / OFF")
        self.fps.setToolTip("Frames drawn per second of wall-clock time, and the display rate asked for")
        self.speedup.setToolTip("Event time played per second of wall-clock time")
        self.latency.setToolTip("Pipeline time per window, by task")
        self.dropped.setToolTip("Frames the display could not draw in time, and pipeline windows dropped"
                                " to keep real time (Playback ▸ Process every window waits for them)")

    def refresh(self, stats: PlaybackStats, model: PlayerModel, now: float, dropped_frames: int,
                dropped_windows: int) -> None:
        on, off = stats.event_rate()
        self.rate.setText(f"ON {format_rate(on)} · OFF {format_rate(off)}")
        fps = stats.display_fps(now)
        asked = "max" if model.fastest else f"{model.display_fps:g}"
        self.fps.setText(f"display {'--' if math.isnan(fps) else f'{fps:.1f}'}/{asked} fps")
        sp = stats.speedup(now)
        self.speedup.setText("speed --" if math.isnan(sp) or not model.playing else f"speed {sp:.3g}x")
        self.latency.setText(" ".join(f"{task} {lat * 1000:.1f} ms"
                                      for task, lat in sorted(stats.latency_s.items())))
        text = f"dropped {dropped_frames}"
        if dropped_windows:
            text += f" · pipeline drops {dropped_windows}"
        if model.every_window:
            text += " · every window"
        self.dropped.setText(text)
        pts = list(stats.rates)
        if pts:
            x = np.array([p.wall for p in pts]) - now
            self.on_curve.setData(x, [p.on / 1e6 for p in pts])
            self.off_curve.setData(x, [p.off / 1e6 for p in pts])
        else:
            self.on_curve.setData([], [])
            self.off_curve.setData([], [])

    def set_recording(self, text: str) -> None:
        self.recording.setText(text)
