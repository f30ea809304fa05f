"""The viewer under load: display FPS, pipeline latency and memory of the real MainWindow.

Runs the real :class:`~spikesight.app.main_window.MainWindow` on Qt's offscreen platform (or the
X server in ``DISPLAY``, e.g. Xvfb) with the untrained stand-in detection pipeline of
``tools/demo_pipelines.py`` (NOT a trained model), or with ``--pipeline shipped`` the shipped
detector as ``spikesight app --task detection`` runs it, and measures:

1. **Demo at 1x**: ``spikesight/assets/demo/street.raw`` (304x240, about 0.17 Mev/s) replayed at
   1x, display asked at 30 FPS, looping: frames drawn per wall-clock second, the event-time
   speed-up achieved, frames dropped, pipeline windows processed and dropped, and the pipeline
   latency per window (its ``step`` time, as the status bar shows it) with how far its result
   lags the frame on display. Twice: in real time (the default: windows the pipeline has no
   time for are dropped) and with "process every window" (the replay waits for the pipeline).
2. **10 Mev/s at 1x**: a generated 1280x720 stream of 10 M events per second of event time (a
   seekable in-memory source that repeats one generated 100 ms block, shifted in time and space,
   so it never holds more than a block) replayed the same way, with the pipeline on and off.
3. **Kiosk memory**: kiosk mode (loop, restart on error) on the demo recording accelerated
   (``--kiosk-speed``, 20x by default, or ``max``) with the pipeline on, for ``--kiosk-seconds``
   of wall time (or ``--kiosk-minutes``; ``--kiosk-minutes 10`` is the issue's 10 minutes), in a
   process of its own: VmRSS from ``/proc/self/status`` before anything opens, once the pipeline
   is loaded, at the end of start-up (the stream open, the pipeline warmed up, the first frame
   drawn) and then each second; reported as the growth after start-up (end minus start-up, max
   minus min, the slope per minute over the run and over its second half), with the sizes of the
   app's bounded buffers (outbox, pipeline queue, raster history, rate history) and the count of
   Python objects at start-up and at the end, which tell a leak from allocator noise.

The bench sets glibc's malloc thresholds as ``spikesight app`` does when it starts
(:mod:`spikesight.app.memory`).

No event viewer with a comparable API can be installed with pip (Metavision Studio and DV GUI
are desktop applications), so there is no peer viewer: the floor printed beside the numbers is
the cost of the pure-numpy ``spikesight.io.video.render_frame`` (one image of the accumulated
events, no Qt) for the same windows, with the app's own ``render`` beside it.

Timings depend on the machine and on whatever else runs on it; GUI, player, pipeline and sampler
share its cores. Targets (issue 6): 30 FPS display; memory flat within 50 MB.

    .venv/bin/python bench/app.py [--pipeline shipped] [--seconds 10] [--kiosk-seconds 120 |
        --kiosk-minutes 10] [--kiosk-speed 20|max] [--kiosk-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "spikesight" / "assets" / "demo" / "street.raw"
TARGET_FPS = 30.0
TARGET_GROWTH_MB = 50.0
GEN_W, GEN_H = 1280, 720
GEN_BLOCK_US = 100_000

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as `spikesight app` sets it

from spikesight.app.memory import tune_allocator  # noqa: E402
from spikesight.io.events import EVENT_DTYPE  # noqa: E402
from spikesight.io.info import StreamInfo  # noqa: E402
from spikesight.io.source import Checkpoint, Chunk, EventSource  # noqa: E402

ALLOCATOR_TUNED = tune_allocator()  # as `spikesight app` does when it starts


def stand_in_pipeline(width: int, height: int):
    """The pipeline under test: the shipped detector when ``SPIKESIGHT_BENCH_PIPELINE=shipped``
    (``--pipeline shipped``; told the stream's geometry by the player), else the untrained stand-in,
    imported by path from tools/."""
    if os.environ.get("SPIKESIGHT_BENCH_PIPELINE") == "shipped":
        from spikesight.app.launch import open_pipelines

        return open_pipelines(["detection"])[0]  # as `spikesight app --task detection` opens it
    spec = importlib.util.spec_from_file_location("demo_pipelines", ROOT / "tools" / "demo_pipelines.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.UntrainedSpikingDemo(width, height)


class GeneratedSource(EventSource):
    """``rate`` events per second of event time, uniform over a ``width`` x ``height`` sensor, for
    ``duration_us``: one random block of ``GEN_BLOCK_US`` repeated, each repeat shifted in time
    and along x (so frames differ), served one block per chunk; seekable by block."""

    def __init__(self, rate: float, duration_us: int, width: int = GEN_W, height: int = GEN_H,
                 seed: int = 0) -> None:
        super().__init__(None)
        rng = np.random.default_rng(seed)
        n = int(round(rate * GEN_BLOCK_US / 1e6))
        self._x = rng.integers(0, width, n).astype(np.uint16)
        self._y = rng.integers(0, height, n).astype(np.uint16)
        self._p = rng.integers(0, 2, n).astype(np.int16)
        self._dt = np.sort(rng.integers(0, GEN_BLOCK_US, n)).astype(np.int64)
        self._blocks = max(1, -(-int(duration_us) // GEN_BLOCK_US))
        self._width = width
        self.info = StreamInfo(width=width, height=height, format="generated", event_count=n * self._blocks,
                               start_time=int(self._dt[0]),
                               end_time=(self._blocks - 1) * GEN_BLOCK_US + int(self._dt[-1]))

    def _chunks_from(self, checkpoint: Checkpoint | None) -> Iterator[Chunk]:
        for b in range(0 if checkpoint is None else checkpoint.offset, self._blocks):
            ev = np.empty(len(self._dt), EVENT_DTYPE)
            ev["x"] = (self._x + (b * 37) % self._width) % self._width
            ev["y"] = self._y
            ev["p"] = self._p
            ev["t"] = self._dt + b * GEN_BLOCK_US
            yield Chunk(Checkpoint(b), ev)

    def _checkpoint_for(self, t: int) -> Checkpoint | None:
        return Checkpoint(int(min(max(0, t // GEN_BLOCK_US), self._blocks - 1)))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


class Viewer:
    """A MainWindow with hooks that log each frame drawn and each result received."""

    def __init__(self, pipelines: list, kiosk: bool = False, log: bool = True) -> None:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        from spikesight.app.main_window import MainWindow
        from spikesight.app.theme import apply_dark_theme

        self.app = QApplication.instance() or QApplication([])
        apply_dark_theme(self.app)
        self._tmp = tempfile.TemporaryDirectory()
        settings = QSettings(str(Path(self._tmp.name) / "settings.ini"), QSettings.Format.IniFormat)
        self.win = win = MainWindow(pipelines, settings=settings, kiosk=kiosk)
        if kiosk:
            win.setGeometry(self.app.primaryScreen().geometry())
            win.showFullScreen()
        else:
            win.resize(1280, 800)
            win.show()
        self.draws: list[tuple[float, int, int]] = []  # (wall, t_end, epoch)
        self.results: list[tuple[float, float, int]] = []  # (wall, step latency s, lag µs of event time)
        self.loops = self.n_draws = self.n_results = 0
        draw, route = win.event_view.set_frame, win._route

        def set_frame(frame) -> None:
            draw(frame)
            self.n_draws += 1
            if log or not self.draws:
                self.draws.append((time.monotonic(), frame.t_end, frame.epoch))

        def on_result(r) -> None:
            route(r)
            self.n_results += 1
            if log:
                self.results.append((time.monotonic(), r.latency_s, win.model.position - r.t_end))

        win.event_view.set_frame = set_frame
        win._route = on_result
        win.worker.looped.connect(self._looped)

    def _looped(self) -> None:
        self.loops += 1

    def pump(self, seconds: float) -> None:
        from PySide6.QtCore import QEventLoop, QTimer

        loop = QEventLoop()
        QTimer.singleShot(int(seconds * 1000), loop.quit)
        loop.exec()

    def open(self, uri: str, factory: Callable[[], EventSource] | None = None, timeout: float = 60.0) -> None:
        self.win.open_source(uri, factory=factory)
        deadline = time.monotonic() + timeout
        while not (self.win.model.seekable and self.draws):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{uri} did not open within {timeout:g} s")
            self.pump(0.05)

    def close(self) -> None:
        from spikesight.app.launch import dispose

        self.win.shutdown()
        self.win.close()
        dispose(self.win)
        self._tmp.cleanup()


def play_run(name: str, uri: str, factory: Callable[[], EventSource] | None, pipelines: list,
             seconds: float, warmup: float = 1.5, every_window: bool = False) -> dict:
    """Replay at 1x, display asked at 30 FPS, looping; measure over ``seconds`` after ``warmup``.
    ``every_window``: the replay waits for the pipeline (else windows it has no time for drop)."""
    v = Viewer(pipelines)
    m = v.win.model
    m.speed, m.fastest, m.display_fps, m.loop = 1.0, False, TARGET_FPS, True
    m.every_window = every_window
    m.panels = frozenset(m.panels) | {"detection", "network"}
    v.open(uri, factory)
    m.play()
    v.pump(warmup)
    t0, cpu0 = time.monotonic(), time.process_time()
    dropped0, windows0 = v.win.worker.dropped_frames, v.win.worker.dropped_windows
    v.pump(seconds)
    wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
    dropped, dropped_windows = v.win.worker.dropped_frames - dropped0, v.win.worker.dropped_windows - windows0
    draws = [d for d in v.draws if d[0] >= t0]
    results = [r for r in v.results if r[0] >= t0]
    v.close()
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(draws)]
    same = [(b[1] - a[1], b[0] - a[0]) for a, b in itertools.pairwise(draws) if a[2] == b[2]]
    d_wall = sum(w for _, w in same)
    lat = [1e3 * r[1] for r in results]
    lag = [r[2] / 1e3 for r in results]
    return {
        "name": name, "pipelines": [p.task for p in pipelines], "every_window": every_window, "seconds": wall,
        "fps_asked": TARGET_FPS, "fps_shown": len(draws) / wall,
        "frame_gap_ms_p95": 1e3 * _pct(gaps, 0.95) if gaps else None,
        "frame_gap_ms_max": 1e3 * max(gaps) if gaps else None,
        "speedup": sum(t for t, _ in same) / 1e6 / d_wall if d_wall > 0 else None,
        "frames_dropped": dropped, "windows_dropped": dropped_windows,
        "windows_done": len(results), "windows_per_s": len(results) / wall,
        "latency_ms_median": statistics.median(lat) if lat else None,
        "latency_ms_p95": _pct(lat, 0.95), "latency_ms_max": max(lat) if lat else None,
        "result_lag_ms_median": statistics.median(lag) if lag else None,
        "cpu_cores_used": cpu / wall,
    }


def _buffers(win) -> dict:
    """How full the app's bounded buffers are now (what could grow in a kiosk)."""
    engine = win.worker.engine
    stage = engine._stage if engine is not None else None
    outbox = win.worker.outbox
    return {
        "outbox_frames": len(outbox) if outbox is not None else 0,
        "outbox_results": len(outbox._results) if outbox is not None else 0,
        "pipeline_queue": stage.queued if stage is not None else 0,
        "raster_results": len(win.network_panel.history.results),
        "rate_points": len(win.stats.rates),
        "shown_points": len(win.stats._shown),
        "monitor_records": sum(len(p._monitor.records) for p in win.pipelines
                               if getattr(p, "_monitor", None) is not None),
    }


def kiosk_run(seconds: float, speed: str, with_pipeline: bool) -> dict:
    """Kiosk mode looping the demo at ``speed`` (a factor or "max") for ``seconds`` of wall time.

    VmRSS before anything opens, once the pipeline is loaded, at the end of start-up (the stream
    open, the pipeline warmed up, the first frame drawn) and each second after it; the growth is
    measured from the end of start-up."""
    import gc

    from PySide6.QtCore import QTimer

    rss_before = rss_mb()
    pipelines = [stand_in_pipeline(304, 240)] if with_pipeline else []
    rss_loaded = rss_mb()
    v = Viewer(pipelines, kiosk=True, log=False)  # counters only: a growing log would grow the RSS
    m = v.win.model
    if speed == "max":
        m.fastest = True
    else:
        m.speed, m.fastest = float(speed), False
    m.display_fps = TARGET_FPS
    t_open = time.monotonic()
    v.open(str(DEMO))
    startup_s = time.monotonic() - t_open
    gc.collect()
    objects_startup = len(gc.get_objects())
    samples: list[tuple[float, float]] = []
    t0 = time.monotonic()
    sampler = QTimer()
    sampler.timeout.connect(lambda: samples.append((time.monotonic() - t0, rss_mb())))
    sampler.start(1000)
    samples.append((0.0, rss_mb()))
    draws0, results0 = v.n_draws, v.n_results
    v.pump(seconds)
    sampler.stop()
    samples.append((time.monotonic() - t0, rss_mb()))
    wall = time.monotonic() - t0
    buffers = _buffers(v.win)
    gc.collect()
    objects_end = len(gc.get_objects())
    out = {
        "speed": speed, "pipelines": [p.task for p in pipelines], "seconds": wall, "startup_s": startup_s,
        "loops": v.loops, "restarts": v.win.restarts, "frames_shown": v.n_draws - draws0,
        "frames_dropped": v.win.worker.dropped_frames, "windows_done": v.n_results - results0,
        "windows_dropped": v.win.worker.dropped_windows,
        "rss_before_open_mb": rss_before, "rss_pipeline_loaded_mb": rss_loaded,
        "buffers_at_end": buffers,
        "python_objects_startup": objects_startup, "python_objects_end": objects_end,
    }
    v.close()
    rss = [r for _, r in samples]
    ts = [t for t, _ in samples]
    half = [(t, r) for t, r in samples if t >= wall / 2]

    def slope(points: list[tuple[float, float]]) -> float | None:
        if len(points) < 3:
            return None
        return 60 * float(np.polyfit([t for t, _ in points], [r for _, r in points], 1)[0])

    out.update({"rss_startup_mb": rss[0], "rss_min_mb": min(rss), "rss_max_mb": max(rss),
                "rss_end_mb": rss[-1],
                "growth_mb": rss[-1] - rss[0], "max_over_startup_mb": max(rss) - rss[0],
                "max_minus_min_mb": max(rss) - min(rss),
                "slope_mb_per_min": slope(list(zip(ts, rss, strict=True))),
                "slope_second_half_mb_per_min": slope(half),
                "flat_within_target": max(rss) - min(rss) <= TARGET_GROWTH_MB,
                "rss_samples": [[round(t, 2), round(r, 1)] for t, r in samples]})
    return out


def kiosk_in_child(args: argparse.Namespace) -> dict:
    """:func:`kiosk_run` in a fresh process of this script, so the replays before it leave
    nothing in its RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "kiosk.json"
        cmd = [sys.executable, __file__, "--kiosk-child", str(out), "--kiosk-seconds",
               str(args.kiosk_seconds), "--kiosk-speed", args.kiosk_speed, "--pipeline", args.pipeline]
        if args.kiosk_no_pipeline:
            cmd.append("--kiosk-no-pipeline")
        subprocess.run(cmd, check=True, timeout=args.kiosk_seconds + 300)
        return json.loads(out.read_text())


def floor_cost(name: str, source: EventSource, frames: int, accumulation_us: int = 20_000,
               period_us: int = 33_333) -> dict:
    """ms per frame of render_frame (the floor) and the app's render, over ``frames`` windows."""
    from spikesight.app.render import render
    from spikesight.io.video import render_frame

    info = source.info
    start = int(source.first_timestamp())
    windows = []
    for k in range(frames):
        t_end = start + (k + 1) * period_us
        source.seek(t_end - accumulation_us)
        s = source.next_slice(delta_t=accumulation_us)
        windows.append((t_end, s.events if s is not None else np.empty(0, EVENT_DTYPE)))
    t0 = time.perf_counter()
    for _, ev in windows:
        render_frame(ev, info.width, info.height)
    floor = (time.perf_counter() - t0) / frames
    render(windows[0][1], info.width, info.height, windows[0][0], accumulation_us)  # compile (numba)
    t0 = time.perf_counter()
    for t_end, ev in windows:
        render(ev, info.width, info.height, t_end, accumulation_us)
    ours = (time.perf_counter() - t0) / frames
    return {"name": name, "frames": frames, "events_per_frame": float(np.mean([len(e) for _, e in windows])),
            "render_frame_ms": 1e3 * floor, "app_render_ms": 1e3 * ours,
            "render_frame_max_fps": 1.0 / floor if floor > 0 else None}


def _f(v, fmt: str = ".1f") -> str:
    return "-" if v is None else format(v, fmt)


def _kiosk_report(k: dict) -> None:
    print(f"  start-up {k['startup_s']:.1f} s (open, pipeline warm-up, first frame); RSS before anything"
          f" {k['rss_before_open_mb']:.0f} MB, pipeline loaded {k['rss_pipeline_loaded_mb']:.0f} MB,"
          f" end of start-up {k['rss_startup_mb']:.0f} MB")
    print(f"  after start-up: min {k['rss_min_mb']:.0f} MB, max {k['rss_max_mb']:.0f} MB, end"
          f" {k['rss_end_mb']:.0f} MB: growth {k['growth_mb']:+.1f} MB,"
          f" max-min {k['max_minus_min_mb']:.1f} MB"
          f" ({'within' if k['flat_within_target'] else 'OVER'} the {TARGET_GROWTH_MB:g} MB target);"
          f" slope {_f(k['slope_mb_per_min'], '+.2f')} MB/min over the run,"
          f" {_f(k['slope_second_half_mb_per_min'], '+.2f')} MB/min over its second half")
    print(f"  {k['loops']} loops, {k['restarts']} restarts, {k['frames_shown']} frames shown,"
          f" {k['frames_dropped']} dropped, {k['windows_done']} windows done, {k['windows_dropped']} dropped;"
          f" Python objects {k['python_objects_startup']:,} -> {k['python_objects_end']:,}")
    print("  bounded buffers at the end: "
          + ", ".join(f"{name} {n}" for name, n in k["buffers_at_end"].items()))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0,
                   help="measured seconds per 1x replay (default %(default)s)")
    p.add_argument("--rate", type=float, default=10.0, help="Mev/s of the generated stream (default 10)")
    p.add_argument("--kiosk-seconds", type=float, default=120.0,
                   help="wall seconds of kiosk looping (default %(default)s)")
    p.add_argument("--kiosk-minutes", type=float,
                   help="wall minutes of kiosk looping instead (10: the issue's 10 minutes of looping)")
    p.add_argument("--kiosk-speed", default="20", help='replay factor while kiosk-looping, or "max"')
    p.add_argument("--kiosk-no-pipeline", action="store_true",
                   help="kiosk-loop without the pipeline")
    p.add_argument("--kiosk-only", action="store_true",
                   help="run only the kiosk measurement and replace the kiosk entry of --out")
    p.add_argument("--pipeline", choices=("stand-in", "shipped"), default="stand-in",
                   help="the untrained stand-in (default) or the shipped detector (detect_tiny)")
    p.add_argument("--kiosk-child", metavar="JSON", help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(Path(__file__).with_name("results") / "app.json"))
    args = p.parse_args()
    if args.kiosk_minutes is not None:
        args.kiosk_seconds = 60 * args.kiosk_minutes
    if args.pipeline == "shipped":
        os.environ["SPIKESIGHT_BENCH_PIPELINE"] = "shipped"
    if args.kiosk_speed != "max":
        float(args.kiosk_speed)
    if args.kiosk_child:
        k = kiosk_run(args.kiosk_seconds, args.kiosk_speed, not args.kiosk_no_pipeline)
        Path(args.kiosk_child).write_text(json.dumps(k))
        return 0

    from PySide6.QtWidgets import QApplication

    from spikesight.io import open_source

    app = QApplication.instance() or QApplication([])
    machine = {"node": platform.node(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "qt_platform": app.platformName(), "malloc_thresholds_set": ALLOCATOR_TUNED}
    print(f"bench/app.py on {machine['node']} ({machine['cpus']} CPUs, Qt platform {machine['qt_platform']});"
          " GUI, player and pipeline threads share the CPUs: numbers are noisy on a loaded machine")
    pipeline_name = ("the shipped detector detect_tiny (integer mode on a CPU, spike monitor on,"
                     " 1 torch thread)"
                     if args.pipeline == "shipped" else
                     "the UNTRAINED stand-in detection pipeline of tools/demo_pipelines.py (50 ms windows)")
    print("pipeline: " + pipeline_name)
    out = Path(args.out)
    kiosk_title = (f"\n3. kiosk looping the demo at {args.kiosk_speed}"
                   f"{'' if args.kiosk_speed == 'max' else 'x'} for {args.kiosk_seconds:g} s"
                   f" (pipeline {'off' if args.kiosk_no_pipeline else 'on'}), VmRSS each second")
    if args.kiosk_only:
        print(kiosk_title)
        k = kiosk_in_child(args)
        _kiosk_report(k)
        result = json.loads(out.read_text()) if out.exists() else {"machine": machine}
        result["kiosk"] = k
        result["kiosk_pipeline"] = pipeline_name
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote the kiosk entry of {out}")
        return 0

    rate = args.rate * 1e6
    gen_us = int((args.seconds + 5) * 1e6)

    def generated() -> GeneratedSource:
        return GeneratedSource(rate, gen_us)

    runs = [
        play_run("demo 1x", str(DEMO), None, [stand_in_pipeline(304, 240)], args.seconds),
        play_run("demo 1x, every window", str(DEMO), None, [stand_in_pipeline(304, 240)], args.seconds,
                 every_window=True),
        play_run(f"{args.rate:g} Mev/s 1x", "generated", generated, [stand_in_pipeline(GEN_W, GEN_H)],
                 args.seconds),
        play_run(f"{args.rate:g} Mev/s 1x, every window", "generated", generated,
                 [stand_in_pipeline(GEN_W, GEN_H)], args.seconds, every_window=True),
        play_run(f"{args.rate:g} Mev/s 1x, no pipeline", "generated", generated, [], args.seconds),
    ]
    print(f"\n1-2. replay at 1x, display asked {TARGET_FPS:g} FPS, {args.seconds:g} s each"
          " (latency: the pipeline's step per window; lag: event time of the frame on display minus\n"
          "  the window's end when its result reaches the GUI, negative when it is ready before that frame;\n"
          "  real time by default: windows the pipeline has no time for are dropped (win drop);\n"
          "  \"every window\" makes the replay wait for the pipeline instead, so a slow pipeline slows it)")
    head = (f"{'run':<33}{'FPS':>6}{'speed-up':>9}{'gap p95':>9}{'dropped':>8}{'win/s':>7}{'win drop':>9}"
            f"{'lat med':>9}{'lat p95':>9}{'lag med':>9}{'cores':>6}")
    print(head)
    print("-" * len(head))
    for r in runs:
        print(f"{r['name']:<33}{r['fps_shown']:>6.1f}{_f(r['speedup'], '.2f'):>8}x"
              f"{_f(r['frame_gap_ms_p95']):>7}ms"
              f"{r['frames_dropped']:>8}{r['windows_per_s']:>7.1f}{r['windows_dropped']:>9}"
              f"{_f(r['latency_ms_median']):>7}ms"
              f"{_f(r['latency_ms_p95']):>7}ms{_f(r['result_lag_ms_median']):>7}ms{r['cpu_cores_used']:>6.2f}")

    floors = [floor_cost("demo (304x240)", open_source(str(DEMO)), 200),
              floor_cost(f"{args.rate:g} Mev/s ({GEN_W}x{GEN_H})", GeneratedSource(rate, 8_000_000), 100)]
    print("\nfloor (no peer viewer is pip-installable): pure-numpy render_frame per frame,"
          " 20 ms accumulation")
    for f in floors:
        print(f"  {f['name']:<26} {f['events_per_frame']:>9,.0f} ev/frame"
              f"  render_frame {f['render_frame_ms']:.2f} ms"
              f" (max {f['render_frame_max_fps']:.0f} FPS)   app render {f['app_render_ms']:.2f} ms")

    print(kiosk_title)
    k = kiosk_in_child(args)
    _kiosk_report(k)
    demo = runs[0]
    print(f"\ntargets: {TARGET_FPS:g} FPS display (demo 1x: {demo['fps_shown']:.1f};"
          f" {runs[2]['name']}: {runs[2]['fps_shown']:.1f}); memory flat within {TARGET_GROWTH_MB:g} MB"
          f" (max-min {k['max_minus_min_mb']:.1f} MB over {k['seconds']:.0f} s after start-up)")

    result = {"machine": machine, "pipeline": pipeline_name,
              "peer": "none: no pip-installable event viewer with a comparable API; floor is "
                      "spikesight.io.video.render_frame",
              "targets": {"display_fps": TARGET_FPS, "memory_growth_mb": TARGET_GROWTH_MB},
              "replay": runs, "floor": floors, "kiosk": k, "kiosk_pipeline": pipeline_name}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
