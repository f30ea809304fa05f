"""Pictures of every scene family for the documentation: ``spikesight simulate gallery OUT``.

Writes ``street.png`` (two moments of two street scenes: frame with boxes, events of the last
50 ms with boxes), ``depth.png`` (frame, events, depth map, at two moments) and ``gestures.png``
(each of the 11 gestures: a frame and 300 ms of events). Needs OpenCV.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..emulator import EmulatorConfig
from . import preview as pv
from .depth import DepthScene
from .gesture import GESTURE_CLASSES, GestureScene, Subject
from .runner import run
from .street import StreetScene


def _recent(frames: list[np.ndarray], t: int, window: int) -> np.ndarray:
    ev = np.concatenate(frames)
    return ev[ev["t"] >= t - window]


def _label(img: np.ndarray, text: str) -> np.ndarray:
    import cv2

    out = img.copy()
    cv2.putText(out, text, (3, 11), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(out, text, (3, 11), cv2.FONT_HERSHEY_PLAIN, 0.8, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def street_rows(seed: int, times: tuple[float, ...], emulator: EmulatorConfig) -> list[np.ndarray]:
    scene = StreetScene(seed)
    want = [round(t * 200) for t in times]
    rows, recent = [], []
    for fr in run(scene, max(times), 200.0, emulator):
        recent = [*recent[-10:], fr.events]
        if fr.index in want:
            boxes = scene.labels(fr.t)
            ev = _recent(recent, fr.t, 50_000)
            rows.append(
                pv.side_by_side(
                    pv.draw_boxes(pv.gray_image(fr.image), boxes),
                    pv.draw_boxes(pv.event_image(ev, scene.width, scene.height), boxes),
                )
            )
    return rows


def depth_rows(seed: int, times: tuple[float, ...], emulator: EmulatorConfig) -> list[np.ndarray]:
    scene = DepthScene(seed)
    want = [round(t * 200) for t in times]
    rows, recent = [], []
    for fr in run(scene, max(times), 200.0, emulator):
        recent = [*recent[-10:], fr.events]
        if fr.index in want:
            ev = _recent(recent, fr.t, 50_000)
            rows.append(
                pv.side_by_side(
                    pv.gray_image(fr.image),
                    pv.event_image(ev, scene.width, scene.height),
                    pv.depth_image(scene.depth()),
                )
            )
    return rows


def gesture_tiles(seed: int) -> list[np.ndarray]:
    tiles = []
    for g in range(1, 12):
        rng = np.random.default_rng([seed, g])
        scene = GestureScene(Subject.random(rng), rng, [(0, 10_000_000, g)])
        recent = []
        for fr in run(scene, 1.2, 200.0, EmulatorConfig(shot_noise_hz=0.05, seed=g)):
            recent = [*recent[-60:], fr.events]
        ev = _recent(recent, fr.t, 300_000)
        tile = pv.side_by_side(pv.gray_image(fr.image), pv.event_image(ev, 128, 128), gap=2)
        tiles.append(
            _label(np.repeat(np.repeat(tile, 2, axis=0), 2, axis=1), f"{g} {GESTURE_CLASSES[g - 1]}")
        )
    return tiles


def write_gallery(out: str | Path) -> list[Path]:
    """Write the documentation pictures into ``out``; returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gen1 = EmulatorConfig(threshold_on=0.3, threshold_off=0.3, shot_noise_hz=0.05, refractory_us=300, seed=1)
    street = street_rows(8, (3.0, 7.0), gen1) + street_rows(1, (2.5, 6.0), gen1)
    davis = EmulatorConfig(threshold_on=0.25, threshold_off=0.25, shot_noise_hz=0.05, seed=2)
    depth = depth_rows(4, (2.0, 5.0), davis)
    tiles = gesture_tiles(5)
    blank = np.zeros_like(tiles[0])
    grid = [np.concatenate([*tiles, blank][k : k + 3], axis=1) for k in range(0, 12, 3)]
    paths = [out / "street.png", out / "depth.png", out / "gestures.png"]
    gap = np.full((4, street[0].shape[1], 3), 16, np.uint8)
    pv.save_png(paths[0], np.concatenate([x for r in street for x in (r, gap)][:-1]), 2)
    gap = np.full((4, depth[0].shape[1], 3), 16, np.uint8)
    pv.save_png(paths[1], np.concatenate([depth[0], gap, depth[1]]), 1)
    pv.save_png(paths[2], np.concatenate(grid), 1)
    return paths
