"""``sim:street``, ``sim:depth`` and ``sim:gesture``: a synthetic scene read like a recording.

The scene is rendered and emulated while it is read, deterministically from ``seed``: every
pass gives the same events, and seeking replays the scene from its start (its state depends
on everything before). Options: ``seed`` (0), ``duration`` seconds (60), ``fps`` (200),
``emulator`` (an :class:`~spikesight.io.emulator.EmulatorConfig`; else each family's defaults).
``sim:gesture`` cycles through the 11 gestures, 3 s each with 1 s rests.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..emulator import EmulatorConfig
from ..events import concat_events
from ..info import StreamInfo
from ..source import Checkpoint, Chunk, EventSource
from .depth import DepthScene
from .gesture import GestureScene, Subject
from .runner import run
from .street import StreetScene

SCENES = ("street", "depth", "gesture")
FRAMES_PER_CHUNK = 10


def _make(name: str, seed: int, duration: float):
    if name == "street":
        return StreetScene(seed)
    if name == "depth":
        return DepthScene(seed)
    rng = np.random.default_rng([seed, 21])
    plan, t, k = [], 1_000_000, 0
    while t < duration * 1e6:
        plan.append((t, t + 3_000_000, k % 11 + 1))
        t += 4_000_000
        k += 1
    return GestureScene(Subject.random(rng), rng, plan)


class SceneSource(EventSource):
    """Events of a synthetic scene (``name`` in :data:`SCENES`), emulated as they are read."""

    def __init__(
        self,
        name: str,
        *,
        seed: int = 0,
        duration: float = 60.0,
        fps: float = 200.0,
        emulator: EmulatorConfig | None = None,
        strict: bool = True,
    ) -> None:
        if name not in SCENES:
            raise ValueError(f"sim:{name}: unknown scene; known: {', '.join(SCENES)}")
        super().__init__(None, strict)
        self.name, self.seed, self.duration, self.fps = name, int(seed), float(duration), float(fps)
        self.emulator = emulator or EmulatorConfig(
            threshold_on=0.3, threshold_off=0.3, shot_noise_hz=0.05, seed=self.seed
        )
        self.scene = _make(name, self.seed, self.duration)
        self.info = StreamInfo(
            width=self.scene.width,
            height=self.scene.height,
            format="sim",
            path=f"sim:{name}",
            metadata={"seed": str(self.seed), "fps": f"{self.fps:g}", "emulator": repr(self.emulator)},
        )

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        skip = 0 if checkpoint is None else checkpoint.offset
        self.scene = _make(
            self.name, self.seed, self.duration
        )  # the scene of this pass, for its ground truth
        pieces, first = [], None
        for fr in run(self.scene, self.duration, self.fps, self.emulator):
            if fr.index < skip or fr.index == 0:
                continue
            if first is None:
                first = fr.index
            pieces.append(fr.events)
            if len(pieces) == FRAMES_PER_CHUNK:
                yield Chunk(Checkpoint(first), concat_events(pieces))
                pieces, first = [], None
        if pieces:
            yield Chunk(Checkpoint(first), concat_events(pieces))


def open_sim(rest: str, **kwargs) -> SceneSource:
    """The opener of ``sim:SCENE``."""
    return SceneSource(rest.strip() or "street", **kwargs)
