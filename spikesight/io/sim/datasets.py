"""Whole synthetic datasets: recordings split into train/val/test, with a README of how they were made.

Layouts follow the real datasets, so their readers serve both:

* detection (Gen1): ``OUT/{train,val,test}/<name>_td.dat`` + ``<name>_bbox.npy``;
* depth (MVSEC): ``OUT/{train,val,test}/<name>_data.hdf5`` + ``<name>_gt.hdf5``;
* gesture (DVS128 Gesture): ``OUT/userNN_<lighting>.aedat`` + ``_labels.csv``, with
  ``trials_to_train.txt``, ``trials_to_val.txt``, ``trials_to_test.txt`` and ``gesture_mapping.csv``.

Every recording has its own seed, derived from the dataset's seed and its index, and its own
emulator settings (thresholds, mismatch, noise) drawn from that seed, so a dataset is the same
on every run with the same seed and version.
"""

from __future__ import annotations

import functools
import logging
import math
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..emulator import EmulatorConfig
from . import preview
from .gesture import GESTURE_CLASSES
from .recordings import write_depth, write_gesture, write_street
from .runner import Frame
from .street import StreetConfig

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
LIGHTINGS = ("fluorescent", "fluorescent_led", "lab", "led", "natural")
Progress = Callable[[int], None]

DETECTION_TEXT = """\
**Task**: object detection, classes `0 car`, `1 pedestrian`, as in Prophesee's Gen1 Automotive
Detection dataset. **Layout**: `train/`, `val/`, `test/`, each with `<name>_td.dat` (events,
Prophesee DAT, 304x240) and `<name>_bbox.npy` (boxes, the Gen1 dtype: `ts` µs, `x`, `y` top-left
corner, `w`, `h` in pixels, `class_id`, `confidence` 1, `track_id`), one set of boxes every 50 ms.

**Scenes**: a camera in a car driving down a street (speeding up, slowing, stopping; slight sway
and pitch) between building blocks with windows and cross streets, lamps, trees, signs and parked
cars; traffic ahead, oncoming and crossing at the cross streets; pedestrians on the sidewalks and
on zebra crossings. Cars are 3-D box models (4 kinds, varied size and shade, lights, windows,
turning wheels); pedestrians are walking figures of varied height, build and clothing. A box is
given for every car and pedestrian of which at least 30% of its pixels show (and at least 12
pixels); it encloses the whole object (hidden parts too) clipped to the frame, and keeps its
`track_id`. Tiny far boxes are kept: apply the Gen1 evaluation filter
(`spikesight.io.bbox.filter_boxes`) as for real data.

**Rendering**: {fps:g} frames per second, turned into events with each recording's emulator
settings (below)."""

DEPTH_TEXT = """\
**Task**: monocular depth, as MVSEC. **Layout**: `train/`, `val/`, `test/`, each with
`<name>_data.hdf5` (`davis/left/events`: float64 rows `[x, y, t, p]`, `t` in seconds from 1.5e9,
`p` +1/-1; `davis/left/image_raw` uint8 frames with `image_raw_ts` and `image_raw_event_inds`) and
`<name>_gt.hdf5` (`davis/left/depth_image_raw` float32 metres, NaN where there is no surface (the
sky), with `depth_image_raw_ts`, every 50 ms; `depth_image_rect` is the same data, as the simulated
camera has no distortion; `pose` and `pose_ts`: camera-to-world 4x4 matrices in the simulator's
world frame, Y up). 346x260 pixels, focal length 226 px, principal point (173, 130).

**Scenes**: a camera driving down a street of building facades, cross streets and a distant
backdrop, with parked cars, crates, kiosks, bollards and low walls (ray-cast boxes with exact
depth), oncoming cars (boxes), and thin things drawn as cut-outs at one depth each (lamps, poles,
trees, signs, pedestrians). Depth is the camera-frame Z of the surface each pixel sees.

**Rendering**: {fps:g} frames per second, turned into events with each recording's emulator
settings (below)."""

