"""Detection boxes over the event view: the pipeline's boxes with class and score, and the
ground-truth boxes read beside the file in another colour. Items are pooled, not recreated."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ...perception.results import Detections

DETECTION_COLOUR = "#ffb000"
GROUND_TRUTH_COLOUR = "#3ddc84"


class _BoxLayer:
    """One colour of boxes: a single line item for all rectangles plus pooled text labels."""

    def __init__(self, view_box: pg.ViewBox, colour: str, z: float, anchor: tuple[float, float]) -> None:
        self.view_box = view_box
        self.colour = colour
        self.anchor = anchor
        self.lines = pg.PlotCurveItem(pen=pg.mkPen(colour, width=2), connect="pairs")
        self.lines.setZValue(z)
        view_box.addItem(self.lines)
        self.labels: list[pg.TextItem] = []
        self.z = z
        self.boxes = np.zeros((0, 4), np.float32)
        self.texts: list[str] = []
        self.visible = True

    def set(self, boxes: np.ndarray, texts: list[str]) -> None:
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.texts = list(texts)
        if len(self.boxes):
            x0, y0, x1, y1 = self.boxes.T
            # four edges per box, as pairs of points
            xs = np.stack([x0, x1, x1, x1, x1, x0, x0, x0], axis=1).ravel()
            ys = np.stack([y0, y0, y0, y1, y1, y1, y1, y0], axis=1).ravel()
            self.lines.setData(xs, ys)
        else:
            self.lines.setData([], [])
        while len(self.labels) < len(self.texts):
            item = pg.TextItem(color=self.colour, anchor=self.anchor, fill=pg.mkBrush(0, 0, 0, 150))
            item.setZValue(self.z + 1)
            self.view_box.addItem(item)
            self.labels.append(item)
        for i, item in enumerate(self.labels):
            if i < len(self.texts):
                item.setText(self.texts[i])
                x0, y0, _, y1 = self.boxes[i]
                item.setPos(float(x0), float(y0 if self.anchor[1] == 1 else y1))
        self.set_visible(self.visible)

    def set_visible(self, on: bool) -> None:
        self.visible = on
        self.lines.setVisible(on)
        for i, item in enumerate(self.labels):
            item.setVisible(on and i < len(self.texts))


class DetectionOverlay:
    """Draws :class:`Detections` (amber) and ground-truth boxes (green) on a view box."""

    def __init__(self, view_box: pg.ViewBox) -> None:
        self.detections = _BoxLayer(view_box, DETECTION_COLOUR, 30, anchor=(0, 1))
        self.ground_truth = _BoxLayer(view_box, GROUND_TRUTH_COLOUR, 25, anchor=(0, 0))
        self.class_names: tuple[str, ...] = ()

    def set_detections(self, det: Detections | None) -> None:
        if det is None:
            self.detections.set(np.zeros((0, 4)), [])
            return
        if det.class_names:
            self.class_names = tuple(det.class_names)
        texts = [f"{self._name(int(k), det.class_names)} {float(s):.2f}"
                 for k, s in zip(det.labels, det.scores, strict=True)]
        self.detections.set(det.boxes, texts)

    def set_ground_truth(self, boxes: np.ndarray | None) -> None:
        if boxes is None or not len(boxes):
            self.ground_truth.set(np.zeros((0, 4)), [])
            return
        x0, y0 = boxes["x"].astype(np.float32), boxes["y"].astype(np.float32)
        xyxy = np.stack([x0, y0, x0 + boxes["w"], y0 + boxes["h"]], axis=1)
        texts = [f"GT {self._name(int(k), self.class_names)}" for k in boxes["class_id"]]
        self.ground_truth.set(xyxy, texts)

    def show_detections(self, on: bool) -> None:
        self.detections.set_visible(on)

    def show_ground_truth(self, on: bool) -> None:
        self.ground_truth.set_visible(on)

    @staticmethod
    def _name(k: int, names: tuple[str, ...]) -> str:
        return names[k] if 0 <= k < len(names) else f"class {k}"
