"""The ``spikesight`` command: inspect, convert and render event files."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence

import numpy as np

from .io import EventFormatError, open_source, open_writer
from .io.timeparse import parse_time_us

log = logging.getLogger("spikesight")


def _progress(total: int | None, unit: str, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, disable=quiet, unit_scale=True, leave=False)


def stream_summary(uri: str, quiet: bool = True, **open_kwargs) -> dict:
    """One pass over a stream: what ``spikesight info`` prints."""
    with open_source(uri, **open_kwargs) as src:
        info = src.info
        n = on = 0
        first = last = None
        with _progress(None, "ev", "reading", quiet) as bar:
            for ev in src:
                if not len(ev):
                    continue
                n += len(ev)
                on += int(np.count_nonzero(ev["p"]))
                if first is None:
                    first = int(ev["t"][0])
                last = int(ev["t"][-1]) if last is None else max(last, int(ev["t"][-1]))
                bar.update(len(ev))
        duration = (last - first) if first is not None else 0
        return {
            "path": info.path or uri,
            "format": info.format,
            "width": info.width,
            "height": info.height,
            "event_count": n,
            "first_timestamp_us": first,
            "last_timestamp_us": last,
            "duration_us": duration,
            "event_rate_ev_per_s": (n / (duration / 1e6)) if duration > 0 else None,
            "on_fraction": (on / n) if n else None,
            "triggers": len(src.triggers),
            "skipped": dict(src.stats.skipped),
            "other": dict(src.stats.other),
            "metadata": dict(info.metadata),
        }


def _print_summary(s: dict) -> None:
    rate = s["event_rate_ev_per_s"]
    rows = [
        ("file", s["path"]),
        ("format", s["format"]),
        ("geometry", f"{s['width']}x{s['height']}"),
        ("events", f"{s['event_count']:,}"),
        ("first timestamp", f"{s['first_timestamp_us']} µs"),
        ("last timestamp", f"{s['last_timestamp_us']} µs"),
        ("duration", f"{s['duration_us'] / 1e6:.6f} s"),
        ("event rate", "n/a" if rate is None else f"{rate / 1e6:.3f} Mev/s"),
        ("polarity", "n/a" if s["on_fraction"] is None
         else f"{100 * s['on_fraction']:.1f}% ON / {100 * (1 - s['on_fraction']):.1f}% OFF"),
        ("triggers", str(s["triggers"])),
    ]
    if s["skipped"]:
        rows.append(("skipped", ", ".join(f"{k}: {v}" for k, v in s["skipped"].items())))
    if s["other"]:
        rows.append(("other content", ", ".join(f"{k}: {v}" for k, v in s["other"].items())))
    rows += [(f"  {k}", str(v)) for k, v in s["metadata"].items()]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")


def _open_kwargs(args: argparse.Namespace) -> dict:
    kw: dict = {}
    if getattr(args, "lenient", False):
        kw["strict"] = False
    if getattr(args, "input_format", None):
        kw["format"] = args.input_format
    if getattr(args, "geometry", None):
        w, _, h = args.geometry.lower().partition("x")
        kw["geometry"] = (int(w), int(h))
    return kw


def cmd_info(args: argparse.Namespace) -> int:
    s = stream_summary(args.file, quiet=args.quiet or args.json, **_open_kwargs(args))
    if args.json:
        print(json.dumps(s, indent=2))
    else:
        _print_summary(s)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    start = parse_time_us(args.start) if args.start is not None else None
    end = parse_time_us(args.end) if args.end is not None else None
    with open_source(args.input, **_open_kwargs(args)) as src:
        if start is not None:
            src.seek(start)
        total = (end - start) if (end is not None and start is not None) else None
        with open_writer(args.output, src.info.width, src.info.height, format=args.format) as w, \
                _progress(total, "µs", "converting", args.quiet) as bar:
            t_prev = start
            for ev in src:
                if end is not None and len(ev) and ev["t"][-1] >= end:
                    ev = ev[: np.searchsorted(ev["t"], end, side="left")]
                    w.write(ev)
                    break
                w.write(ev)
                if len(ev):
                    t_now = int(ev["t"][-1])
                    bar.update(t_now - (t_prev if t_prev is not None else int(ev["t"][0])))
                    t_prev = t_now
            trig = src.triggers
            if len(trig):
                if start is not None:
                    trig = trig[trig["t"] >= start]
                if end is not None:
                    trig = trig[trig["t"] < end]
                try:
                    w.write_triggers(trig)
                except ValueError:
                    log.warning("%s cannot hold external triggers: %d triggers not written",
                                args.output, len(trig))
        if src.stats.total_skipped:
            log.warning("skipped %s", src.stats.skipped)
        log.info("wrote %d events to %s", w.count, args.output)
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .io.video import FrameClock, render_video

    clock = FrameClock(fps=args.fps, accumulation=int(round(args.accumulation_ms * 1000)))
    end = parse_time_us(args.end) if args.end is not None else None
    with open_source(args.file, **_open_kwargs(args)) as src:
        if args.start is not None:
            src.seek(parse_time_us(args.start))
        with _progress(None, "frame", "rendering", args.quiet) as bar:
            n = render_video(src, args.output, clock, palette=args.palette, end=end,
                             progress=lambda _t: bar.update(1))
    log.info("wrote %d frames to %s", n, args.output)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    from .app.launch import run_namespace

    return run_namespace(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikesight", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = p.add_subparsers(dest="command", required=True)

    def source_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--lenient", action="store_true",
                        help="skip bad words and report them instead of failing")
        sp.add_argument("--input-format", help="force the input format (see `spikesight formats`)")
        sp.add_argument("--geometry", help="WIDTHxHEIGHT for files that do not say (old RAW files)")
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    sp = sub.add_parser("info", help="format, geometry, duration, counts and rates of an event file")
    sp.add_argument("file")
    sp.add_argument("--json", action="store_true", help="print JSON")
    source_opts(sp)
    sp.set_defaults(func=cmd_info)

    sp = sub.add_parser("convert", help="convert between event formats, streaming")
    sp.add_argument("input")
    sp.add_argument("output")
    sp.add_argument("--start", help="first time to keep (µs, or with s/ms/us)")
    sp.add_argument("--end", help="first time to drop (µs, or with s/ms/us)")
    sp.add_argument("--format", help="output format name (default: from the extension)")
    source_opts(sp)
    sp.set_defaults(func=cmd_convert)

    sp = sub.add_parser("render", help="render an accumulated event video (mp4)")
    sp.add_argument("file")
    sp.add_argument("output")
    sp.add_argument("--accumulation-ms", type=float, default=10.0, help="accumulation time per frame (ms)")
    sp.add_argument("--fps", type=float, default=30.0, help="frames per second of event time")
    sp.add_argument("--palette", default="dark", choices=["dark", "light", "coolwarm", "gray"])
    sp.add_argument("--start", help="start time (µs, or with s/ms/us)")
    sp.add_argument("--end", help="end time (µs, or with s/ms/us)")
    source_opts(sp)
    sp.set_defaults(func=cmd_render)

    from .app.launch import build_parser as app_parser  # imports no Qt

    sp = sub.add_parser("app", parents=[app_parser(add_help=False)], help="open the event viewer (Qt)")
    sp.set_defaults(func=cmd_app)

    sp = sub.add_parser("formats", help="list the file formats and what can be written")
    sp.set_defaults(func=cmd_formats)

    from .app.journal import add_recover_parser
    from .io.live.cli import add_devices_parser
    from .io.sim.cli import add_simulate_parser
    from .perception.depth.cli import add_depth_parser
    from .perception.detection.cli import add_detect_parser
    from .perception.gesture.cli import add_gesture_parser
    from .perception.training.cli import add_training_parsers

    add_simulate_parser(sub)
    add_devices_parser(sub)
    add_recover_parser(sub)
    add_training_parsers(sub)
    add_detect_parser(sub)
    add_depth_parser(sub)
    add_gesture_parser(sub)
    return p


def cmd_formats(args: argparse.Namespace) -> int:
    from .io import FORMATS

    for spec in FORMATS.values():
        rw = "read" + ("/write" if spec.writer else "")
        print(f"{spec.name:<8} {rw:<11} {' '.join(spec.extensions):<14} {spec.description}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # OpenMP threads that spin while waiting starve each other (and the GUI) on a shared CPU:
    # measured 10-20x slower windows with 2 torch threads on a loaded 2-core machine.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except (EventFormatError, FileNotFoundError, ValueError) as exc:
        print(f"spikesight: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
