"""Write polarity events as an iniVation AEDAT 3.1 file (the DVS128 Gesture dataset's format).

Layout (iniVation's "AEDAT 3.1" page; libcaer ``events/common.h`` and ``polarity.h``): ``#`` header
lines ending in ``\\r\\n`` from ``#!AER-DAT3.1`` to ``#!END-HEADER``, then packets, little-endian: a
28-byte header (int16 eventType = 1 for polarity, int16 eventSource, int32 eventSize = 8,
eventTSOffset = 4, eventTSOverflow, eventCapacity, eventNumber, eventValid) and ``eventCapacity``
events of 8 bytes: uint32 data (bit 0 valid, bit 1 polarity, bits 2-16 y, bits 17-31 x) and int32
timestamp (µs, the low 31 bits; the packet's eventTSOverflow holds the bits above). A packet holds at
most ``packet_events`` events and never spans two overflow periods. ``camera`` names the source in
the ``#Source`` line; readers take the sensor size from it (``DVS128`` is 128x128).
"""

from __future__ import annotations

import datetime
import os

import numpy as np

from .writer import EventWriter

TYPE_POLARITY = 1
EVENT_SIZE = 8
TS_OFFSET = 4
OVERFLOW_SHIFT = 31
MAX_COORD = 1 << 15


class Aedat31Writer(EventWriter):
    """Write events as AEDAT 3.1 polarity packets (one source, id ``source``)."""

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        *,
        camera: str = "DVS128",
        source: int = 1,
        packet_events: int = 4096,
        start_time: datetime.datetime | None = None,
    ) -> None:
        super().__init__(path, width, height)
        if not (0 < self.width <= MAX_COORD and 0 < self.height <= MAX_COORD):
            raise ValueError(
                f"{self.path}: AEDAT 3.1 stores 15-bit coordinates; {self.width}x{self.height} does not fit"
            )
        if packet_events <= 0:
            raise ValueError("packet_events must be positive")
        self._source = int(source)
        self._packet = int(packet_events)
        start = start_time or datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
        header = (
            "#!AER-DAT3.1\r\n"
            "#Format: RAW\r\n"
            f"#Source {self._source}: {camera}\r\n"
            f"#Start-Time: {start:%Y-%m-%d %H:%M:%S} (TZ{start:%z})\r\n"
            "#!END-HEADER\r\n"
        )
        self._f = open(self.path, "wb")  # closed in _finish
        self._f.write(header.encode("ascii"))

    def _write(self, events: np.ndarray) -> None:
        t = events["t"]
        p = events["p"]
        if int(t[0]) < 0:
            raise ValueError(f"{self.path}: AEDAT 3.1 timestamps must be >= 0")
        if bool(np.any((p != 0) & (p != 1))):
            raise ValueError(f"{self.path}: polarity must be 0 or 1")
        data = (
            (events["x"].astype(np.uint32) << 17)
            | (events["y"].astype(np.uint32) << 2)
            | (p.astype(np.uint32) << 1)
            | np.uint32(1)
        )
        words = np.empty((len(events), 2), dtype="<u4")
        words[:, 0] = data
        words[:, 1] = t & ((1 << OVERFLOW_SHIFT) - 1)
        overflow = t >> OVERFLOW_SHIFT
        cuts = np.flatnonzero(np.diff(overflow)) + 1
        out = []
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(events)], strict=True):
            for s in range(a, b, self._packet):
                e = min(s + self._packet, b)
                n = e - s
                head = np.array(
                    [TYPE_POLARITY | (self._source << 16), EVENT_SIZE, TS_OFFSET, overflow[s], n, n, n],
                    dtype="<i4",
                )
                out.append(head.tobytes())
                out.append(words[s:e].tobytes())
        self._f.write(b"".join(out))

    def _finish(self) -> None:
        self._f.close()
