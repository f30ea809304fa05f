"""What the open stream is: source, format, geometry, extent, event count and mean rate."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QSizePolicy, QWidget

from ...io.info import StreamInfo
from ..timefmt import format_rate, format_time

_ROWS = ("source", "format", "geometry", "start", "duration", "events", "mean rate", "pipelines")


class StreamInfoPanel(QWidget):
    """A small form; :meth:`set_stream` fills it when a stream opens."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.form = QFormLayout(self)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.values: dict[str, QLabel] = {}
        for row in _ROWS:
            label = QLabel("--")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.values[row] = label
            self.form.addRow(row, label)

    def set_stream(self, uri: str | None, info: StreamInfo, live: bool, pipelines: list[str]) -> None:
        v = self.values
        name = uri or info.path or "(memory)"
        v["source"].setText(os.path.basename(name) or name)
        v["source"].setToolTip(name)
        v["format"].setText(info.format + (" (live)" if live else ""))
        v["geometry"].setText(f"{info.width} x {info.height}")
        v["start"].setText("--" if info.start_time is None else f"{info.start_time} µs")
        v["duration"].setText(format_time(info.duration))
        v["events"].setText("--" if info.event_count is None else f"{info.event_count:,}")
        dur = info.duration
        rate = info.event_count / (dur / 1e6) if info.event_count and dur else float("nan")
        v["mean rate"].setText(format_rate(rate))
        v["pipelines"].setText(", ".join(pipelines) if pipelines else "none")

    def text(self, row: str) -> str:
        return self.values[row].text()
