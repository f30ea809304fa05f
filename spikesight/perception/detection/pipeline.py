"""Streaming SpikeYOLO detection: slices of events in, boxes in sensor pixels out, one step at a time.

:class:`DetectionPipeline` rebuilds the model, its input (:class:`~.inputs.DetectionInput`: the
representation, T, the window and the fit to the model size), the class names and the decoding
thresholds from the weights' manifest alone, so a caller only hands it events.

Time: the player calls :meth:`DetectionPipeline.step` every ``window_us`` (the step period, by
default the 50 ms label period of Gen1, or the input window when that is shorter) with the events
of ``[t_start, t_end)``. The pipeline keeps the last ``input.window_us`` of events (SpikeYOLO's
Gen1 input reads 250 ms), so each step sees the same window before ``t_end`` that training saw
before a label. Membrane state: with ``reset_each_window`` every step starts from rest, as in
training, where each label's window is an independent sample; without it the membranes carry from
step to step (a streaming SNN). Overlapping windows (a step shorter than the input window) would
feed the same events through the state twice, so there the default is to reset, unless the
manifest says otherwise (``"reset_each_window"``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from spikesight.io.bbox import BBOX_DTYPE
from spikesight.io.events import EVENT_DTYPE, as_events, concat_events

from ..results import Detections, Result
from ..snn.base import reset_net
from ..snn.monitor import SpikeMonitor
from ..weights import DEFAULT_WEIGHTS as SHIPPED
from ..weights import WeightsError, load_weights
from .config import DetectorConfig
from .inputs import DetectionInput
from .model import SpikeYOLO
from .postprocess import postprocess

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = SHIPPED["detection"]
LABEL_PERIOD_US = 50_000
"""Gen1's label period, the default step."""
DEFAULT_CONF = 0.25
DEFAULT_IOU = 0.7


def _manifest_part(manifest: dict[str, Any], key: str, source: str) -> Any:
    if key not in manifest:
        raise WeightsError(f"{source}: the manifest has no {key!r}")
    return manifest[key]


