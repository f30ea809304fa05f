"""Records a live source to a file until killed: the child process of the crash-recording test.

``python record_child.py URI PATH``: opens ``URI`` with ``open_source``, writes every slice
through the viewer's recorder (:func:`~spikesight.app.record.open_recording`: the writer in its
own thread, crash-safe, as in the viewer) and prints ``WROTE <n>`` once ``n`` events have
reached the writer. The test kills it with SIGKILL mid-recording; it also ends by itself when
the stream ends or after 60 s.
"""

from __future__ import annotations

import os
import sys
import time

from spikesight.app.record import open_recording
from spikesight.io import open_source
from spikesight.io.live import SourceDisconnected
from spikesight.io.live.schemes import register_live_schemes


def main() -> None:
    uri, path = sys.argv[1], sys.argv[2]
    register_live_schemes()
    src = open_source(uri)
    rec = open_recording(path, src.info.width, src.info.height)
    print("OPEN", flush=True)
    deadline = time.monotonic() + 60
    reported = 0
    try:
        for events in src.slices(delta_t=10_000):
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
    rec.close()
    os._exit(0)


if __name__ == "__main__":
    main()
