"""What the depth network sees: a window of events as a ``[T, C, H, W]`` tensor, and its output mapped back.

Two representations (the issue asks for both; the default is picked by measured error and named in
the weights' manifest):

* ``"multistep"``: MSS-DepthNet's representation for multi-step SNNs as reconstructed in the project's
  depth notes (an ASSUMPTION: the paper's text could not be read; see
  :mod:`spikesight.perception.representations.cumulative`): the window is cut into ``T`` equal parts
  and step ``k`` sees the ON/OFF counts of every event since the window's start, ``[T, 2, H, W]``.
* ``"voxel"``: E2Depth's voxel grid of the window's events (``bins`` time bins, bilinear in time,
  signed by polarity, span from the first to the last event, non-zero entries normalised to mean 0
  and std 1), the same grid at each of the ``T`` steps (direct input coding), ``[T, bins, H, W]``.

Geometry: the sensor is ``width x height``; with ``downscale = d`` an event at ``(x, y)`` lands on
model pixel ``(x // d, y // d)``, and the model input is padded at the right and bottom to a
multiple of ``multiple`` (8: the network's three stride-2 stages). :meth:`DepthInput.to_sensor`
undoes both on the network's output (crop, then bilinear upsampling by ``d``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from spikesight.io.events import EVENT_DTYPE

from ..representations.cumulative import cumulative_stack
from ..representations.voxel import voxel_grid
from ..representations.window import check_geometry, check_positive, select_window
from ..settings import from_dict_strict

Representation = Literal["multistep", "voxel"]
REPRESENTATIONS: tuple[Representation, ...] = ("multistep", "voxel")
MVSEC_SIZE = (346, 260)


@dataclass(frozen=True)
class DepthInput:
    """A window of events -> ``[T, C, H', W']`` float32 for the depth network (see the module docstring).

    ``steps``: T; ``bins``: time bins of the voxel grid (its channels); ``window_us``: the events a
    map is made from (50 ms: MVSEC's depth maps come at 20 Hz); ``width``, ``height``: the sensor;
    ``downscale``: integer factor applied to event coordinates (2 for a CPU-friendly 176x136
    input at 346x260); ``multiple``: the model input's sides are padded to a multiple of it.
    """

    representation: Representation = "multistep"
    steps: int = 5
    bins: int = 5
    window_us: int = 50_000
    width: int = MVSEC_SIZE[0]
    height: int = MVSEC_SIZE[1]
    downscale: int = 1
    multiple: int = 8

    def __post_init__(self) -> None:
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {self.representation!r}")
        check_geometry(self.width, self.height)
        for name in ("steps", "bins", "window_us", "downscale", "multiple"):
            check_positive(name, getattr(self, name))

    @property
    def channels(self) -> int:
        """Channels of one time step (the network's ``in_channels``)."""
        return 2 if self.representation == "multistep" else self.bins

    @property
    def scaled_size(self) -> tuple[int, int]:
        """``(width, height)`` of the sensor after ``downscale``, before padding."""
        d = self.downscale
        return -(-self.width // d), -(-self.height // d)

    @property
    def model_size(self) -> tuple[int, int]:
        """``(width, height)`` of the model input: the scaled sensor padded to ``multiple``."""
        m = self.multiple
        w, h = self.scaled_size
        return -(-w // m) * m, -(-h // m) * m

    @property
    def shape(self) -> tuple[int, int, int, int]:
        w, h = self.model_size
        return (self.steps, self.channels, h, w)

    def with_sensor(self, width: int, height: int) -> DepthInput:
        """The same input for another sensor size (another camera, or a training crop)."""
        return replace(self, width=int(width), height=int(height))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DepthInput:
        return from_dict_strict(cls, d)

    def _scaled(self, events: np.ndarray) -> np.ndarray:
        """Events on the model grid: coordinates checked against the sensor, then divided by ``downscale``."""
        if len(events) and (int(events["x"].max()) >= self.width or int(events["y"].max()) >= self.height):
            raise ValueError(f"events lie outside the {self.width}x{self.height} sensor")
        if self.downscale == 1:
            return events
        out = np.empty(len(events), dtype=EVENT_DTYPE)
        out["x"] = events["x"] // self.downscale
        out["y"] = events["y"] // self.downscale
        out["p"] = events["p"]
        out["t"] = events["t"]
        return out

    def __call__(self, events: np.ndarray, t_start: int, t_end: int) -> torch.Tensor:
        """The events of ``[t_start, t_end)`` (µs, time sorted; others are ignored) as ``[T, C, H', W']``."""
        ev, t0, t1 = select_window(events, int(t_start), int(t_end))
        ev = self._scaled(ev)
        w, h = self.model_size
        if self.representation == "multistep":
            return cumulative_stack(ev, w, h, self.steps, t0, t1)
        grid = voxel_grid(ev, w, h, self.bins, "events", True, t0, t1).numpy()
        out = np.empty((self.steps, *grid.shape), dtype=np.float32)
        out[:] = grid  # numpy's copy: torch's expand().contiguous() is many times slower on a busy CPU
        return torch.from_numpy(out)

    def to_sensor(self, output: torch.Tensor) -> torch.Tensor:
        """The network's ``[..., H', W']`` output at the sensor's ``[..., height, width]``: the padding
        cropped, then upsampled by ``downscale`` (bilinear, pixel centres aligned)."""
        sw, sh = self.scaled_size
        out = output[..., :sh, :sw]
        if self.downscale > 1:
            lead = out.shape[:-2]
            flat = out.reshape(-1, 1, sh, sw)
            flat = F.interpolate(flat, scale_factor=self.downscale, mode="bilinear", align_corners=False)
            out = flat[..., : self.height, : self.width].reshape(*lead, self.height, self.width)
        return out
