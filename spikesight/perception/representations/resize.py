"""Fitting events to a model's input size, and mapping boxes back to the sensor.

Detection backbones want inputs whose sides are multiples of their stride (32 for YOLO):
Gen1's 304x240 sensor becomes 320x256 by padding, or e.g. 256x192 by scaling event
coordinates. This is an explicit step on events, before any representation: build the
representation with the model geometry (``resize.width``, ``resize.height``), feed it
``resize(events)``, and map predicted boxes back with ``resize.boxes_to_sensor``.

Coordinates are continuous pixels: pixel ``i`` spans ``[i, i + 1)``. Padding adds rows and
columns at the bottom and right, so coordinates do not change. Scaling maps sensor pixel
``x`` to model pixel ``floor(x * width / sensor_width)`` (likewise for y), the model pixel
that holds the sensor pixel's left edge; boxes scale by ``width / sensor_width``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from numba import njit

from spikesight.io.events import as_events

from .window import check_choice, check_geometry, check_positive

ResizeMode = Literal["pad", "scale"]
RESIZE_MODES: tuple[ResizeMode, ...] = ("pad", "scale")


@njit(cache=True, nogil=True)
def _count_outside(x, y, width, height):
    outside = 0
    for i in range(len(x)):
        if x[i] >= width or y[i] >= height:
            outside += 1
    return outside


@njit(cache=True, nogil=True)
def _scale(x, y, p, t, ox, oy, op, ot, lut_x, lut_y):
    """Copy events into the output columns, mapping x, y through the tables; count those off them."""
    outside = 0
    nx = len(lut_x)
    ny = len(lut_y)
    for i in range(len(x)):
        xi = x[i]
        yi = y[i]
        if xi >= nx or yi >= ny:
            outside += 1
            xi = 0
            yi = 0
        ox[i] = lut_x[xi]
        oy[i] = lut_y[yi]
        op[i] = p[i]
        ot[i] = t[i]
    return outside


@dataclass(frozen=True)
class Resize:
    """Map events from a ``sensor_width x sensor_height`` sensor to a ``width x height`` model input.

    ``mode="pad"``: the model input is at least the sensor's size; events keep their
    coordinates (padding lies at the bottom and right) and are returned as they are.
    ``mode="scale"``: coordinates scale by ``width / sensor_width`` and
    ``height / sensor_height`` (the two may differ) into a new array; several sensor pixels
    may share a model pixel. Either way events off the sensor raise ``ValueError``.

    >>> from spikesight.io import make_events
    >>> r = Resize(304, 240, 256, 192, "scale")
    >>> r(make_events([0, 303, 152], [0, 239, 120], [1, 0, 1], [0, 1, 2]))[["x", "y"]].tolist()
    [(0, 0), (255, 191), (128, 96)]
    >>> r.boxes_to_sensor(np.array([[0.0, 0.0, 128.0, 96.0]])).tolist()
    [[0.0, 0.0, 152.0, 120.0]]
    """

    sensor_width: int
    sensor_height: int
    width: int
    height: int
    mode: ResizeMode = "pad"

    def __post_init__(self) -> None:
        check_geometry(self.sensor_width, self.sensor_height)
        check_geometry(self.width, self.height)
        check_choice("mode", self.mode, RESIZE_MODES)
        if self.mode == "pad" and (self.width < self.sensor_width or self.height < self.sensor_height):
            raise ValueError(
                f"cannot pad {self.sensor_width}x{self.sensor_height} to a smaller {self.width}x{self.height}"
            )

    @property
    def scale(self) -> tuple[float, float]:
        """Model pixels per sensor pixel along x and y (1, 1 when padding)."""
        if self.mode == "pad":
            return 1.0, 1.0
        return self.width / self.sensor_width, self.height / self.sensor_height

    def __call__(self, events: np.ndarray) -> np.ndarray:
        events = as_events(events)
        if self.mode == "pad":
            outside = _count_outside(events["x"], events["y"], self.sensor_width, self.sensor_height)
            out = events
        else:
            lut_x = _table(self.sensor_width, self.width)
            lut_y = _table(self.sensor_height, self.height)
            out = np.empty_like(events)
            outside = _scale(
                events["x"],
                events["y"],
                events["p"],
                events["t"],
                out["x"],
                out["y"],
                out["p"],
                out["t"],
                lut_x,
                lut_y,
            )
        if outside:
            raise ValueError(
                f"{outside} events lie outside the {self.sensor_width}x{self.sensor_height} sensor"
            )
        return out

    def boxes_to_sensor(self, boxes: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Boxes ``[..., 4]`` (``x1, y1, x2, y2``) in model pixels to sensor pixels, clipped to the sensor."""
        sx, sy = self.scale
        return _affine(boxes, 1 / sx, 1 / sy, self.sensor_width, self.sensor_height)

    def boxes_to_model(self, boxes: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
        """Boxes ``[..., 4]`` as ``x1, y1, x2, y2`` in sensor pixels to model pixels (labels for training)."""
        sx, sy = self.scale
        return _affine(boxes, sx, sy, self.width, self.height)


def _table(sensor: int, model: int) -> np.ndarray:
    """``floor(i * model / sensor)`` for every sensor coordinate ``i``, exact in integers."""
    return (np.arange(sensor, dtype=np.int64) * model // sensor).astype(np.uint16)


def _affine(boxes, sx: float, sy: float, width: int, height: int):
    if boxes.shape[-1] != 4:
        raise ValueError(f"boxes must be [..., 4] (x1, y1, x2, y2), got shape {tuple(boxes.shape)}")
    factor = [sx, sy, sx, sy]
    limit = [width, height, width, height]
    if isinstance(boxes, torch.Tensor):
        out = boxes.float() * boxes.new_tensor(factor, dtype=torch.float32)
        return torch.minimum(out.clamp(min=0), out.new_tensor(limit))
    out = np.asarray(boxes, dtype=np.float64) * np.asarray(factor)
    return np.minimum(np.maximum(out, 0.0), np.asarray(limit, dtype=np.float64))


def fit_to_model(
    sensor_width: int,
    sensor_height: int,
    size: tuple[int, int] | None = None,
    mode: ResizeMode = "pad",
    multiple: int = 32,
) -> Resize:
    """The :class:`Resize` from a sensor to a model input whose sides are multiples of ``multiple``.

    ``size=(width, height)`` names the model input (each a multiple of ``multiple``);
    without it, padding rounds the sensor's sides up to the next multiple and scaling
    rounds them down (to at least ``multiple``).

    >>> fit_to_model(304, 240)
    Resize(sensor_width=304, sensor_height=240, width=320, height=256, mode='pad')
    >>> fit_to_model(304, 240, (256, 192), "scale").scale
    (0.8421052631578947, 0.8)
    """
    check_geometry(sensor_width, sensor_height)
    check_positive("multiple", multiple)
    check_choice("mode", mode, RESIZE_MODES)
    if size is None:
        if mode == "pad":
            w = -(-sensor_width // multiple) * multiple
            h = -(-sensor_height // multiple) * multiple
        else:
            w = max(sensor_width // multiple, 1) * multiple
            h = max(sensor_height // multiple, 1) * multiple
    else:
        w, h = size
        if w % multiple or h % multiple:
            raise ValueError(f"model size {w}x{h} is not a multiple of {multiple}")
    return Resize(sensor_width, sensor_height, int(w), int(h), mode)
