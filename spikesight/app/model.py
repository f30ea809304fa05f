"""The player's state, free of Qt: what is open, where playback is, how time and pixels are shown.

Time follows Metavision's player. Each frame shows the events of the last ``accumulation_us``
before its end time. Frames are *rendered* at ``render_fps`` frames per second of event time and
*displayed* at ``display_fps`` frames per second of wall-clock time, so the replay factor is
``display_fps / render_fps`` and slow motion is ``render_fps / display_fps``. Frames come at
that constant rate whether events arrived or not. Task pipelines keep real time too: a pipeline
slower than the stream has windows dropped, unless ``every_window`` asks for each one to be
processed (the replay then slows to the pipeline's pace). Widgets, the worker and the settings store
observe this model through ``model.events.<field>.connect(callback)``; see :mod:`.evented`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from ..io.video import PALETTES
from .evented import EventedModel

log = logging.getLogger(__name__)

SPEED_MIN = 1e-3
SPEED_MAX = 1e3
#: The replay factors that ``+``/``-`` step through (beyond the last: as fast as possible).
SPEED_STEPS: tuple[float, ...] = (*(round(m * 10.0**e, 6) for e in range(-3, 3) for m in (1, 2, 5)), 1000.0)
ACCUMULATION_MIN_US = 1_000
ACCUMULATION_MAX_US = 1_000_000
DISPLAY_FPS_MIN = 1.0
DISPLAY_FPS_MAX = 240.0
NOISE_FILTER_MAX_US = 1_000_000
DECAYS: tuple[str, ...] = ("none", "linear", "exponential")
PALETTE_NAMES: tuple[str, ...] = tuple(PALETTES)
#: Switchable panels: the stream info, the task overlays and panels, the network, the rate plot.
PANELS: tuple[str, ...] = ("info", "detection", "ground_truth", "depth", "gesture", "network", "rate_plot")
#: Fields saved between runs (QSettings in the GUI).
PERSISTENT: tuple[str, ...] = (
    "speed", "fastest", "display_fps", "accumulation_us", "decay", "palette", "loop",
    "noise_filter_us", "panels", "every_window",
)


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if v < lo else hi if v > hi else v


def _finite(name: str, value: Any) -> float:
    v = float(value)
    if math.isnan(v):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return v


@dataclass(eq=False)
class PlayerModel(EventedModel):
    """Observable player state. Times are µs of event time; rates are frames per second.

    ``start_time``/``end_time`` bound a file's events (``None`` for a live stream);
    ``position`` is the end time of the frame on display. ``speed`` is the replay factor
    (1/1000x to 1000x); ``fastest`` replays as fast as possible at the same render rate.
    ``panels`` holds the names (from :data:`PANELS`) of the panels that are on.
    ``every_window``: replaying a file, wait for the pipelines to process every window (offline
    rendering) instead of dropping those they have no time for (real time, the default).
    """

    source: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    live: bool = False
    position: int = 0
    playing: bool = False
    speed: float = 1.0
    fastest: bool = False
    display_fps: float = 30.0
    accumulation_us: int = 20_000
    decay: str = "none"
    palette: str = "dark"
    loop: bool = False
    noise_filter_us: int = 0
    panels: frozenset[str] = frozenset(PANELS)
    every_window: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        # actions, as opposed to state: the worker acts on them
        self.events.add("seek")

    # -- validation ----------------------------------------------------------------------

    def _coerce_position(self, v: Any) -> int:
        return int(v)

    def _coerce_speed(self, v: Any) -> float:
        v = _finite("speed", v)
        if v <= 0:
            raise ValueError(f"speed must be positive, got {v}")
        return _clamp(v, SPEED_MIN, SPEED_MAX)

    def _coerce_display_fps(self, v: Any) -> float:
        return _clamp(_finite("display_fps", v), DISPLAY_FPS_MIN, DISPLAY_FPS_MAX)

    def _coerce_accumulation_us(self, v: Any) -> int:
        v = int(round(_finite("accumulation_us", v)))
        return int(_clamp(v, ACCUMULATION_MIN_US, ACCUMULATION_MAX_US))

    def _coerce_noise_filter_us(self, v: Any) -> int:
        return int(_clamp(int(round(_finite("noise_filter_us", v))), 0, NOISE_FILTER_MAX_US))

    def _coerce_decay(self, v: Any) -> str:
        v = str(v).lower()
        if v not in DECAYS:
            raise ValueError(f"decay must be one of {DECAYS}, got {v!r}")
        return v

    def _coerce_palette(self, v: Any) -> str:
        v = str(v).lower()
        if v not in PALETTE_NAMES:
            raise ValueError(f"palette must be one of {PALETTE_NAMES}, got {v!r}")
        return v

    def _coerce_panels(self, v: Any) -> frozenset[str]:
        v = frozenset(v)
        unknown = v - set(PANELS)
        if unknown:
            raise ValueError(f"unknown panels {sorted(unknown)}; known: {PANELS}")
        return v

    def _coerce_playing(self, v: Any) -> bool:
        return bool(v)

    def _coerce_loop(self, v: Any) -> bool:
        return bool(v)

    def _coerce_fastest(self, v: Any) -> bool:
        return bool(v)

    def _coerce_every_window(self, v: Any) -> bool:
        return bool(v)

    # -- time ------------------------------------------------------------------------------

    @property
    def render_fps(self) -> float:
        """Frames per second of event time (``display_fps / speed``)."""
        return self.display_fps / self.speed

    @property
    def slow_motion(self) -> float:
        """``render_fps / display_fps``: 10 means ten times slower than real time."""
        return self.render_fps / self.display_fps

    @property
    def period_us(self) -> int:
        """Event time between two frames, in µs (at least 1)."""
        return max(1, int(round(1e6 / self.render_fps)))

    def set_render_fps(self, fps: float) -> None:
        """Render ``fps`` frames per second of event time at the current display rate."""
        fps = _finite("render_fps", fps)
        if fps <= 0:
            raise ValueError(f"render_fps must be positive, got {fps}")
        self.speed = self.display_fps / fps

    @property
    def seekable(self) -> bool:
        return not self.live and self.start_time is not None and self.end_time is not None

    @property
    def duration(self) -> int | None:
        return None if not self.seekable else self.end_time - self.start_time

    @property
    def first_frame_time(self) -> int:
        """End time of the first frame: one period after the first event (as FrameClock), or
        just after the last event when the stream is shorter than that."""
        first = (self.start_time or 0) + self.period_us
        return first if self.end_time is None else min(first, self.end_time + 1)

    @property
    def last_frame_time(self) -> int | None:
        """End time of the frame that shows the last event."""
        return None if self.end_time is None else self.end_time + 1

    @property
    def at_end(self) -> bool:
        end = self.last_frame_time
        return self.seekable and end is not None and self.position >= end

    def clamp_time(self, t: int) -> int:
        """``t`` limited to the times a frame can end at (unchanged for a live stream)."""
        t = int(t)
        if not self.seekable:
            return t
        return int(_clamp(t, self.start_time, self.last_frame_time))

    # -- actions ---------------------------------------------------------------------------

    def set_stream(self, source: str | None, start_time: int | None, end_time: int | None,
                   live: bool = False) -> None:
        """A new stream is open: set its extent and go to its first frame (paused)."""
        self.playing = False
        self.source = source
        self.live = bool(live)
        self.start_time = None if start_time is None else int(start_time)
        self.end_time = None if end_time is None else int(end_time)
        self.position = self.first_frame_time if self.seekable else (self.start_time or 0)

    def play(self) -> None:
        """Start playing; at the end of a file, start again from its beginning."""
        if self.at_end:
            self.seek(self.first_frame_time)
        self.playing = True

    def pause(self) -> None:
        self.playing = False

    def toggle_play(self) -> None:
        if self.playing:
            self.pause()
        else:
            self.play()

    def seek(self, t: int) -> None:
        """Show the frame that ends at ``t`` (clamped to the stream); no-op for a live stream."""
        if not self.seekable:
            return
        t = self.clamp_time(t)
        self.position = t
        self.events.seek.emit(t)

    def step(self, frames: int = 1) -> None:
        """Pause and move ``frames`` frames forward (negative: back)."""
        self.pause()
        self.seek(self.position + int(frames) * self.period_us)

    def faster(self) -> None:
        """Next replay factor up; past the last: as fast as possible."""
        if self.fastest:
            return
        up = [s for s in SPEED_STEPS if s > self.speed * (1 + 1e-9)]
        if up:
            self.speed = up[0]
        else:
            self.fastest = True

    def slower(self) -> None:
        """Next replay factor down (from as-fast-as-possible: back to the set factor)."""
        if self.fastest:
            self.fastest = False
            return
        down = [s for s in SPEED_STEPS if s < self.speed * (1 - 1e-9)]
        if down:
            self.speed = down[-1]

    def toggle_loop(self) -> None:
        self.loop = not self.loop

    def toggle_every_window(self) -> None:
        self.every_window = not self.every_window

    def set_panel(self, name: str, on: bool) -> None:
        self.panels = (self.panels | {name}) if on else (self.panels - {name})

    def toggle_panel(self, name: str) -> None:
        self.set_panel(name, name not in self.panels)

    # -- persistence -----------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """The persistent fields, as plain values (lists for sets)."""
        out = {k: getattr(self, k) for k in PERSISTENT}
        out["panels"] = sorted(out["panels"])
        return out

    def apply_settings(self, values: dict[str, Any]) -> None:
        """Set persistent fields from saved values, skipping (and logging) bad or unknown ones."""
        for k in PERSISTENT:
            if k not in values:
                continue
            v = values[k]
            try:
                if isinstance(getattr(self, k), bool):
                    v = v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes")
                elif k == "panels" and isinstance(v, str):
                    v = [p for p in v.split(",") if p]
                setattr(self, k, v)
            except (TypeError, ValueError) as exc:
                log.warning("ignoring saved setting %s=%r: %s", k, v, exc)
