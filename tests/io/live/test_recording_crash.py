"""A recording of a live stream survives the recording process being killed (SIGKILL): the file
it leaves opens (strictly), and what it holds is exactly the start of what the camera sent,
with the camera's clock kept in its header. Every format is recorded as EVT 3.0 RAW until the
recording stops: a ``.raw`` recording is that file, any other leaves ``PATH.partial.raw``
(never a half-written ``PATH``), which ``spikesight recover`` turns into ``PATH``."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from spikesight.cli import main as cli
from spikesight.io import open_source, read_events
from spikesight.io.raw_header import T0_KEY

from .dv_stream_server import T0, known_events

pytest.importorskip("dv_processing")

CHILD = Path(__file__).with_name("record_child.py")
W, H = 64, 48
SIZE = 100
WAIT_S = 60.0


def known_prefix(n: int) -> np.ndarray:
    cols = [known_events(i, SIZE, W, H) for i in range(n // SIZE + 1)]
    return np.concatenate([np.stack([c["x"], c["y"], c["p"], c["t"]], axis=1) for c in cols])[:n]


def rows(ev: np.ndarray, offset: int = 0) -> np.ndarray:
    return np.stack([ev["x"], ev["y"], ev["p"], ev["t"] + offset], axis=1).astype(np.int64)


def record_then_kill(dv_server, path: Path, events_before_kill: int) -> int:
    """Record the stream in a child process and SIGKILL it once it has written that many
    events; returns how many it said it wrote."""
    server = dv_server("--wait-go", "--batches", "3000", "--size", str(SIZE), "--interval", "0.002")
    child = subprocess.Popen([sys.executable, str(CHILD), f"dv-net:127.0.0.1:{server.port}", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(ln.strip()) for ln in child.stdout], daemon=True).start()
    try:
        assert lines.get(timeout=WAIT_S) == "OPEN"
        server.go()
        wrote = 0
        while wrote < events_before_kill:
            line = lines.get(timeout=WAIT_S)
            assert line.startswith("WROTE"), line
            wrote = int(line.split()[1])
    finally:
        child.kill()
        child.wait(timeout=10)
    return wrote


@pytest.mark.parametrize("ext", [".raw", ".hdf5", ".aedat4"])
def test_a_recording_killed_mid_stream_reads_back_up_to_what_reached_the_disk(dv_server, tmp_path, ext):
    path = tmp_path / f"live{ext}"
    wrote = record_then_kill(dv_server, path, 20_000)
    left = path if ext == ".raw" else tmp_path / f"live{ext}.partial.raw"
    assert sorted(tmp_path.iterdir()) == [left]  # no half-written target beside the journal
    with open_source(left) as src:  # strict: no error, however the file was cut
        t0 = int(src.info.metadata[T0_KEY])
        back = np.concatenate(list(src))
    # RAW holds 2**40 µs: the epoch clock is recorded from the first event, kept in the header,
    # and every word the writer handed to the OS is there (20 000 events are ~120 kB, more
    # than Python's file buffer holds back)
    assert t0 == T0
    assert 0 < len(back) <= wrote + 10 * SIZE
    np.testing.assert_array_equal(rows(back, t0), known_prefix(len(back)))

    if ext != ".raw":  # finished after the crash: the file asked for, with the camera's clock
        assert cli(["recover", str(left)]) == 0
        assert sorted(tmp_path.iterdir()) == [path]
        np.testing.assert_array_equal(rows(read_events(path)), known_prefix(len(back)))
