"""A real dv-processing ``NetworkWriter`` on 127.0.0.1, run as a subprocess by the live tests.

Not a fake: it is dv-processing's own server, sending events whose values follow
:func:`known_events`, so a test knows every event it must receive. It runs in a child process
because destroying a ``NetworkWriter`` while a client is connected deadlocks the process that
owns it (dv-processing 2.0.4): the server therefore never destroys its writer; it always ends
with ``os._exit``. Every loop here is bounded, so it stops by itself whatever the test does.

Protocol on stdout: ``READY <port>`` once listening. With ``--wait-go``, it reads one line from
stdin before sending (the test writes it once its reader is connected); then it sends
``--batches`` batches of ``--size`` events, one every ``--interval`` s, prints ``SENT <n>``, and
either exits (``--after exit``) or waits until stdin closes (at most ``--hold`` s).
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import sys
import time

import numpy as np

#: The first event's time (µs): far from 0, as a camera's clock usually is.
T0 = 1_700_000_000_000_000
#: Time between the first events of two consecutive batches (µs).
BATCH_US = 10_000


def known_events(i: int, n: int, width: int, height: int) -> dict[str, np.ndarray]:
    """Columns of batch ``i``: event ``k`` is at ``t = T0 + i*BATCH_US + 7*k`` µs, pixel
    ``x = (3*i + k) % width``, ``y = (5*i + 2*k) % height``, polarity ``(i + k) % 2``."""
    k = np.arange(n, dtype=np.int64)
    return {
        "t": T0 + i * BATCH_US + 7 * k,
        "x": (3 * i + k) % width,
        "y": (5 * i + 2 * k) % height,
        "p": (i + k) % 2,
    }


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _store(dv, cols: dict[str, np.ndarray]):
    store = dv.EventStore()
    for t, x, y, p in zip(cols["t"].tolist(), cols["x"].tolist(), cols["y"].tolist(),
                          cols["p"].tolist(), strict=True):
        store.push_back(t, x, y, bool(p))
    return store


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=48)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--interval", type=float, default=0.0, help="seconds between batches")
    ap.add_argument("--wait-go", action="store_true", help="read a line from stdin before sending")
    ap.add_argument("--after", choices=("exit", "hold"), default="hold")
    ap.add_argument("--hold", type=float, default=60.0, help="seconds to wait for stdin to close")
    args = ap.parse_args()

    import dv_processing as dv

    stream = dv.io.Stream.EventStream(0, "events", "TestCamera_0042", (args.width, args.height))
    writer = None
    for _attempt in range(50):  # the port may be in use for a moment (a server before us on it)
        port = args.port or _free_port()
        try:
            writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
            break
        except RuntimeError:
            time.sleep(0.1)
    if writer is None:
        print("NOPORT", flush=True)
        os._exit(2)
    print(f"READY {port}", flush=True)
    if args.wait_go:
        sys.stdin.readline()
    for i in range(args.batches):
        writer.writeEvents(_store(dv, known_events(i, args.size, args.width, args.height)))
        if args.interval:
            time.sleep(args.interval)
    # let the writer's thread hand the queued packets to the socket before we may exit
    deadline = time.monotonic() + 10.0
    while writer.getQueuedPacketCount() and time.monotonic() < deadline:
        time.sleep(0.005)
    print(f"SENT {args.batches * args.size}", flush=True)
    if args.after == "exit":
        time.sleep(0.5)  # an empty queue is not a delivered one: give the socket time before closing it
    if args.after == "hold":
        deadline = time.monotonic() + args.hold
        fd = sys.stdin.fileno()
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready and os.read(fd, 4096) == b"":  # EOF: the test closed our stdin
                break
    os._exit(0)  # never destroy the writer: with a client connected that deadlocks


if __name__ == "__main__":
    main()
