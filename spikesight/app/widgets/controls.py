"""Playback controls: play/pause, step, a seek bar with the time, loop, replay factor, go to time.

Each control is also an action with a keyboard shortcut (space, left/right, +/-, L, Home/End,
Ctrl+G), so the keyboard works wherever the focus is in the window. "Process every window" (a
checkable action of the Playback menu) makes a file's replay wait for slow task pipelines instead
of dropping their windows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSlider,
    QStyle,
    QToolButton,
    QWidget,
)

from ...io.timeparse import parse_time_us
from ..model import SPEED_STEPS, PlayerModel
from ..timefmt import format_speed, format_time


class PlaybackControls(QWidget):
    """A row of transport controls bound to a :class:`PlayerModel`."""

    def __init__(self, model: PlayerModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        st = self.style()
        self.actions_by_name: dict[str, QAction] = {}
        self.play_action = self._action("play", "Play", "Space", model.toggle_play,
                                        st.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.back_action = self._action("step_back", "Step one frame back", "Left", lambda: model.step(-1),
                                        st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.forward_action = self._action("step_forward", "Step one frame forward", "Right",
                                           lambda: model.step(1),
                                           st.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward))
        self.loop_action = self._action("loop", "Loop", "L", model.toggle_loop,
                                        st.standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.loop_action.setCheckable(True)
        self._action("faster", "Faster", ["+", "="], model.faster)
        self._action("slower", "Slower", "-", model.slower)
        self._action("start", "Go to the start", "Home", lambda: model.seek(model.first_frame_time))
        self._action("end", "Go to the end", "End", lambda: model.seek(model.last_frame_time or 0))
        self._action("goto", "Go to time…", "Ctrl+G", self._focus_goto)
        self.every_window_action = self._action("every_window", "Process every window", [],
                                                model.toggle_every_window)
        self.every_window_action.setCheckable(True)
        self.every_window_action.setToolTip(
            "Replaying a file: wait for the task pipelines to process every window (the replay slows to"
            " their pace) instead of dropping the windows they have no time for")

        self.play_button = self._button(self.play_action)
        back = self._button(self.back_action)
        fwd = self._button(self.forward_action)
        loop = self._button(self.loop_action)

        self.seek_bar = QSlider(Qt.Orientation.Horizontal)
        self.seek_bar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.seek_bar.setToolTip("Seek (drag)")
        self.seek_bar.valueChanged.connect(self._slider_moved)
        self.time_label = QLabel("--")
        self.time_label.setMinimumWidth(150)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.speed_box = QComboBox()
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed_box.setToolTip("Replay factor (+/-)")
        for s in SPEED_STEPS:
            self.speed_box.addItem(format_speed(s), s)
        self.speed_box.addItem("max (as fast as possible)", None)
        self.speed_box.activated.connect(self._speed_chosen)

        self.goto_edit = QLineEdit()
        self.goto_edit.setPlaceholderText("go to, e.g. 2.5s")
        self.goto_edit.setMaximumWidth(130)
        self.goto_edit.setToolTip("Time from the start of the recording (µs, or with s/ms/us); Ctrl+G")
        self.goto_edit.returnPressed.connect(self._goto)

        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        for w in (back, self.play_button, fwd):
            lay.addWidget(w)
        lay.addWidget(self.seek_bar, 1)
        lay.addWidget(self.time_label)
        lay.addWidget(loop)
        lay.addWidget(QLabel("speed"))
        lay.addWidget(self.speed_box)
        lay.addWidget(self.goto_edit)

        for name in ("playing", "position", "start_time", "end_time", "live", "speed", "fastest", "loop",
                     "every_window"):
            getattr(model.events, name).connect(lambda _v: self.sync())
        self.sync()

    def _action(self, name: str, text: str, keys, slot, icon=None) -> QAction:
        act = QAction(text, self)
        if icon is not None:
            act.setIcon(icon)
        keys = [keys] if isinstance(keys, str) else keys
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        act.setToolTip(f"{text} ({keys[0]})" if keys else text)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        self.actions_by_name[name] = act
        return act

    @staticmethod
    def _button(action: QAction) -> QToolButton:
        b = QToolButton()
        b.setDefaultAction(action)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        b.setAutoRaise(True)
        return b

    # -- model -> widgets ----------------------------------------------------------------------

    def sync(self) -> None:
        m = self.model
        if self.play_action.text() != ("Pause" if m.playing else "Play"):
            icon = QStyle.StandardPixmap.SP_MediaPause if m.playing else QStyle.StandardPixmap.SP_MediaPlay
            self.play_action.setIcon(self.style().standardIcon(icon))
            self.play_action.setText("Pause" if m.playing else "Play")
        self.loop_action.setChecked(m.loop)
        self.every_window_action.setChecked(m.every_window)
        seekable = m.seekable
        for w in (self.seek_bar, self.goto_edit, self.back_action, self.forward_action):
            w.setEnabled(seekable)
        if seekable:
            self.seek_bar.blockSignals(True)
            self.seek_bar.setRange(0, max(1, (m.last_frame_time - m.start_time) // 1000))
            self.seek_bar.setValue((m.position - m.start_time) // 1000)
            self.seek_bar.blockSignals(False)
            self.time_label.setText(f"{format_time(m.position - m.start_time)} / {format_time(m.duration)}")
        else:
            self.time_label.setText("live" if m.live else "--")
        idx = self.speed_box.count() - 1 if m.fastest else min(
            range(len(SPEED_STEPS)), key=lambda i: abs(SPEED_STEPS[i] / m.speed - 1))
        self.speed_box.setCurrentIndex(idx)

    # -- widgets -> model ----------------------------------------------------------------------

    def _slider_moved(self, value: int) -> None:
        if self.model.seekable:
            self.model.seek(self.model.start_time + value * 1000)

    def _speed_chosen(self, index: int) -> None:
        s = self.speed_box.itemData(index)
        if s is None:
            self.model.fastest = True
        else:
            self.model.fastest = False
            self.model.speed = s

    def _focus_goto(self) -> None:
        self.goto_edit.setFocus()
        self.goto_edit.selectAll()

    def _goto(self) -> None:
        text = self.goto_edit.text().strip()
        try:
            t = parse_time_us(text)
        except ValueError as exc:
            self.goto_edit.setToolTip(str(exc))
            self.goto_edit.setStyleSheet("border: 1px solid #d9534f;")
            return
        self.goto_edit.setStyleSheet("")
        self.model.seek((self.model.start_time or 0) + t)
        self.goto_edit.clearFocus()