GESTURE_TEXT = """\
**Task**: gesture recognition, the 11 classes of IBM's DVS128 Gesture dataset
(`gesture_mapping.csv`: {classes}). **Layout**: one file per subject and lighting,
`userNN_<lighting>.aedat` (AEDAT 3.1, DVS128, 128x128) with `userNN_<lighting>_labels.csv`
(`class,startTime_usec,endTime_usec`); `trials_to_train.txt`, `trials_to_val.txt` and
`trials_to_test.txt` list the files of each split (split by subject).

**Scenes**: a still camera sees a subject's upper body against a wall; the arms (two segments and a
hand each, placed by inverse kinematics) perform the gestures, with rests in between. Subjects
differ in size, position, shading, sleeves, tempo, amplitude and sway; the lighting tag sets the
noise rate. Right and left are the subject's, who faces the camera (the right arm is on the
image's left); clockwise is as the camera sees it.

**Samples per class**: {counts}.

**Rendering**: {fps:g} frames per second, turned into events with each recording's emulator
settings (below)."""


def split_names(n: int) -> list[str]:
    """The split of each of ``n`` recordings (n >= 3): about 70/15/15, at least one in each."""
    if n < 3:
        raise ValueError(f"a train/val/test split needs at least 3 recordings, got {n}")
    n_test = max(1, round(0.15 * n))
    n_val = max(1, round(0.15 * n))
    return ["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test


def recording_seed(seed: int, index: int) -> int:
    """The seed of recording ``index`` of a dataset made with ``seed``."""
    return int(np.random.default_rng([seed, 97, index]).integers(0, 2**31))


def emulator_for(
    seed: int, threshold: tuple[float, float] = (0.2, 0.3), noise_hz: tuple[float, float] = (0.02, 0.2)
) -> EmulatorConfig:
    """Emulator settings of one recording: threshold, mismatch and noise drawn from ``seed``."""
    rng = np.random.default_rng([seed, 31])
    c = rng.uniform(*threshold)
    return EmulatorConfig(
        threshold_on=round(c * rng.uniform(0.9, 1.1), 4),
        threshold_off=round(c, 4),
        threshold_sigma=round(rng.uniform(0.02, 0.04), 4),
        refractory_us=int(rng.integers(0, 500)),
        shot_noise_hz=round(rng.uniform(*noise_hz), 4),
        leak_hz=round(rng.uniform(0.0, 0.05), 4),
        seed=seed,
    )


def _hook(progress: Progress | None, snapshot: Callable[[Frame, object], None] | None):
    if progress is None and snapshot is None:
        return None

    def on_frame(fr: Frame, scene: object) -> None:
        if progress is not None:
            progress(1)
        if snapshot is not None:
            snapshot(fr, scene)

    return on_frame


def _try_preview(write: Callable[[], None], path: Path) -> str | None:
    try:
        write()
    except ImportError:
        log.info("OpenCV is not installed: no %s", path.name)
        return None
    return path.name


def _emulator_text(cfg: EmulatorConfig) -> str:
    return (
        f"C_on {cfg.threshold_on}, C_off {cfg.threshold_off}, sigma {cfg.threshold_sigma}, "
        f"refractory {cfg.refractory_us} µs, shot noise {cfg.shot_noise_hz} Hz/px, leak {cfg.leak_hz} Hz/px"
    )


def _readme(
    out: Path,
    title: str,
    command: str,
    seed: int,
    body: str,
    rows: list[str],
    header: str,
    picture: str | None,
) -> None:
    import spikesight

    version = getattr(spikesight, "__version__", "unknown")
    lines = [
        f"# {title}",
        "",
        "Synthetic data made by spikesight's scene simulator (`spikesight.io.sim`): rendered frames turned "
        "into events by its DVS emulator (`spikesight.io.emulator`). Nothing here was recorded by a camera.",
        "",
        f"Made with: `{command or 'spikesight simulate'}` (seed {seed}, spikesight {version}, numpy "
        f"{np.__version__}). The same command with the same versions writes the same bytes.",
        "",
        body,
        "",
    ]
    if picture:
        lines += [f"![a frame, its events and its ground truth]({picture})", ""]
    lines += ["## Recordings", "", header, "|" + "---|" * (header.count("|") - 1), *rows, ""]
    (out / "README.md").write_text("\n".join(lines))


def _write_clips(out: Path, duration: float, seed: int, clip_seconds: float, prefix: str, write,
                 emulator_kwargs: dict, snapshot, fps: float, progress: Progress | None
                 ) -> tuple[list[dict], str | None]:
    """Write ``duration`` seconds as at least three clips split over train/val/test, each with its own
    seed and emulator; a picture of the first clip. Returns each clip's info and the picture's name."""
    n = max(3, math.ceil(duration / clip_seconds - 1e-9))
    clip = duration / n
    results = []
    picture = None
    for i, split in enumerate(split_names(n)):
        (out / split).mkdir(parents=True, exist_ok=True)
        rseed = recording_seed(seed, i)
        emu = emulator_for(rseed, **emulator_kwargs)
        snap = snapshot(out, min(1.0, clip)) if i == 0 else None
        name = f"{prefix}_{i:03d}"
        info = write(out / split / name, rseed, clip, fps=fps, emulator=emu, on_frame=_hook(progress, snap))
        if snap is not None:
            picture = snap.written
        results.append({**info, "name": name, "split": split, "seed": rseed, "emulator": emu})
    return results, picture


def detection_dataset(
    out: str | os.PathLike,
    duration: float,
    seed: int,
    *,
    clip_seconds: float = 10.0,
    fps: float = 200.0,
    progress: Progress | None = None,
    command: str = "",
    pedestrian_rate: float = 1.0,
) -> list[dict]:
    """Street scenes totalling ``duration`` seconds, in clips of at most ``clip_seconds``, Gen1 layout.

    ``pedestrian_rate`` multiplies the scenes' pedestrian spawn rates (:class:`.StreetConfig`)."""
    out = Path(out)
    write = functools.partial(write_street, config=StreetConfig(pedestrian_rate=pedestrian_rate))
    # thresholds up to the Gen1 ATIS's low sensitivity (the demo's)
    results, picture = _write_clips(out, duration, seed, clip_seconds, "sim_street", write,
                                    {"threshold": (0.2, 0.45)}, _street_snapshot, fps, progress)
    rows = [
        f"| {r['split']} | {r['name']} | {r['seed']} | {r['duration']:.2f} | {r['event_count']:,} | "
        f"{r['cars']:,} | {r['pedestrians']:,} | {_emulator_text(r['emulator'])} |"
        for r in results
    ]
    body = DETECTION_TEXT.format(fps=fps)
    if pedestrian_rate != 1.0:
        body += (
            f"\n\n**Pedestrian density**: the spawn rates of pedestrians on the sidewalks and zebra "
            f"crossings are {pedestrian_rate:g} times the simulator's usual ones (`--pedestrians "
            f"{pedestrian_rate:g}`)."
        )
    _readme(
        out,
        "Synthetic street scenes (Gen1 layout)",
        command,
        seed,
        body,
        rows,
        "| split | name | seed | seconds | events | car boxes | pedestrian boxes | emulator |",
        picture,
    )
    return results


class _street_snapshot:
    """Saves a picture of the first recording at ``at`` seconds: frame, events of the last 50 ms, boxes."""

    scale = 2

    def __init__(self, out: Path, at: float) -> None:
        self.out, self.at_us = out, int(at * 1e6)
        self.recent: list[np.ndarray] = []
        self.written: str | None = None

    def __call__(self, fr: Frame, scene) -> None:
        self.recent = [*self.recent[-9:], fr.events]
        if fr.t >= self.at_us and self.written is None:
            ev = np.concatenate(self.recent)
            ev = ev[ev["t"] >= fr.t - 50_000]
            path = self.out / "preview.png"
            self.written = _try_preview(
                lambda: preview.save_png(path, self._picture(fr, scene, ev), self.scale), path)

    def _picture(self, fr: Frame, scene, ev: np.ndarray) -> np.ndarray:
        boxes = scene.labels(fr.t)
        return preview.side_by_side(
            preview.draw_boxes(preview.gray_image(fr.image), boxes),
            preview.draw_boxes(preview.event_image(ev, scene.width, scene.height), boxes),
        )


def depth_dataset(
    out: str | os.PathLike,
    duration: float,
    seed: int,
    *,
    clip_seconds: float = 10.0,
    fps: float = 200.0,
    progress: Progress | None = None,
    command: str = "",
) -> list[dict]:
    """Depth scenes totalling ``duration`` seconds, in clips of at most ``clip_seconds``, MVSEC layout."""
    out = Path(out)
    results, picture = _write_clips(out, duration, seed, clip_seconds, "sim_depth", write_depth, {},
                                    _depth_snapshot, fps, progress)
    rows = [
        f"| {r['split']} | {r['name']} | {r['seed']} | {r['duration']:.2f} | {r['event_count']:,} | "
        f"{r['depth_maps']} | {_emulator_text(r['emulator'])} |"
        for r in results
    ]
    body = DEPTH_TEXT.format(fps=fps)
    _readme(
        out,
        "Synthetic depth scenes (MVSEC layout)",
        command,
        seed,
        body,
        rows,
        "| split | name | seed | seconds | events | depth maps | emulator |",
        picture,
    )
    return results


class _depth_snapshot(_street_snapshot):
    """Saves a picture of the first recording: frame, events of the last 50 ms, depth map."""

    scale = 1

    def _picture(self, fr: Frame, scene, ev: np.ndarray) -> np.ndarray:
        return preview.side_by_side(
            preview.gray_image(fr.image),
            preview.event_image(ev, scene.width, scene.height),
            preview.depth_image(scene.depth()),
        )


def gesture_dataset(
    out: str | os.PathLike,
    count: int,
    seed: int,
    *,
    fps: float = 200.0,
    gesture_seconds: tuple[float, float] = (2.5, 4.0),
    progress: Progress | None = None,
    command: str = "",
) -> list[dict]:
    """``count`` gesture samples, balanced over the 11 classes, by at least 3 synthetic subjects."""
    out = Path(out)
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    out.mkdir(parents=True, exist_ok=True)
    n_files = max(3, math.ceil(count / 11))
    per_file: list[list[int]] = [[] for _ in range(n_files)]
    for i in range(count):
        per_file[i % n_files].append(i % 11 + 1)
    splits = split_names(n_files)
    results = []
    picture = None
    for i, (split, gestures) in enumerate(zip(splits, per_file, strict=True)):
        rseed = recording_seed(seed, i)
        rng = np.random.default_rng([rseed, 23])
        order = [int(g) for g in rng.permutation(gestures)]
        lighting = LIGHTINGS[int(rng.integers(0, len(LIGHTINGS)))]
        name = f"user{i + 1:02d}_{lighting}"
        emu = emulator_for(rseed, noise_hz=(0.05, 0.3) if lighting in ("natural", "lab") else (0.02, 0.15))
        snap = _gesture_snapshot(out) if i == 0 else None
        info = write_gesture(
            out / name,
            rseed,
            order,
            fps=fps,
            emulator=emu,
            gesture_seconds=gesture_seconds,
            on_frame=_hook(progress, snap),
        )
        if snap is not None:
            picture = snap.written
        results.append({**info, "name": name, "split": split, "seed": rseed, "emulator": emu})
    for split in SPLITS:
        names = [r["name"] + ".aedat" for r in results if r["split"] == split]
        (out / f"trials_to_{split}.txt").write_text("".join(n + "\n" for n in names))
    (out / "gesture_mapping.csv").write_text(
        "action,label\n" + "".join(f"{name},{k + 1}\n" for k, name in enumerate(GESTURE_CLASSES))
    )
    rows = [
        f"| {r['split']} | {r['name']} | {r['seed']} | {r['duration']:.2f} | {r['event_count']:,} | "
        f"{' '.join(map(str, r['gestures']))} | {_emulator_text(r['emulator'])} |"
        for r in results
    ]
    totals = np.bincount([g for r in results for g in r["gestures"]], minlength=12)[1:]
    body = GESTURE_TEXT.format(
        fps=fps,
        classes=", ".join(f"{k + 1} {c}" for k, c in enumerate(GESTURE_CLASSES)),
        counts=", ".join(f"{k + 1}: {int(c)}" for k, c in enumerate(totals)),
    )
    _readme(
        out,
        "Synthetic gestures (DVS128 Gesture layout)",
        command,
        seed,
        body,
        rows,
        "| split | file | seed | seconds | events | gestures (in order) | emulator |",
        picture,
    )
    return results


class _gesture_snapshot(_street_snapshot):
    def __init__(self, out: Path) -> None:
        super().__init__(out, 0.0)
        self.shots: list[np.ndarray] = []

    def __call__(self, fr: Frame, scene) -> None:
        self.recent = [*self.recent[-59:], fr.events]
        if self.written is None and scene.gesture and scene.gesture_time >= 1.0 and len(self.shots) < 1:
            ev = np.concatenate(self.recent)
            ev = ev[ev["t"] >= fr.t - 300_000]
            img = preview.side_by_side(preview.gray_image(fr.image), preview.event_image(ev, 128, 128))
            path = self.out / "preview.png"
            self.shots.append(img)
            self.written = _try_preview(lambda: preview.save_png(path, img, 3), path)
