"""Live sources over a loopback DV network stream: sustained rate, display latency, memory while recording.

A real dv-processing ``NetworkWriter`` runs in a subprocess (this script with ``--serve``) and
sends uniformly random events (dv-processing's own generator) at a fixed rate, stamped with
the wall clock in µs, as DV stamps a camera's events. Three measurements:

1. **Sustained rate**: for each rate, the server sends for ``--seconds``; a rate is sustained when
   the receiver got every event sent (counted; none dropped or skipped) and the server kept its
   schedule (never 0.1 s behind). dv-processing itself drops packets, silently, for a client that
   does not read for a while (about 500 packets were kept in a test), so a receiver starved of
   CPU loses events upstream of any count it could keep: a loaded machine shows as "not
   sustained" with nothing dropped. Ours iterates ``open_source("dv-net:...")`` batch by batch
   (reader thread, bounded queue, conversion to EVENT_DTYPE, time-order check; slicing adds
   little: about 190 Mev/s on its own); the peer is a bare dv-processing ``NetworkReader`` loop
   that only counts (``len`` of each batch, no conversion), in the same run.
2. **Latency**: the viewer (offscreen Qt) on the stream; for each frame drawn, the wall-clock time
   it was drawn minus the end of its window (its newest events were sent at about that time).
3. **Recording**: the viewer on a ``--record-rate`` stream recording to EVT 3.0 RAW for
   ``--record-seconds``: the process's RSS each second, the frames shown per second, the events
   recorded against those sent, and those reported lost.

Server, receiver and viewer share the machine's cores, so these are the numbers of the whole
chain on this machine; on a loaded 2-core machine they are noisy.

    .venv/bin/python bench/live.py [--rates 1,2,5,10,20] [--seconds 3] [--record-seconds 180]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

W, H = 640, 480
BATCH_US = 2_000


# -- the server (subprocess) -----------------------------------------------------------------------


def serve(args: argparse.Namespace) -> None:
    """Send ``rate`` events/s for ``seconds`` after a ``go`` line on stdin; print READY and SENT."""
    import socket

    import dv_processing as dv

    stream = dv.io.Stream.EventStream(0, "events", "BenchCamera_0001", (W, H))
    writer = None
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            writer = dv.io.NetworkWriter("127.0.0.1", port, stream)
            break
        except RuntimeError:
            time.sleep(0.1)
    if writer is None:
        os._exit(2)
    print(f"READY {port}", flush=True)
    sys.stdin.readline()
    per = max(1, round(args.rate * BATCH_US / 1e6))
    n_batches = int(args.seconds * 1e6 / BATCH_US)
    wall0 = time.time_ns() // 1000
    t0 = time.monotonic()
    behind = 0.0
    sent = 0
    for i in range(n_batches):
        due = t0 + i * BATCH_US / 1e6
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        else:
            behind = max(behind, now - due)
        store = dv.data.generate.uniformEventsWithinTimeRange(
            wall0 + i * BATCH_US, timedelta(microseconds=BATCH_US), (W, H), per, i)
        writer.writeEvents(store)
        sent += per
    deadline = time.monotonic() + 30
    while writer.getQueuedPacketCount() and time.monotonic() < deadline:
        time.sleep(0.002)
    print(f"SENT {sent} {time.monotonic() - t0:.3f} {behind:.3f}", flush=True)
    fd = sys.stdin.fileno()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the client closes our stdin
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready and os.read(fd, 4096) == b"":
            break
    os._exit(0)  # never destroy a NetworkWriter with a client connected (it deadlocks)


class Server:
    def __init__(self, rate: float, seconds: float) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", "--rate", str(rate),
                                      "--seconds", str(seconds)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(ln.strip()) for ln in self.proc.stdout],
                         daemon=True).start()
        self.port = int(self.lines.get(timeout=60).split()[1])

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def sent(self, timeout: float) -> tuple[int, float, float]:
        _, n, elapsed, behind = self.lines.get(timeout=timeout).split()
        return int(n), float(elapsed), float(behind)

    def end(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- 1. sustained rate -----------------------------------------------------------------------------


class Target:
    """The count the server says it sent, once it has said it (a thread waits for its SENT line)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.sent: tuple[int, float, float] | None = None
        threading.Thread(target=self._wait, daemon=True).start()

    def _wait(self) -> None:
        self.sent = self.server.sent(600)

    def reached(self, n: int) -> bool:
        return self.sent is not None and n >= self.sent[0]


