"""The event view: the rendered frame in a zoomable, pannable pyqtgraph view, with the pixel and
its event count under the cursor and a rectangular region of interest with its own counts."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..frames import Frame


class EventView(QWidget):
    """Shows frames; ``view_box`` is where overlays add their items (pixel coordinates, y down)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame: Frame | None = None
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground("#14181f")
        self.graphics.ci.setContentsMargins(0, 0, 0, 0)
        self.view_box: pg.ViewBox = self.graphics.addViewBox(lockAspect=True, invertY=True,
                                                             enableMenu=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.view_box.addItem(self.image)
        self.roi = pg.RectROI((0, 0), (32, 32), pen=pg.mkPen("#f2c14e", width=2), removable=False)
        self.roi.setZValue(20)
        self.roi.hide()
        self.view_box.addItem(self.roi)
        self.readout = QLabel(" ")
        self.readout.setObjectName("eventViewReadout")
        self.roi_readout = QLabel(" ")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.graphics, 1)
        lay.addWidget(self.readout)
        lay.addWidget(self.roi_readout)
        self.roi_readout.hide()
        self._cursor: tuple[int, int] | None = None
        self._shape: tuple[int, int] | None = None
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)
        self.roi.sigRegionChanged.connect(self._update_roi)

    # -- frames ----------------------------------------------------------------------------------

    def set_geometry(self, width: int, height: int) -> None:
        """A new stream: an empty picture of its size, zoomed to fit, and the ROI inside it."""
        self._shape = (height, width)
        # uint8 RGB without levels or a lookup table goes to the screen without rescaling
        self.image.setImage(np.zeros((height, width, 3), np.uint8), autoLevels=False, levels=None)
        self.view_box.setLimits(xMin=-width, xMax=2 * width, yMin=-height, yMax=2 * height)
        self.view_box.autoRange(padding=0.0)
        self.roi.setPos((width // 4, height // 4))
        self.roi.setSize((width // 2, height // 2))
        self.roi.maxBounds = pg.QtCore.QRectF(0, 0, width, height)

    def set_frame(self, frame: Frame) -> None:
        self.frame = frame
        h, w = frame.image.shape[:2]
        if self._shape != (h, w):
            self.set_geometry(w, h)
        self.image.setImage(frame.image, autoLevels=False)
        self._update_readout()
        if self.roi.isVisible():
            self._update_roi()

    def reset_zoom(self) -> None:
        self.view_box.autoRange(padding=0.0)

    def set_roi_visible(self, on: bool) -> None:
        self.roi.setVisible(on)
        self.roi_readout.setVisible(on)
        if on:
            self._update_roi()

    # -- readouts ----------------------------------------------------------------------------------

    def pixel_at_scene(self, pos: QPointF) -> tuple[int, int] | None:
        if not self.view_box.sceneBoundingRect().contains(pos):
            return None
        p = self.view_box.mapSceneToView(pos)
        return int(np.floor(p.x())), int(np.floor(p.y()))

    def _mouse_moved(self, pos: QPointF) -> None:
        self._cursor = self.pixel_at_scene(pos)
        self._update_readout()

    def show_pixel(self, x: int, y: int) -> None:
        """Point the readout at pixel ``(x, y)`` (what hovering does)."""
        self._cursor = (x, y)
        self._update_readout()

    def count_at(self, x: int, y: int) -> int | None:
        if self.frame is None:
            return None
        h, w = self.frame.counts.shape
        if not (0 <= x < w and 0 <= y < h):
            return None
        return int(self.frame.counts[y, x])

    def _update_readout(self) -> None:
        if self._cursor is None or self.frame is None:
            return
        x, y = self._cursor
        n = self.count_at(x, y)
        if n is None:
            self.readout.setText(" ")
            return
        acc_ms = self.frame.accumulation / 1000
        self.readout.setText(f"pixel x {x}, y {y}: {n} event{'s' * (n != 1)} in the last {acc_ms:g} ms")

    def roi_rect(self) -> tuple[int, int, int, int]:
        """The ROI as whole pixels ``(x0, y0, x1, y1)``, clipped to the sensor."""
        pos, size = self.roi.pos(), self.roi.size()
        h, w = self._shape or (0, 0)
        x0, y0 = max(0, int(round(pos.x()))), max(0, int(round(pos.y())))
        x1, y1 = min(w, int(round(pos.x() + size.x()))), min(h, int(round(pos.y() + size.y())))
        return x0, y0, max(x0, x1), max(y0, y1)

    def roi_count(self) -> int:
        if self.frame is None:
            return 0
        x0, y0, x1, y1 = self.roi_rect()
        return int(self.frame.counts[y0:y1, x0:x1].sum())

    def _update_roi(self) -> None:
        if self.frame is None:
            return
        x0, y0, x1, y1 = self.roi_rect()
        n = self.roi_count()
        rate = n / (self.frame.accumulation / 1e6)
        active = int(np.count_nonzero(self.frame.counts[y0:y1, x0:x1]))
        self.roi_readout.setText(f"ROI x {x0}-{x1}, y {y0}-{y1}: {n} events ({rate / 1e3:.1f} kev/s), "
                                 f"{active} active pixels")
