"""A dark Fusion theme, like the event-camera tools users know (events read best on dark)."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1e232c",
        QPalette.ColorRole.WindowText: "#dde3ec",
        QPalette.ColorRole.Base: "#161a21",
        QPalette.ColorRole.AlternateBase: "#232933",
        QPalette.ColorRole.ToolTipBase: "#2b3340",
        QPalette.ColorRole.ToolTipText: "#dde3ec",
        QPalette.ColorRole.Text: "#dde3ec",
        QPalette.ColorRole.Button: "#2a313c",
        QPalette.ColorRole.ButtonText: "#dde3ec",
        QPalette.ColorRole.BrightText: "#ff5555",
        QPalette.ColorRole.Highlight: "#3d8bfd",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6aa9ff",
        QPalette.ColorRole.PlaceholderText: "#7d8696",
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7482"))
    app.setPalette(pal)
