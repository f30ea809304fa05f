"""``spikesight detect FILE``: run a SpikeYOLO detector headless over any readable event file.

The file is read in slices of the pipeline's step (``--every``, default the 50 ms label period of
Gen1); each step's detections are collected and written to ``--out``: ``.npy`` in the box dtype of
:mod:`spikesight.io.bbox` (``t, x, y, w, h, class_id, track_id, class_confidence``, read by
:func:`~spikesight.io.bbox.read_boxes` like Gen1 labels), or ``.json``, a list with one entry per
step: ``{"t": µs, "boxes": [{"x", "y", "w", "h", "class", "class_name", "score"}]}``.
``--video out.mp4`` draws the boxes on the rendered events of each step.
:func:`add_detect_parser` adds the command to the ``spikesight`` parser.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..weights import DEFAULT_WEIGHTS as SHIPPED

log = logging.getLogger("spikesight")

DEFAULT_WEIGHTS = SHIPPED["detection"]
OUTPUT_SUFFIXES = (".npy", ".json")
# Box colours per class (BGR for OpenCV): amber as the app's detections, then cyan, magenta, ...
CLASS_COLOURS = ((0, 176, 255), (255, 208, 0), (255, 64, 224), (64, 255, 64), (64, 64, 255))


def detections_to_json(t: int, det: Any) -> dict[str, Any]:
    """One step's :class:`~spikesight.perception.results.Detections` as the ``.json`` entry."""
    boxes = []
    for (x0, y0, x1, y1), label, score in zip(det.boxes.tolist(), det.labels.tolist(), det.scores.tolist(),
                                               strict=True):
        name = det.class_names[label] if 0 <= label < len(det.class_names) else str(label)
        boxes.append({"x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0, "class": int(label),
                      "class_name": name, "score": score})
    return {"t": int(t), "boxes": boxes}


def draw_detections(image: np.ndarray, det: Any, scale: int = 1) -> np.ndarray:
    """Draw boxes with ``class score`` labels on an RGB image (in place; returns it)."""
    import cv2

    for (x0, y0, x1, y1), label, score in zip(det.boxes.tolist(), det.labels.tolist(), det.scores.tolist(),
                                               strict=True):
        colour = CLASS_COLOURS[label % len(CLASS_COLOURS)][::-1]  # RGB image
        p0 = (int(round(x0 * scale)), int(round(y0 * scale)))
        p1 = (int(round(x1 * scale)) - 1, int(round(y1 * scale)) - 1)
        cv2.rectangle(image, p0, p1, colour, 1 if scale < 2 else 2)
        name = det.class_names[label] if 0 <= label < len(det.class_names) else str(label)
        text = f"{name} {score:.2f}"
        font_scale = 0.3 * max(scale, 1)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        ty = max(p0[1], th + base)
        cv2.rectangle(image, (p0[0], ty - th - base), (p0[0] + tw, ty), colour, -1)
        cv2.putText(image, text, (p0[0], ty - base), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return image


class _VideoOut:
    """Each step's events rendered (``spikesight.io.video.render_frame``), its boxes drawn on top."""

    def __init__(self, path: str, width: int, height: int, fps: float, scale: int) -> None:
        import cv2

        self.width, self.height, self.scale = width, height, scale
        fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.lower().endswith(".avi") else "mp4v"))
        self.writer = cv2.VideoWriter(path, fourcc, fps, (width * scale, height * scale))
        if not self.writer.isOpened():
            raise OSError(f"{path}: OpenCV cannot open a video writer for this path")
        self.frames = 0

    def write(self, events: np.ndarray, det: Any) -> None:
        import cv2

        from spikesight.io.video import render_frame

        img = render_frame(events, self.width, self.height)
        if self.scale > 1:
            img = cv2.resize(img, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_NEAREST)
        self.writer.write(np.ascontiguousarray(draw_detections(img, det, self.scale)[:, :, ::-1]))
        self.frames += 1

    def close(self) -> None:
        self.writer.release()


def _open_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw: dict[str, Any] = {}
    if args.lenient:
        kw["strict"] = False
    if args.input_format:
        kw["format"] = args.input_format
    if args.geometry:
        w, _, h = args.geometry.lower().partition("x")
        kw["geometry"] = (int(w), int(h))
    return kw


def _check_output(path: str | None) -> None:
    if path is not None and Path(path).suffix.lower() not in OUTPUT_SUFFIXES:
        raise ValueError(f"--out {path}: the predictions file must end in .npy or .json")


