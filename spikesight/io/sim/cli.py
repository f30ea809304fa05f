"""``spikesight simulate``: write synthetic datasets (and the demo recording) from the command line.

``spikesight simulate detection|depth OUT --duration SECONDS --seed N`` (detection also takes
``--pedestrians RATE``, a multiplier of the pedestrian spawn rates),
``spikesight simulate gesture OUT --count N --seed N``, ``spikesight simulate demo OUT`` (the bundled
demo recording) and ``spikesight simulate gallery OUT`` (pictures of the scenes).
:func:`add_simulate_parser` adds the command to the ``spikesight`` parser.
"""

from __future__ import annotations

import argparse
import functools
import logging
import math

log = logging.getLogger("spikesight")


def _bar(total: int | None, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="simulating", disable=quiet, unit_scale=True, leave=False)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _command(args: argparse.Namespace) -> str:
    parts = ["spikesight simulate", args.scene, args.out]
    if args.scene == "gesture":
        parts.append(f"--count {args.count}")
    else:
        parts.append(f"--duration {args.duration:g}")
        if args.clip_seconds != 10.0:
            parts.append(f"--clip-seconds {args.clip_seconds:g}")
        if getattr(args, "pedestrians", 1.0) != 1.0:
            parts.append(f"--pedestrians {args.pedestrians:g}")
    parts.append(f"--seed {args.seed}")
    if args.fps != 200.0:
        parts.append(f"--fps {args.fps:g}")
    return " ".join(parts)


def cmd_simulate(args: argparse.Namespace) -> int:
    from . import datasets
    from .demo import write_demo

    if args.scene == "gallery":
        from .gallery import write_gallery

        for path in write_gallery(args.out):
            log.info("wrote %s", path)
        return 0
    if args.scene == "demo":
        with _bar(None, args.quiet) as bar:
            info = write_demo(args.out, seed=args.seed, duration=args.duration, progress=bar.update)
        log.info(
            "wrote %s (%d events) and %s (%d boxes)",
            info["events"],
            info["event_count"],
            info["boxes"],
            info["box_count"],
        )
        return 0
    command = _command(args)
    if args.scene == "gesture":
        with _bar(None, args.quiet) as bar:
            results = datasets.gesture_dataset(
                args.out, args.count, args.seed, fps=args.fps, progress=bar.update, command=command
            )
    else:
        if args.scene == "detection":
            write = functools.partial(datasets.detection_dataset, pedestrian_rate=args.pedestrians)
        else:
            write = datasets.depth_dataset
        with _bar(int(args.duration * args.fps) + 3, args.quiet) as bar:
            results = write(
                args.out,
                args.duration,
                args.seed,
                clip_seconds=args.clip_seconds,
                fps=args.fps,
                progress=bar.update,
                command=command,
            )
    events = sum(r["event_count"] for r in results)
    log.info("wrote %d recordings (%d events) and a README to %s", len(results), events, args.out)
    return 0


def add_simulate_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``simulate`` (with ``detection``, ``depth``, ``gesture`` and ``demo``) to a subparsers action."""
    sp = subparsers.add_parser("simulate", help="write a synthetic dataset with ground truth (or the demo)")
    scenes = sp.add_subparsers(dest="scene", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("out", help="output folder")
        p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
        p.add_argument("--fps", type=float, default=200.0, help="rendered frames per second (default 200)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    for name, what in (
        ("detection", "street scenes with car and pedestrian boxes (Gen1 layout)"),
        ("depth", "street scenes with dense metric depth (MVSEC layout)"),
    ):
        p = scenes.add_parser(name, help=what)
        common(p)
        p.add_argument("--duration", type=float, default=30.0, help="seconds in all (default 30)")
        p.add_argument(
            "--clip-seconds",
            type=float,
            default=10.0,
            help="longest recording (default 10); at least 3 recordings, for the split",
        )
        if name == "detection":
            p.add_argument(
                "--pedestrians",
                type=_positive,
                default=1.0,
                help="multiply the spawn rates of pedestrians (sidewalks and zebra crossings), "
                "to balance car and pedestrian boxes (default 1)",
            )
    p = scenes.add_parser("gesture", help="the 11 DVS128 Gesture classes (AEDAT 3.1 + labels)")
    common(p)
    p.add_argument(
        "--count", type=int, default=33, help="gesture samples, balanced over the classes (default 33)"
    )
    p = scenes.add_parser("demo", help="the bundled demo recording (EVT 3.0 RAW + boxes)")
    p.add_argument("out", help="output folder")
    p.add_argument("--seed", type=int, default=None, help="seed (default: the bundled demo's)")
    p.add_argument("--duration", type=float, default=None, help="seconds (default: the bundled demo's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p = scenes.add_parser("gallery", help="pictures of each scene family (PNG, for the documentation)")
    p.add_argument("out", help="output folder")
    sp.set_defaults(func=cmd_simulate)
    return sp
