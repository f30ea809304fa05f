"""The bundled demo recording: a street scene at the Gen1 geometry as EVT 3.0 RAW with its boxes.

``spikesight/assets/demo/street.raw`` and ``street_bbox.npy`` come from :func:`write_demo` with the
defaults here; the same versions of spikesight and numpy regenerate them byte for byte
(``spikesight simulate demo spikesight/assets/demo``). A shorter run with the same seed gives a
prefix of the same bytes, so a test can check a piece of it quickly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..emulator import EmulatorConfig
from .recordings import write_street

DEMO_NAME = "street"
DEMO_SEED = 8
DEMO_DURATION = 10.0
DEMO_FPS = 200.0


def demo_emulator(seed: int) -> EmulatorConfig:
    """The demo's emulator: Gen1-like thresholds and noise, sparse enough to keep the file small."""
    return EmulatorConfig(
        threshold_on=0.4,
        threshold_off=0.4,
        threshold_sigma=0.03,
        refractory_us=300,
        shot_noise_hz=0.05,
        leak_hz=0.01,
        seed=seed,
    )


def write_demo(
    out: str | os.PathLike,
    *,
    seed: int | None = None,
    duration: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Write ``<out>/street.raw`` (EVT 3.0) and ``<out>/street_bbox.npy`` (Gen1 boxes)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed = DEMO_SEED if seed is None else int(seed)
    duration = DEMO_DURATION if duration is None else float(duration)
    hook = None if progress is None else (lambda fr, scene: progress(1))
    return write_street(
        out / DEMO_NAME,
        seed,
        duration,
        fps=DEMO_FPS,
        emulator=demo_emulator(seed),
        event_format="evt3",
        on_frame=hook,
    )
