"""What is known about an event stream before (or while) reading it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class StreamInfo:
    """Geometry, format and extent of an event stream.

    ``start_time``/``end_time`` are the first and last event timestamps in µs, and
    ``event_count`` the number of CD events, each ``None`` where the format does not say
    without a full pass. ``metadata`` keeps header fields (serial, sensor, plugin, ...).
    """

    width: int
    height: int
    format: str
    path: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    event_count: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def duration(self) -> int | None:
        """``end_time - start_time`` in µs, when both are known."""
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time


@dataclass
class DecodeStats:
    """What a reader skipped or set aside, by reason, so nothing is lost silently.

    ``skipped`` counts bad words/events dropped in lenient (``strict=False``) mode;
    ``other`` counts well-formed input that is not a CD event (triggers, IMU packets,
    frames, vendor words), by kind.
    """

    skipped: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(n)

    def count_other(self, kind: str, n: int = 1) -> None:
        if n:
            self.other[kind] = self.other.get(kind, 0) + int(n)

    @property
    def total_skipped(self) -> int:
        return sum(self.skipped.values())