def build_from_manifest(
    state: dict[str, torch.Tensor], manifest: dict[str, Any], source: str = "weights"
) -> tuple[SpikeYOLO, DetectionInput, tuple[str, ...]]:
    """The model (weights loaded, eval mode), its input and the class names a manifest describes.

    Anything that does not fit (unknown config keys, classes that disagree with the config, an
    input whose channels differ from the model's, a state dict of another shape) is a
    :class:`~spikesight.perception.weights.WeightsError` naming ``source``.
    """
    config, spec_dict = _manifest_part(manifest, "config", source), _manifest_part(manifest, "input", source)
    try:
        cfg = DetectorConfig(**config)
        spec = DetectionInput.from_dict(spec_dict)
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{source}: bad manifest ({err})") from err
    classes = tuple(str(c) for c in _manifest_part(manifest, "classes", source))
    if len(classes) != cfg.num_classes:
        raise WeightsError(f"{source}: {len(classes)} class names for a model of {cfg.num_classes} classes")
    if spec.channels != cfg.in_channels:
        raise WeightsError(
            f"{source}: the {spec.representation!r} input has {spec.channels} channels, "
            f"the model takes {cfg.in_channels}"
        )
    model = SpikeYOLO(cfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise WeightsError(f"{source}: the weights do not fit the manifest's config ({err})") from err
    return model.eval(), spec, classes


class DetectionPipeline:
    """SpikeYOLO as a streaming :class:`~spikesight.perception.pipelines.Pipeline` (see the module doc).

    ``weights``: shipped name or ``.pt`` path (with its ``.json`` manifest). ``conf`` and ``iou``:
    confidence and NMS thresholds (default: the manifest's, else 0.25 and 0.7). ``spike_driven``:
    run every I-LIF as D binary virtual steps (the neuromorphic way; the integer mode's detections,
    up to float32 rounding ties); ``False`` runs the integer activations; ``None`` (default) picks
    integers on a CPU, where they are about 2.4x faster, and virtual steps elsewhere. ``threads``: set
    torch's intra-op threads (process-wide). ``step_us``: the step period, ``window_us``.
    ``monitor``: record spikes (rasters of at most ``max_neurons`` neurons per layer) and energy
    in each :class:`~spikesight.perception.results.Result`; ``False`` skips that work.
    """

    task = "detection"

    def __init__(
        self,
        weights: str | os.PathLike = DEFAULT_WEIGHTS,
        device: str | torch.device = "cpu",
        conf: float | None = None,
        iou: float | None = None,
        spike_driven: bool | None = None,
        threads: int | None = None,
        reset_each_window: bool | None = None,
        step_us: int | None = None,
        monitor: bool = True,
        max_neurons: int = 64,
        max_detections: int = 100,
    ) -> None:
        if threads is not None:
            torch.set_num_threads(int(threads))
        state, manifest = load_weights(weights, task="detect")
        self.weights = str(weights)
        self.manifest = manifest
        model, self.input, self.classes = build_from_manifest(state, manifest, self.weights)
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.model.spike_driven = self.device.type != "cpu" if spike_driven is None else bool(spike_driven)
        self.conf = float(manifest.get("conf", DEFAULT_CONF) if conf is None else conf)
        self.iou = float(manifest.get("iou", DEFAULT_IOU) if iou is None else iou)
        for name, value in (("conf", self.conf), ("iou", self.iou)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        self.max_detections = int(max_detections)
        self.window_us = int(min(LABEL_PERIOD_US, self.input.window_us) if step_us is None else step_us)
        if self.window_us < 1:
            raise ValueError(f"step_us must be a positive number of µs, got {step_us}")
        overlapping = self.window_us < self.input.window_us
        default_reset = bool(manifest.get("reset_each_window", overlapping))
        self.reset_each_window = default_reset if reset_each_window is None else bool(reset_each_window)
        self._monitor = (
            SpikeMonitor(self.model, window=1, max_neurons=max_neurons).attach() if monitor else None
        )
        self._buffer = np.empty(0, dtype=EVENT_DTYPE)
        self._t_end: int | None = None

    # -- configuration ---------------------------------------------------------------------

    @property
    def sensor_size(self) -> tuple[int, int]:
        """``(width, height)`` of the sensor the weights expect (events beyond it are refused)."""
        return self.input.sensor_width, self.input.sensor_height

    @property
    def spike_driven(self) -> bool:
        return self.model.spike_driven

    @spike_driven.setter
    def spike_driven(self, value: bool) -> None:
        self.model.spike_driven = value

    def set_sensor(self, width: int, height: int) -> None:
        """Take events of a ``width`` x ``height`` camera: they are fitted into the same model input
        (aspect kept, padded), so another camera works without retraining, at its own scale."""
        self.input = dataclasses.replace(self.input, sensor_width=int(width), sensor_height=int(height))
        self.reset()

    # -- streaming -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the membranes and the buffered events: the next step starts a new stream."""
        reset_net(self.model)
        self._buffer = self._buffer[:0]
        self._t_end = None
        if self._monitor is not None:
            self._monitor.clear()

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result:
        """Detect in the window that ends at ``t_end``, given the (time-sorted) events of
        ``[t_start, t_end)``. Slices must follow each other; a slice that starts before the last
        one ended (a loop or a seek back) starts a new stream, as :meth:`reset` does."""
        t0 = time.perf_counter()
        t_start, t_end = int(t_start), int(t_end)
        self._take(events, t_start, t_end)
        x = self.input(self._buffer, t_end).unsqueeze(1).to(self.device)
        if self.reset_each_window:
            reset_net(self.model)
        with torch.no_grad():
            outputs = self.model(x)
        detections = postprocess(
            outputs,
            self.model.strides,
            self.model.cfg.reg_max,
            self.conf,
            self.iou,
            self.max_detections,
            resize=self.input.resize,
            class_names=self.classes,
        )[0]
        record = self._monitor.last if self._monitor is not None else None
        return Result(
            task=self.task,
            t_start=t_start,
            t_end=t_end,
            output=detections,
            layers=list(record.spikes.values()) if record is not None else [],
            energy=record.energy if record is not None else None,
            latency_s=time.perf_counter() - t0,
        )

    def skip(self, events: np.ndarray, t_start: int, t_end: int) -> None:
        """Take the events of ``[t_start, t_end)`` without detecting: a real-time player dropped the
        window, but the next one's input (the last ``window_us`` of events) must still hold them."""
        self._take(events, int(t_start), int(t_end))

    def _take(self, events: np.ndarray, t_start: int, t_end: int) -> None:
        """Check a slice and buffer its events; one that starts before the last one ended (a loop,
        a seek back) starts a new stream."""
        if t_end < t_start:
            raise ValueError(f"a window cannot end before it starts: [{t_start}, {t_end})")
        events = as_events(np.asarray(events))
        self._check_geometry(events)
        if self._t_end is not None and t_start < self._t_end:
            log.debug("time went back from %d to %d µs: new stream", self._t_end, t_start)
            self.reset()
        self._t_end = t_end
        self._append(events, t_end)

    def _check_geometry(self, events: np.ndarray) -> None:
        if not len(events):
            return
        w, h = self.sensor_size
        outside = (events["x"] >= w) | (events["y"] >= h)
        if outside.any():
            i = int(np.argmax(outside))
            raise ValueError(
                f"{int(outside.sum())} events lie outside the {w}x{h} sensor that the weights "
                f"{self.weights!r} expect (first: x={int(events['x'][i])}, y={int(events['y'][i])}); "
                f"use weights made for this sensor"
            )

    def _append(self, events: np.ndarray, t_end: int) -> None:
        """Keep the events of the input window before ``t_end`` (and any at or after it), in an
        array of the pipeline's own (the caller's slice may be a view of a large chunk)."""
        buf = concat_events([self._buffer, events]) if len(self._buffer) else events.copy()
        keep_from = int(np.searchsorted(buf["t"], t_end - self.input.window_us, side="left"))
        self._buffer = buf[keep_from:]


def results_to_boxes(results: Iterable[Result]) -> np.ndarray:
    """Detections of many steps as one box array of :data:`spikesight.io.bbox.BBOX_DTYPE`.

    Each box takes its window's end as its time ``t`` (a Gen1 label at ``t`` describes the events
    before ``t``), ``x, y`` its top-left corner and ``w, h`` its size in sensor pixels, its class
    and score (``class_confidence``); ``track_id`` is 0 (no tracking). The same readers
    (:func:`spikesight.io.bbox.read_boxes`) and tools then read predictions and labels alike.
    """
    results = list(results)
    for r in results:
        if not isinstance(r.output, Detections):
            raise TypeError(f"a {r.task!r} result holds no detections")
    boxes = np.zeros(sum(len(r.output) for r in results), dtype=BBOX_DTYPE)
    i = 0
    for r in results:
        det = r.output
        xyxy = np.asarray(det.boxes, dtype=np.float32).reshape(-1, 4)
        part = boxes[i:i + len(det)]
        part["t"] = r.t_end
        part["x"], part["y"] = xyxy[:, 0], xyxy[:, 1]
        part["w"], part["h"] = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        part["class_id"] = det.labels
        part["class_confidence"] = det.scores
        i += len(det)
    return boxes