def receive_ours(port: int, server: Server) -> dict:
    """Every batch through ``open_source("dv-net:...")`` (reader thread, bounded queue, conversion),
    until all the server sent has come, or nothing has for 5 s."""
    from spikesight.io import open_source
    from spikesight.io.live import SourceDisconnected
    from spikesight.io.live.schemes import register_live_schemes

    register_live_schemes()
    n = 0
    t_first = None
    with open_source(f"dv-net:127.0.0.1:{port}", stall_timeout=5) as src:
        target = Target(server)
        server.go()
        ended = None
        t_end = None
        try:
            for ev in src:
                t_end = time.monotonic()
                if t_first is None:
                    t_first = t_end
                n += len(ev)
                if target.reached(n):
                    break
        except SourceDisconnected as exc:
            ended = exc.reason
        t_end = t_end or time.monotonic()
        result = {"received": n, "dropped": src.dropped_events, "skipped": dict(src.stats.skipped),
                  "seconds": t_end - (t_first or t_end), "ended": ended}
    while target.sent is None:
        time.sleep(0.01)
    return {**result, "server": target.sent}


def receive_peer(port: int, server: Server) -> dict:
    """A bare dv-processing NetworkReader loop that counts each batch (no conversion)."""
    import dv_processing as dv

    from spikesight.io.live.dv_net import probe

    probe("127.0.0.1", port)
    reader = dv.io.NetworkReader("127.0.0.1", port)
    target = Target(server)
    server.go()
    n = 0
    t_first = None
    last = time.monotonic()
    while not target.reached(n) and time.monotonic() - last < 5:
        b = reader.getNextEventBatch()
        if b is None:
            if not reader.isRunning():
                break
            time.sleep(0.0005)
            continue
        last = time.monotonic()
        if t_first is None:
            t_first = last
        n += len(b)
    t_end = last
    while target.sent is None:
        time.sleep(0.01)
    del reader
    return {"received": n, "dropped": 0, "skipped": {}, "seconds": t_end - (t_first or t_end),
            "server": target.sent, "ended": None if target.reached(n) else "stopped receiving"}


def sustained(rates: list[float], seconds: float) -> list[dict]:
    rows = []
    for name, fn in (("spikesight dv-net source", receive_ours), ("dv-processing NetworkReader (count only)",
                                                                   receive_peer)):
        for rate in rates:
            server = Server(rate, seconds)
            try:
                r = fn(server.port, server)
            finally:
                server.end()
            sent, elapsed, behind = r["server"]
            row = {"receiver": name, "rate_mev_s": rate / 1e6, "sent": sent, "received": r["received"],
                   "dropped": r["dropped"], "server_rate_mev_s": sent / elapsed / 1e6,
                   "server_behind_s": behind,
                   "receive_rate_mev_s": r["received"] / max(r["seconds"], 1e-9) / 1e6}
            row["skipped"] = r["skipped"]
            row["ended"] = r["ended"]
            row["sustained"] = bool(r["received"] == sent and r["dropped"] == 0 and not r["skipped"]
                                    and behind < 0.1)
            rows.append(row)
            print(f"  {name:42s} {rate / 1e6:5.1f} Mev/s: sent {sent:>11,} received {r['received']:>11,} "
                  f"dropped {r['dropped']:>9,}  server {row['server_rate_mev_s']:5.1f} Mev/s "
                  f"(behind {behind:.2f} s)  -> {'OK' if row['sustained'] else 'not sustained'}"
                  + (f" ({r['ended']})" if r["ended"] and not row["sustained"] else ""), flush=True)
            if not row["sustained"]:
                break
    return rows


