"""What a SpikeYOLO detector is fed: a window of events before a time, as a ``[T, C, H, W]`` tensor.

:class:`DetectionInput` holds everything that turns events into the model's input, so the same
object (saved in the weights' manifest through :meth:`DetectionInput.to_dict`) serves training,
evaluation and the streaming pipeline: the representation, its steps T, the window length, the
sensor's geometry and the model's input size. Events of ``[t_end - window_us, t_end)`` are fitted
to the model size (:class:`~spikesight.perception.representations.Resize`: padding at full size,
scaled coordinates when the model input is smaller than the sensor), then turned into

* ``"spikeyolo"``: SpikeYOLO's Gen1 input (the paper: 250 ms cut into T slices, each the latest
  event per pixel on grey, 3 identical channels), ``C = 3``;
* ``"histogram"``: a stacked histogram with one time bin per step (OFF and ON counts, clamped at
  :data:`HISTOGRAM_CUTOFF`, then ``log(1 + n) / log(1 + cutoff)``), ``C = 2``.

Boxes map between sensor and model pixels with :meth:`DetectionInput.boxes_to_model` and
:meth:`DetectionInput.boxes_to_sensor`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch

from ..representations import Resize, SpikeYOLOFrames, StackedHistogram, select_window
from ..representations.resize import RESIZE_MODES, ResizeMode
from ..settings import from_dict_strict

Representation = Literal["spikeyolo", "histogram"]
REPRESENTATIONS: tuple[Representation, ...] = ("spikeyolo", "histogram")
HISTOGRAM_CUTOFF = 10
SPIKEYOLO_CHANNELS = 3
MULTIPLE = 32


@dataclass(frozen=True)
class DetectionInput:
    """Events before a time -> the detector's ``[T, C, H, W]`` input (see the module docstring).

    ``width`` x ``height`` is the model input (multiples of 32). ``mode="pad"`` keeps sensor
    coordinates (the model input must be at least the sensor); ``"scale"`` scales coordinates by
    ``width / sensor_width`` and ``height / sensor_height``. :meth:`for_sensor` picks both from a
    scale factor (1: Gen1's 304x240 padded to 320x256; 0.5: scaled to 160x128).

    >>> DetectionInput.for_sensor(304, 240, scale=0.5).shape
    (4, 3, 128, 160)
    """

    representation: Representation = "spikeyolo"
    steps: int = 4
    window_us: int = 250_000
    sensor_width: int = 304
    sensor_height: int = 240
    width: int = 320
    height: int = 256
    mode: ResizeMode = "pad"

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
        if self.mode not in RESIZE_MODES:
            raise ValueError(f"mode must be one of {RESIZE_MODES}, got {self.mode!r}")
        for name in ("steps", "window_us"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.width % MULTIPLE or self.height % MULTIPLE:
            raise ValueError(f"model input {self.width}x{self.height} is not a multiple of {MULTIPLE}")
        Resize(self.sensor_width, self.sensor_height, self.width, self.height, self.mode)  # checks geometry

    @classmethod
    def for_sensor(
        cls,
        sensor_width: int,
        sensor_height: int,
        scale: float = 1.0,
        representation: Representation = "spikeyolo",
        steps: int = 4,
        window_us: int = 250_000,
    ) -> DetectionInput:
        """The input for a sensor at ``scale`` times its size, each side rounded up to a multiple of 32.

        ``scale == 1`` pads the sensor (coordinates unchanged); any other scale maps coordinates.
        """
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        width = max(math.ceil(sensor_width * scale / MULTIPLE - 1e-9), 1) * MULTIPLE
        height = max(math.ceil(sensor_height * scale / MULTIPLE - 1e-9), 1) * MULTIPLE
        mode: ResizeMode = "pad" if scale == 1 else "scale"
        return cls(representation, steps, window_us, sensor_width, sensor_height, width, height, mode)

    @property
    def resize(self) -> Resize:
        """The fit of sensor events (and boxes) to the model input."""
        return Resize(self.sensor_width, self.sensor_height, self.width, self.height, self.mode)

    @property
    def channels(self) -> int:
        """Channels of one time step: the model's ``in_channels``."""
        return SPIKEYOLO_CHANNELS if self.representation == "spikeyolo" else 2

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(T, C, H, W)`` of one input."""
        return (self.steps, self.channels, self.height, self.width)

    def __call__(self, events: np.ndarray, t_end: int) -> torch.Tensor:
        """The events of ``[t_end - window_us, t_end)`` (time-sorted, sensor pixels) as ``[T, C, H, W]``."""
        t0 = int(t_end) - self.window_us
        window, t0, t1 = select_window(events, t0, int(t_end))
        window = self.resize(window)
        if self.representation == "spikeyolo":
            rep = SpikeYOLOFrames(self.width, self.height, self.steps, SPIKEYOLO_CHANNELS)
            return rep(window, t0, t1)
        hist = StackedHistogram(self.width, self.height, self.steps, HISTOGRAM_CUTOFF, "window", "log")
        counts = hist(window, t0, t1)  # [2 * T, H, W]: OFF bins, then ON bins
        return counts.unflatten(0, (2, self.steps)).transpose(0, 1).contiguous()

    def boxes_to_model(self, xyxy: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Boxes ``[..., 4]`` (x0, y0, x1, y1) in sensor pixels to model pixels."""
        return self.resize.boxes_to_model(xyxy)

    def boxes_to_sensor(self, xyxy: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Boxes ``[..., 4]`` (x0, y0, x1, y1) in model pixels to sensor pixels, clipped to the sensor."""
        return self.resize.boxes_to_sensor(xyxy)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict for the weights' manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DetectionInput:
        """The inverse of :meth:`to_dict`; unknown keys are an error (a manifest from a newer version)."""
        return from_dict_strict(cls, d)
