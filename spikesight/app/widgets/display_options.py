"""How events are drawn: accumulation time (1 ms to 1 s, log scale), display rate and the render
rate it implies, palette, decay, and the background-activity noise filter."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QWidget,
)

from ..model import (
    ACCUMULATION_MAX_US,
    ACCUMULATION_MIN_US,
    DECAYS,
    DISPLAY_FPS_MAX,
    DISPLAY_FPS_MIN,
    PALETTE_NAMES,
    PlayerModel,
)
from ..timefmt import format_duration_ms

_STEPS = 300  # slider positions between 1 ms and 1 s


def slider_to_us(v: int) -> int:
    lo, hi = math.log10(ACCUMULATION_MIN_US), math.log10(ACCUMULATION_MAX_US)
    return int(round(10 ** (lo + (hi - lo) * v / _STEPS)))


def us_to_slider(us: int) -> int:
    lo, hi = math.log10(ACCUMULATION_MIN_US), math.log10(ACCUMULATION_MAX_US)
    return int(round((math.log10(us) - lo) / (hi - lo) * _STEPS))


class DisplayOptions(QWidget):
    """A row of view settings bound to a :class:`PlayerModel`."""

    def __init__(self, model: PlayerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.accumulation = QSlider(Qt.Orientation.Horizontal)
        self.accumulation.setRange(0, _STEPS)
        self.accumulation.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accumulation.setMinimumWidth(140)
        self.accumulation.setToolTip("Accumulation time: each frame shows the events of this last span")
        self.accumulation.valueChanged.connect(lambda v: setattr(model, "accumulation_us", slider_to_us(v)))
        self.accumulation_label = QLabel()
        self.accumulation_label.setMinimumWidth(56)

        self.display_fps = QSpinBox()
        self.display_fps.setRange(int(DISPLAY_FPS_MIN), int(DISPLAY_FPS_MAX))
        self.display_fps.setSuffix(" fps")
        self.display_fps.setToolTip("Display rate: frames per second of wall-clock time")
        self.display_fps.valueChanged.connect(lambda v: setattr(model, "display_fps", v))

        self.render_fps = QDoubleSpinBox()
        self.render_fps.setDecimals(1)
        self.render_fps.setRange(0.01, 240_000.0)
        self.render_fps.setSuffix(" fps")
        self.render_fps.setToolTip("Render rate: frames per second of event time.\n"
                                   "Slow motion = render rate / display rate.")
        self.render_fps.editingFinished.connect(lambda: model.set_render_fps(self.render_fps.value()))
        self.slow_label = QLabel()
        self.slow_label.setMinimumWidth(110)

        self.palette = QComboBox()
        self.palette.addItems([p.capitalize() if p != "coolwarm" else "CoolWarm" for p in PALETTE_NAMES])
        self.palette.setToolTip("Palette (background, ON, OFF colours)")
        self.palette.activated.connect(lambda i: setattr(model, "palette", PALETTE_NAMES[i]))
        self.decay = QComboBox()
        self.decay.addItems([d.capitalize() for d in DECAYS])
        self.decay.setToolTip("Decay: how older events fade within the accumulation time")
        self.decay.activated.connect(lambda i: setattr(model, "decay", DECAYS[i]))

        self.noise = QCheckBox("noise filter")
        self.noise.setToolTip("Background-activity filter: hide events with no neighbour event in the window")
        self.noise_ms = QDoubleSpinBox()
        self.noise_ms.setRange(0.1, 1000.0)
        self.noise_ms.setValue(2.0)
        self.noise_ms.setSuffix(" ms")
        self.noise.toggled.connect(self._noise_changed)
        self.noise_ms.valueChanged.connect(self._noise_changed)
        for w in (self.palette, self.decay, self.noise, self.display_fps, self.render_fps, self.noise_ms):
            w.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 2)
        lay.addWidget(QLabel("accumulation"))
        lay.addWidget(self.accumulation)
        lay.addWidget(self.accumulation_label)
        lay.addWidget(QLabel("display"))
        lay.addWidget(self.display_fps)
        lay.addWidget(QLabel("render"))
        lay.addWidget(self.render_fps)
        lay.addWidget(self.slow_label)
        lay.addWidget(self.palette)
        lay.addWidget(self.decay)
        lay.addWidget(self.noise)
        lay.addWidget(self.noise_ms)
        lay.addStretch(1)
        for name in ("accumulation_us", "display_fps", "speed", "palette", "decay", "noise_filter_us"):
            getattr(model.events, name).connect(lambda _v: self.sync())
        self.sync()

    def _noise_changed(self, *_args) -> None:
        self.model.noise_filter_us = int(round(self.noise_ms.value() * 1000)) if self.noise.isChecked() else 0

    def sync(self) -> None:
        m = self.model
        for w in (self.accumulation, self.display_fps, self.render_fps, self.noise, self.noise_ms):
            w.blockSignals(True)
        self.accumulation.setValue(us_to_slider(m.accumulation_us))
        self.accumulation_label.setText(format_duration_ms(m.accumulation_us))
        self.display_fps.setValue(int(round(m.display_fps)))
        if not self.render_fps.hasFocus():
            self.render_fps.setValue(m.render_fps)
        slow = m.slow_motion
        self.slow_label.setText(f"{slow:.3g}x slow motion" if slow > 1 else f"{1 / slow:.3g}x fast forward"
                                if slow < 1 else "real time")
        self.palette.setCurrentIndex(PALETTE_NAMES.index(m.palette))
        self.decay.setCurrentIndex(DECAYS.index(m.decay))
        self.noise.setChecked(m.noise_filter_us > 0)
        if m.noise_filter_us > 0:
            self.noise_ms.setValue(m.noise_filter_us / 1000)
        for w in (self.accumulation, self.display_fps, self.render_fps, self.noise, self.noise_ms):
            w.blockSignals(False)
