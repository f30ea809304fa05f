"""Records a live source to a file until killed: the child process of the crash-recording test.

``python record_child.py URI PATH``: opens ``URI`` with ``open_source``, writes every slice
through the app's :class:`~spikesight.app.record.Recorder` (the writer in its own thread, as
in the viewer), prints ``OFFSET <µs>`` (subtracted from the times written) with the first
slice, and ``WROTE <n>`` once ``n`` events are written. The test kills it with
SIGKILL mid-recording; it also ends by itself when the stream ends or after 60 s.
"""

from __future__ import annotations

import os
import sys
import time

from spikesight.app.record import Recorder, raw_time_offset
from spikesight.io import open_source, open_writer
from spikesight.io.live import SourceDisconnected
from spikesight.io.live.schemes import register_live_schemes


def main() -> None:
    uri, path = sys.argv[1], sys.argv[2]
    register_live_schemes()
    src = open_source(uri)
    writer = open_writer(path, src.info.width, src.info.height)
    rec = None
    print("OPEN", flush=True)
    deadline = time.monotonic() + 60
    reported = 0
    try:
        for events in src.slices(delta_t=10_000):
            if rec is None:  # RAW holds 2**40 µs: a clock since the epoch is written from its first event
                rec = Recorder(writer, time_offset_us=raw_time_offset(writer, src.info.start_time))
                print(f"OFFSET {rec.time_offset_us}", flush=True)
            rec.write(events)
            while rec.pending and time.monotonic() < deadline:  # report what reached the writer
                time.sleep(0.001)
            if rec.count > reported:
                reported = rec.count
                print(f"WROTE {reported}", flush=True)
            if time.monotonic() > deadline:
                break
    except SourceDisconnected:
        pass
    if rec is not None:
        rec.close()
    os._exit(0)


if __name__ == "__main__":
    main()
