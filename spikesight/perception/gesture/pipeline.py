"""Streaming gesture recognition: events in, class probabilities and a decision out, every few ms.

:class:`GesturePipeline` keeps the events of the last ``T x dt`` (the window its weights were
trained on) and, at each step, classifies that sliding window: the events are pooled from the
sensor to the model's input (``x * size // width``), cut into ``T`` frames of ``dt`` (ON/OFF
counts, or marks, as in training), scored by the input attention, and the frames that the
dropping rule rejects are not computed at all (:class:`~.model.GestureNet` with a keep mask; the
paper's IAP). The network itself holds no state from one window to the next (TA-SNN classifies
independent windows), so the state the pipeline keeps is the event buffer; :meth:`reset` clears it.

Frame dropping, in order of precedence: ``dropping=False`` computes every frame with the soft
attention weights the network was trained with; ``drop_threshold`` drops frames whose score is
under it; ``drop_fraction`` drops that fraction of each window's frames, those of lowest score;
neither: the weights' own threshold (:func:`~.task.shipped_threshold`), else no dropping. A kept
frame passes weighted by its score as in training (``kept_weight="soft"``), or with weight 1 as
the paper's IAP (``"one"``; see :mod:`.task` for why soft is the default).

Each step returns a :class:`~spikesight.perception.results.Result` whose output is a
:class:`GestureDecision` (the class probabilities and names, plus the decided class when the top
probability reaches ``confidence``, and which frames were kept), with the per-layer spikes and the
energy estimate of the step from :class:`~spikesight.perception.snn.SpikeMonitor`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from spikesight.io.events import EVENT_DTYPE, as_events

from ..representations import FrameSequence, Resize
from ..results import GesturePrediction, Result
from ..snn.monitor import SpikeMonitor
from ..weights import DEFAULT_WEIGHTS as SHIPPED
from ..weights import load_weights
from .model import GestureNet, GestureNetConfig
from .task import KEPT_WEIGHTS, keep_top, rates_to_probabilities, rates_with_dropping, shipped_threshold

log = logging.getLogger(__name__)

DEFAULT_WEIGHTS = SHIPPED["gesture"]


@dataclass
class GestureDecision(GesturePrediction):
    """:class:`GesturePrediction` plus what the gesture panel shows beside the probabilities.

    ``decided``: index of the decided class (``None`` while no class reaches the confidence);
    ``confidence``: the top probability; ``class_ids``: the DVS128 Gesture ids (1-11) of the classes;
    per frame of the window (oldest first, frame ``i`` covers ``window_start + i*dt_us`` on):
    ``kept`` (computed or dropped), ``frame_scores`` (input-attention scores, ``None`` without input
    attention) and ``frame_events`` (events that fell in it).
    """

    class_ids: tuple[int, ...] = ()
    decided: int | None = None
    confidence: float = 0.0
    kept: np.ndarray | None = None
    frame_scores: np.ndarray | None = None
    frame_events: np.ndarray | None = None
    window_start: int = 0
    dt_us: int = 0

    @property
    def decided_label(self) -> str | None:
        return None if self.decided is None else self.class_names[self.decided]

    @property
    def decided_id(self) -> int | None:
        """The decided class as a DVS128 Gesture id (1-11), or ``None``."""
        return None if self.decided is None else self.class_ids[self.decided]

    @property
    def dropped(self) -> np.ndarray:
        """Indices of the frames that were dropped (not computed)."""
        return np.zeros(0, np.int64) if self.kept is None else np.flatnonzero(~self.kept)


class GesturePipeline:
    """TA-SNN over a sliding window of the last ``T x dt`` of events (see the module docstring).

    ``weights``: a shipped name or a ``.pt`` path; ``every_ms``: the step the player slices the
    stream into (:attr:`window_us`), i.e. how often a decision is taken; ``sensor_size``:
    ``(width, height)`` of the events (DVS128: 128x128), pooled to the model's input;
    ``monitor=False`` skips the spike trace and energy estimate (faster, for headless runs).
    """

    task = "gesture"

    def __init__(
        self,
        weights: str | os.PathLike = DEFAULT_WEIGHTS,
        drop_threshold: float | None = None,
        drop_fraction: float | None = None,
        confidence: float = 0.6,
        *,
        dropping: bool = True,
        kept_weight: str = "soft",
        every_ms: float = 50.0,
        sensor_size: tuple[int, int] = (128, 128),
        device: str | torch.device = "cpu",
        monitor: bool = True,
        max_neurons: int = 256,
    ) -> None:
        if drop_threshold is not None and drop_fraction is not None:
            raise ValueError("give drop_threshold or drop_fraction, not both")
        if drop_threshold is not None and not 0.0 <= drop_threshold <= 1.0:
            raise ValueError(f"drop_threshold must be in [0, 1], got {drop_threshold}")
        if drop_fraction is not None and not 0.0 <= drop_fraction <= 1.0:
            raise ValueError(f"drop_fraction must be in [0, 1], got {drop_fraction}")
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {confidence}")
        if every_ms <= 0:
            raise ValueError(f"every_ms must be positive, got {every_ms}")
        if kept_weight not in KEPT_WEIGHTS:
            raise ValueError(f"kept_weight must be one of {KEPT_WEIGHTS}, got {kept_weight!r}")
        self.kept_weight = kept_weight
        state, manifest = load_weights(weights, task="gesture")
        self.manifest = manifest
        config = GestureNetConfig.from_dict({**manifest["config"], "d_th": None})
        self.device = torch.device(device)
        self.model = GestureNet(config)
        self.model.load_state_dict(state)
        self.model.eval().to(self.device)
        self.T, self.dt_us = config.T, config.dt_us
        self.span_us = self.T * self.dt_us
        rep = manifest.get("representation", {})
        self.frames = FrameSequence(config.size, config.size, self.T, rep.get("mode", "count"))
        width, height = (int(v) for v in sensor_size)
        self.sensor_size = (width, height)
        self.resize = (
            None
            if (width, height) == (config.size, config.size)
            else Resize(width, height, config.size, config.size, "scale")
        )
        classes = manifest.get("classes") or []
        self.class_names = tuple(c["name"] for c in classes)
        self.class_ids = tuple(int(c["id"]) for c in classes)
        if len(self.class_names) != config.num_classes:
            raise ValueError(f"{weights}: the manifest lists {len(classes)} classes, the model has "
                             f"{config.num_classes}")
        self.logit_scale = float(manifest.get("logit_scale", 10.0))
        self.confidence = float(confidence)
        self.window_us = round(every_ms * 1000)
        self.drop_threshold: float | None = None
        self.drop_fraction: float | None = None
        if dropping:
            if drop_threshold is None and drop_fraction is None:
                drop_threshold = shipped_threshold(manifest)
            if (drop_threshold is not None or drop_fraction is not None) and self.model.gate is None:
                raise ValueError(f"{weights}: frame dropping needs a model with input attention")
            self.drop_threshold = drop_threshold
            self.drop_fraction = drop_fraction
        self.monitor = SpikeMonitor(self.model, window=1, max_neurons=max_neurons) if monitor else None
        if self.monitor is not None:
            self.monitor.attach()
        self._buffer = np.empty(0, EVENT_DTYPE)
        self._last_end: int | None = None

    @property
    def dropping(self) -> str:
        """``"threshold"``, ``"fraction"`` or ``"none"``."""
        if self.drop_threshold is not None:
            return "threshold"
        return "fraction" if self.drop_fraction is not None else "none"

    def reset(self) -> None:
        """Forget the buffered events (a new stream, or a jump in this one)."""
        self._buffer = np.empty(0, EVENT_DTYPE)
        self._last_end = None
        if self.monitor is not None:
            self.monitor.clear()

    def skip(self, events: np.ndarray, t_start: int, t_end: int) -> None:
        """Add the events of ``[t_start, t_end)`` without classifying: a real-time player dropped
        the step, but later steps' sliding window must still hold them."""
        self._push(events, int(t_start), int(t_end))

    def _push(self, events: np.ndarray, t_start: int, t_end: int) -> None:
        """Check a step and add its events to the buffer of the last ``T x dt``."""
        if t_end < t_start:
            raise ValueError(f"a step ends before it starts: {t_start} > {t_end}")
        events = as_events(events)
        if self._last_end is not None and t_end < self._last_end:
            log.debug("stream went back from %d to %d µs: buffer cleared", self._last_end, t_end)
            self.reset()
        if len(events):
            t = events["t"]
            if np.any(t[1:] < t[:-1]):
                raise ValueError("events are not sorted by time")
            if self._last_end is not None and t[0] < self._last_end:
                events = events[np.searchsorted(t, self._last_end, side="left") :]
            if self.resize is not None:
                events = self.resize(events)
        lo = t_end - self.span_us
        kept = self._buffer[np.searchsorted(self._buffer["t"], lo, side="left") :]
        self._buffer = np.concatenate([kept, events]) if len(events) else kept
        self._last_end = t_end

    def keep_mask(self, scores: torch.Tensor | None) -> torch.Tensor | None:
        """Bool ``[T, B]`` of the frames to compute under the dropping rule (``None``: soft attention)."""
        if scores is None or self.dropping == "none":
            return None
        if self.drop_threshold is not None:
            return scores >= self.drop_threshold
        return keep_top(scores, float(self.drop_fraction))

    def step(self, events: np.ndarray, t_start: int, t_end: int) -> Result:
        """Add the events of ``[t_start, t_end)`` and classify the last ``T x dt`` up to ``t_end``."""
        tic = time.perf_counter()
        t_start, t_end = int(t_start), int(t_end)
        self._push(events, t_start, t_end)
        t0 = t_end - self.span_us
        ev = self._buffer
        ev = ev[: np.searchsorted(ev["t"], t_end, side="left")]
        x = self.frames(ev, t0, t_end).unsqueeze(1).to(self.device)
        frame_events = np.bincount((ev["t"] - t0) // self.dt_us, minlength=self.T)[: self.T]
        with torch.no_grad():
            scores = self.model.frame_scores(x) if self.model.gate is not None else None
            keep = self.keep_mask(scores)
            if keep is None:
                rates = self.model(x)
            else:
                rates = rates_with_dropping(self.model, x, keep, scores, self.kept_weight)
            probs = rates_to_probabilities(rates, self.logit_scale)[0].cpu().numpy()
        top = int(np.argmax(probs))
        conf = float(probs[top])
        kept = np.ones(self.T, bool) if keep is None else keep[:, 0].cpu().numpy()
        output = GestureDecision(
            probabilities=probs,
            class_names=self.class_names,
            class_ids=self.class_ids,
            decided=top if conf >= self.confidence else None,
            confidence=conf,
            kept=kept,
            frame_scores=None if scores is None else scores[:, 0].cpu().numpy(),
            frame_events=frame_events.astype(np.int64),
            window_start=t0,
            dt_us=self.dt_us,
        )
        layers, energy = [], None
        record = self.monitor.last if self.monitor is not None else None
        if record is not None:
            layers, energy = list(record.spikes.values()), record.energy
        return Result(
            self.task, t_start, t_end, output, layers, energy, latency_s=time.perf_counter() - tic
        )

    def close(self) -> None:
        """Remove the spike monitor's hooks."""
        if self.monitor is not None:
            self.monitor.detach()