# -- 2 and 3. the viewer ----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def viewer_run(rate: float, seconds: float, record: Path | None) -> dict:
    """The viewer on a stream at ``rate`` for ``seconds`` (recording to ``record`` when given)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from spikesight.app.main_window import MainWindow
    from spikesight.io import open_source
    from spikesight.io.live.schemes import register_live_schemes

    register_live_schemes()
    _app = QApplication.instance() or QApplication([])
    server = Server(rate, seconds + 5)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings)
    win.resize(1000, 700)
    win.show()
    latencies: list[float] = []
    draws: list[float] = []
    rss: list[float] = []
    finished: list[dict] = []
    original = win.event_view.set_frame

    def set_frame(frame) -> None:
        original(frame)
        now = time.time()
        latencies.append(now - frame.t_end / 1e6)
        draws.append(time.monotonic())

    win.event_view.set_frame = set_frame
    win.worker.recording_finished.connect(finished.append)

    def pump(s: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(int(s * 1000), loop.quit)
        loop.exec()

    uri = f"dv-net:127.0.0.1:{server.port}"
    win.open_source(uri, factory=lambda: open_source(uri, stall_timeout=30))
    pump(1.0)
    server.go()
    pump(1.0)  # the first frames
    if record is not None:
        win.start_recording(record)
    sampler = QTimer()
    sampler.timeout.connect(lambda: rss.append(rss_mb()))
    sampler.start(1000)
    t0 = time.monotonic()
    n_lat0 = len(latencies)
    pump(seconds)
    sampler.stop()
    shown = [t for t in draws if t >= t0]
    fps = len(shown) / seconds
    lat = latencies[n_lat0:]
    if record is not None:
        win.stop_recording()
        deadline = time.monotonic() + 120
        while not finished and time.monotonic() < deadline:
            pump(0.2)
    src = win.worker.engine._src if win.worker.engine is not None else None
    dropped_source = getattr(src, "dropped_events", 0)
    dropped_frames = win.worker.dropped_frames
    win.shutdown()
    win.close()
    server.end()
    out = {"rate_mev_s": rate / 1e6, "seconds": seconds, "fps_shown": fps, "frames_dropped": dropped_frames,
           "source_dropped_events": dropped_source,
           "latency_ms_median": 1e3 * statistics.median(lat) if lat else None,
           "latency_ms_p95": 1e3 * sorted(lat)[int(0.95 * (len(lat) - 1))] if lat else None,
           "rss_mb": rss}
    if record is not None and finished:
        out["recorded_events"] = finished[0]["events"]
        out["recording_lost"] = finished[0].get("lost", 0)
        out["recording_error"] = finished[0]["error"]
        out["recording_mb"] = record.stat().st_size / 2**20
        record.unlink()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rate", type=float, default=1e6, help=argparse.SUPPRESS)
    p.add_argument("--rates", default="1,2,5,10,20,40", help="Mev/s to try, ascending (default %(default)s)")
    p.add_argument("--seconds", type=float, default=3.0, help="seconds per rate (default %(default)s)")
    p.add_argument("--latency-rate", type=float, default=1.0, help="Mev/s for the latency run")
    p.add_argument("--latency-seconds", type=float, default=10.0)
    p.add_argument("--record-rate", type=float, default=10.0, help="Mev/s while recording")
    p.add_argument("--record-seconds", type=float, default=30.0, help="use 180 for a few minutes")
    p.add_argument("--out", default=str(Path(__file__).with_name("results") / "live.json"))
    args = p.parse_args()
    if args.serve:
        serve(args)
        return 0
    print(f"bench/live.py on {platform.node()} ({os.cpu_count()} CPUs): server, receiver and viewer "
          "share them")
    print("1. sustained rate over loopback (every event sent received, server on schedule)")
    rates = [float(r) * 1e6 for r in args.rates.split(",")]
    rows = sustained(rates, args.seconds)
    best = {}
    for r in rows:
        if r["sustained"]:
            best[r["receiver"]] = max(best.get(r["receiver"], 0.0), r["rate_mev_s"])
    for name, v in best.items():
        print(f"   highest sustained: {name}: {v:g} Mev/s")
    print(f"2. latency: the viewer on a {args.latency_rate:g} Mev/s stream for {args.latency_seconds:g} s")
    lat = viewer_run(args.latency_rate * 1e6, args.latency_seconds, None)
    print(f"   batch sent -> frame drawn: median {lat['latency_ms_median']:.1f} ms,"
          f" p95 {lat['latency_ms_p95']:.1f} ms;"
          f" {lat['fps_shown']:.1f} frames/s shown, {lat['frames_dropped']} dropped")
    print(f"3. recording to EVT 3.0 RAW at {args.record_rate:g} Mev/s for {args.record_seconds:g} s")
    tmp = Path(tempfile.mkdtemp()) / "bench_live.raw"
    rec = viewer_run(args.record_rate * 1e6, args.record_seconds, tmp)
    rss = rec["rss_mb"]
    print(f"   RSS {min(rss):.0f}-{max(rss):.0f} MB (first {rss[0]:.0f}, last {rss[-1]:.0f});"
          f" {rec['fps_shown']:.1f} frames/s shown, {rec['frames_dropped']} dropped;"
          f" recorded {rec.get('recorded_events', 0):,} events ({rec.get('recording_mb', 0):.0f} MB),"
          f" lost {rec.get('recording_lost')}, source dropped {rec['source_dropped_events']:,},"
          f" error {rec.get('recording_error')}")
    machine = {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version()}
    result = {"machine": machine,
              "sustained": rows, "highest_sustained_mev_s": best, "latency": lat, "recording": rec}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
