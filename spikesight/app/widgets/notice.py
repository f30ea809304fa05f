"""A banner over the event view for notices that must be seen without a dialog (errors, restarts,
recording): kiosk mode never opens a dialog, and neither does playback."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

_STYLES = {
    "info": "background: rgba(30, 60, 110, 220); color: white;",
    "warning": "background: rgba(160, 110, 0, 230); color: white;",
    "error": "background: rgba(170, 30, 30, 235); color: white;",
}


class NoticeBanner(QLabel):
    """Shows one notice at the top of its parent; hides after ``seconds`` (0: until cleared)."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.clear_notice)
        self.level = ""
        self.hide()

    def show_notice(self, text: str, level: str = "info", seconds: float = 6.0) -> None:
        self.level = level
        self.setText(text)
        self.setStyleSheet(_STYLES[level] + " padding: 8px; font-size: 14px; border-radius: 4px;")
        self._place()
        self.show()
        self.raise_()
        if seconds > 0:
            self._timer.start(int(seconds * 1000))
        else:
            self._timer.stop()

    def clear_notice(self) -> None:
        self.level = ""
        self.setText("")
        self.hide()

    def _place(self) -> None:
        p = self.parentWidget()
        w = max(200, p.width() - 40)
        self.setFixedWidth(w)
        self.adjustSize()
        self.move((p.width() - w) // 2, 12)

    def reposition(self) -> None:
        if self.isVisible():
            self._place()