def cmd_detect(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from spikesight.io import open_source
    from spikesight.io.bbox import write_boxes
    from spikesight.io.timeparse import parse_time_us

    from .pipeline import DetectionPipeline, results_to_boxes

    _check_output(args.out)
    if args.every is not None and not args.every > 0:
        raise ValueError(f"--every must be a positive number of ms, got {args.every}")
    start = parse_time_us(args.start) if args.start is not None else None
    end = parse_time_us(args.end) if args.end is not None else None
    pipeline = DetectionPipeline(
        args.weights,
        device=args.device,
        conf=args.conf,
        iou=args.iou,
        spike_driven=False if args.integer else (True if args.spike_driven else None),
        threads=args.threads,
        step_us=None if args.every is None else int(round(args.every * 1000)),
        monitor=False,
    )
    results = []
    video = None
    wall = time.perf_counter()
    with open_source(args.file, **_open_kwargs(args)) as src:
        w, h = src.info.width, src.info.height
        sw, sh = pipeline.sensor_size
        if w > sw or h > sh:
            raise ValueError(f"{args.file} is {w}x{h}, larger than the {sw}x{sh} sensor the weights "
                             f"{args.weights!r} were made for")
        if (w, h) != (sw, sh):
            log.warning("%s is %dx%d; the weights were made for %dx%d", args.file, w, h, sw, sh)
        if start is not None:
            src.seek(start)
        first = start if start is not None else src.first_timestamp()
        total = None
        if end is not None and first is not None:
            total = max(end - first, 0) / 1e6
        elif src.info.end_time is not None and first is not None:
            total = max(src.info.end_time - first, 0) / 1e6
        if args.video:
            video = _VideoOut(os.fspath(args.video), w, h, 1e6 / pipeline.window_us, args.video_scale)
        try:
            with tqdm(total=total, unit="s", desc="detecting", disable=args.quiet, leave=False,
                      bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} s [{elapsed}<{remaining}]") as bar:
                for win in src.windows(delta_t=pipeline.window_us):
                    if end is not None and win.t_start >= end:
                        break
                    events = win.events
                    t_end = win.t_end
                    if end is not None and t_end > end:
                        events = events[: np.searchsorted(events["t"], end, side="left")]
                        t_end = end
                    result = pipeline.step(events, win.t_start, t_end)
                    results.append(result)  # small: the monitor is off, so no spikes are kept
                    if video is not None:
                        video.write(events, result.output)
                    bar.update((t_end - win.t_start) / 1e6)
                    bar.set_postfix(boxes=len(result.output), refresh=False)
        finally:
            if video is not None:
                video.close()
    wall = time.perf_counter() - wall
    if args.out is not None:
        boxes = results_to_boxes(results)
        if Path(args.out).suffix.lower() == ".npy":
            write_boxes(args.out, boxes, "metavision")
        else:
            entries = [detections_to_json(r.t_end, r.output) for r in results]
            Path(args.out).write_text(json.dumps(entries) + "\n")
        log.info("wrote %d boxes of %d steps to %s", len(boxes), len(results), args.out)
    if video is not None:
        log.info("wrote %d frames to %s", video.frames, args.video)
    if results:
        latency = sum(r.latency_s for r in results)
        log.info("%d steps of %g ms: %.1f ms per step in the pipeline, %.1f steps/s in all", len(results),
                 pipeline.window_us / 1e3, 1e3 * latency / len(results), len(results) / wall if wall else 0.0)
    return 0


def add_detect_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``detect`` to a subparsers action (the ``spikesight`` command's)."""
    sp = subparsers.add_parser("detect", help="detect objects in an event file with SpikeYOLO (headless)")
    sp.add_argument("file", help="any readable event file")
    sp.add_argument("--weights", default=DEFAULT_WEIGHTS,
                    help=f"shipped weights name or .pt path (default {DEFAULT_WEIGHTS})")
    sp.add_argument("--out", help="predictions: .npy (box dtype of the Gen1 labels) or .json")
    sp.add_argument("--video", help="draw the boxes on the events into this video (.mp4, or .avi)")
    sp.add_argument("--video-scale", type=int, default=2, help="video pixels per sensor pixel (default 2)")
    sp.add_argument("--start", help="start time (µs, or with s/ms/us)")
    sp.add_argument("--end", help="end time (µs, or with s/ms/us)")
    sp.add_argument("--conf", type=float, help="confidence threshold (default: the weights')")
    sp.add_argument("--iou", type=float, help="NMS IoU threshold (default: the weights')")
    sp.add_argument("--every", type=float, help="step period in ms (default: the 50 ms label period)")
    mode = sp.add_mutually_exclusive_group()
    mode.add_argument("--integer", action="store_true",
                      help="integer activations (the default on a CPU: same boxes, faster)")
    mode.add_argument("--spike-driven", action="store_true",
                      help="D binary virtual steps per activation (the default on a GPU)")
    sp.add_argument("--device", default="cpu", help="torch device (default cpu)")
    sp.add_argument("--threads", type=int, help="torch threads (default torch's)")
    sp.add_argument("--lenient", action="store_true",
                    help="skip bad words and report them instead of failing")
    sp.add_argument("--input-format", help="force the input format (see `spikesight formats`)")
    sp.add_argument("--geometry", help="WIDTHxHEIGHT for files that do not say (old RAW files)")
    sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sp.set_defaults(func=cmd_detect)
    return sp
