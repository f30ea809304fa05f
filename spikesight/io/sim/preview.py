"""Pictures of synthetic scenes for people to check: rendered frames, event frames, boxes, depth.

OpenCV (the ``gui`` extra) writes the PNGs and is imported only when one is written.
"""

from __future__ import annotations

import os

import numpy as np

from ..video import render_frame

BOX_COLOURS = ((60, 200, 255), (80, 255, 80))  # BGR: cars orange-yellow, pedestrians green


def gray_image(intensity: np.ndarray) -> np.ndarray:
    """Linear intensity in [0, 1] as a gamma-encoded uint8 image, as a display shows it."""
    return np.round(np.clip(intensity, 0.0, 1.0) ** (1 / 2.2) * 255).astype(np.uint8)


def event_image(events: np.ndarray, width: int, height: int) -> np.ndarray:
    """A BGR image of events: the latest polarity per pixel (the viewer's dark palette)."""
    return np.ascontiguousarray(render_frame(events, width, height, "dark")[:, :, ::-1])


def depth_image(depth: np.ndarray, max_depth: float = 80.0) -> np.ndarray:
    """A BGR colour map of metric depth (near warm, far cool, log scale); NaN (no surface) black."""
    import cv2

    d = np.asarray(depth, dtype=np.float64)
    ok = np.isfinite(d)
    v = np.zeros(d.shape)
    v[ok] = np.clip(np.log(np.maximum(d[ok], 1.0)) / np.log(max_depth), 0.0, 1.0)
    img = cv2.applyColorMap(np.round((1.0 - v) * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    img[~ok] = 0
    return img


def draw_boxes(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Draw boxes (any box dtype with x, y, w, h, class_id) on a copy of a BGR or gray image."""
    import cv2

    img = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    img = np.ascontiguousarray(img.copy())
    for b in boxes:
        c = BOX_COLOURS[int(b["class_id"]) % len(BOX_COLOURS)]
        x0, y0 = int(round(float(b["x"]))), int(round(float(b["y"])))
        x1, y1 = int(round(float(b["x"] + b["w"]))), int(round(float(b["y"] + b["h"])))
        cv2.rectangle(img, (x0, y0), (x1, y1), c, 1)
    return img


def save_png(path: str | os.PathLike, image: np.ndarray, scale: int = 1) -> None:
    """Write ``image`` (gray or BGR uint8) as a PNG, enlarged ``scale`` times without smoothing."""
    import cv2

    if scale != 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    if not cv2.imwrite(os.fspath(path), image):
        raise OSError(f"{os.fspath(path)}: could not write the PNG")


def side_by_side(*images: np.ndarray, gap: int = 4) -> np.ndarray:
    """Images of one height next to each other (gray ones made BGR), with a dark gap between."""
    out = []
    for k, img in enumerate(images):
        if img.ndim == 2:
            img = np.repeat(img[:, :, None], 3, axis=2)
        if k:
            out.append(np.full((img.shape[0], gap, 3), 16, np.uint8))
        out.append(img)
    return np.concatenate(out, axis=1)
