"""One synthetic recording of each scene family, written in its real dataset's file formats.

* street: events as Gen1 ``<name>_td.dat`` (or any writable format, e.g. EVT 3.0 RAW for the demo)
  and boxes as ``<name>_bbox.npy`` in the Gen1 dtype, one set per label period;
* depth: MVSEC ``<name>_data.hdf5`` and ``<name>_gt.hdf5`` (:mod:`.mvsec_writer`), a depth map,
  a frame and a pose per depth period;
* gesture: DVS128 Gesture ``<name>.aedat`` (AEDAT 3.1) and ``<name>_labels.csv``
  (``class,startTime_usec,endTime_usec``), a subject performing a list of gestures with rests.

Each function returns what it wrote as a small dict (for the dataset's README).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Sequence

import numpy as np

from .. import open_writer
from ..aedat31_writer import Aedat31Writer
from ..bbox import BBOX_DTYPE, write_boxes
from ..dat import DatWriter
from ..emulator import EmulatorConfig
from .depth import DepthConfig, DepthScene
from .gesture import DVS128_SIZE, GestureScene, Subject
from .mvsec_writer import MvsecWriter
from .preview import gray_image
from .runner import Frame, frame_period, run
from .street import StreetConfig, StreetScene

FILE_DATE = datetime.datetime(2024, 1, 1)  # a fixed header date: the same scene gives the same bytes
FrameHook = Callable[[Frame, object], None]


def _check_period(period_us: int, fps: float, what: str) -> int:
    step = frame_period(fps)
    if period_us % step:
        raise ValueError(
            f"the {what} period ({period_us} µs) must be a whole number of frame periods "
            f"({step} µs at {fps:g} fps)"
        )
    return period_us // step


def write_street(
    stem: str | os.PathLike,
    seed: int,
    duration: float,
    *,
    fps: float = 200.0,
    emulator: EmulatorConfig | None = None,
    config: StreetConfig | None = None,
    event_format: str = "dat",
    on_frame: FrameHook | None = None,
) -> dict:
    """A street scene: ``<stem>_td.dat`` (or ``<stem>.raw`` with ``event_format="evt3"``) and
    ``<stem>_bbox.npy``."""
    stem = os.fspath(stem)
    config = config or StreetConfig()
    emulator = emulator or EmulatorConfig(seed=seed)
    every = _check_period(config.label_period_us, fps, "label")
    scene = StreetScene(seed, config)
    if event_format == "dat":
        path = stem + "_td.dat"
        writer = DatWriter(path, config.width, config.height, date=FILE_DATE)
    else:
        path = stem + ".raw"
        writer = open_writer(path, config.width, config.height, format=event_format)
    boxes = []
    with writer:
        for fr in run(scene, duration, fps, emulator):
            writer.write(fr.events)
            if fr.index and fr.index % every == 0:
                boxes.append(scene.labels(fr.t))
            if on_frame is not None:
                on_frame(fr, scene)
        count = writer.count
    boxes = np.concatenate(boxes) if boxes else np.zeros(0, BBOX_DTYPE)
    write_boxes(stem + "_bbox.npy", boxes, dtype="gen1")
    return {
        "events": path,
        "boxes": stem + "_bbox.npy",
        "event_count": count,
        "box_count": len(boxes),
        "cars": int(np.count_nonzero(boxes["class_id"] == 0)),
        "pedestrians": int(np.count_nonzero(boxes["class_id"] == 1)),
        "duration": duration,
    }


def write_depth(
    stem: str | os.PathLike,
    seed: int,
    duration: float,
    *,
    fps: float = 200.0,
    emulator: EmulatorConfig | None = None,
    config: DepthConfig | None = None,
    on_frame: FrameHook | None = None,
) -> dict:
    """A depth scene in MVSEC's layout: ``<stem>_data.hdf5`` and ``<stem>_gt.hdf5``."""
    config = config or DepthConfig()
    emulator = emulator or EmulatorConfig(seed=seed)
    every = _check_period(config.depth_period_us, fps, "depth")
    scene = DepthScene(seed, config)
    with MvsecWriter(stem, config.width, config.height) as out:
        maps = 0
        for fr in run(scene, duration, fps, emulator):
            before = out.count + int(np.searchsorted(fr.events["t"], fr.t, side="left"))
            out.write(fr.events)
            if fr.index % every == 0:
                out.write_depth(fr.t, scene.depth(), scene.pose())
                out.write_image(fr.t, gray_image(fr.image), before)
                maps += 1
            if on_frame is not None:
                on_frame(fr, scene)
        return {
            "events": out.data_path,
            "ground_truth": out.gt_path,
            "event_count": out.count,
            "depth_maps": maps,
            "duration": duration,
        }


def write_gesture(
    stem: str | os.PathLike,
    seed: int,
    gestures: Sequence[int],
    *,
    fps: float = 200.0,
    emulator: EmulatorConfig | None = None,
    gesture_seconds: tuple[float, float] = (2.5, 4.0),
    rest_seconds: tuple[float, float] = (0.6, 1.2),
    on_frame: FrameHook | None = None,
) -> dict:
    """One subject performing ``gestures`` (classes 1-11) in turn: ``<stem>.aedat`` and
    ``<stem>_labels.csv``."""
    stem = os.fspath(stem)
    rng = np.random.default_rng([seed, 21])
    subject = Subject.random(rng)
    emulator = emulator or EmulatorConfig(seed=seed)
    period = frame_period(fps)
    plan = []  # (start µs, end µs, class); rests in between
    t = round(rng.uniform(*rest_seconds) * 1e6)
    for g in gestures:
        if not 1 <= g <= 11:
            raise ValueError(f"gesture classes are 1-11, got {g}")
        length = round(rng.uniform(*gesture_seconds) * 1e6)
        start = -(-t // period) * period
        plan.append((start, start + length, int(g)))
        t = start + length + round(rng.uniform(*rest_seconds) * 1e6)
    scene = GestureScene(subject, rng, plan)
    with Aedat31Writer(
        stem + ".aedat", DVS128_SIZE, DVS128_SIZE, start_time=FILE_DATE.replace(tzinfo=datetime.UTC)
    ) as writer:
        for fr in run(scene, t / 1e6, fps, emulator):
            writer.write(fr.events)
            if on_frame is not None:
                on_frame(fr, scene)
        count = writer.count
    with open(stem + "_labels.csv", "w", newline="\n") as f:
        f.write("class,startTime_usec,endTime_usec\n")
        for start, end, g in plan:
            f.write(f"{g},{start},{end}\n")
    return {
        "events": stem + ".aedat",
        "labels": stem + "_labels.csv",
        "event_count": count,
        "gestures": [g for _, _, g in plan],
        "duration": t / 1e6,
        "subject": subject,
    }
