"""``spikesight gesture FILE``: recognise gestures in any readable event file, headless.

Runs :class:`~.pipeline.GesturePipeline` over the file in steps of ``--every`` ms and writes one
CSV row per decision (a step whose top class probability reaches ``--confidence``)::

    t_usec,class,confidence
    1250000,4,0.9132

``t_usec`` is the end of the window the decision covers, ``class`` the DVS128 Gesture id (1-11).
With ``--labels LABELS.csv`` (the dataset's ``class,startTime_usec,endTime_usec``) it also prints
the accuracy per segment: a segment's answer is the class decided most often by the decisions
whose window ends inside it (ties: the larger summed confidence); a segment without a decision
counts as wrong. :func:`add_gesture_parser` adds the command to the ``spikesight`` parser.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ..weights import DEFAULT_WEIGHTS as SHIPPED

if TYPE_CHECKING:
    from .pipeline import GesturePipeline

log = logging.getLogger("spikesight")

CSV_HEADER = ("t_usec", "class", "confidence")


@dataclass(frozen=True)
class Decision:
    """One CSV row: the window end (µs), the DVS128 class id (1-11), the top probability."""

    t_usec: int
    class_id: int
    confidence: float


@dataclass(frozen=True)
class SegmentScore:
    """A labelled segment (class id 1-11, ``[start, end)`` µs) and what the decisions inside it said."""

    class_id: int
    start: int
    end: int
    predicted: int | None
    decisions: int

    @property
    def right(self) -> bool:
        return self.predicted == self.class_id


def score_segments(
    decisions: Sequence[Decision], segments: Sequence[tuple[int, int, int]]
) -> list[SegmentScore]:
    """Per ``(class id, start, end)`` segment: the majority class of the decisions with
    ``start <= t_usec < end`` (ties: larger summed confidence, then the smaller id)."""
    out = []
    for cls, start, end in segments:
        inside = [d for d in decisions if start <= d.t_usec < end]
        votes: dict[int, tuple[int, float]] = {}
        for d in inside:
            n, c = votes.get(d.class_id, (0, 0.0))
            votes[d.class_id] = (n + 1, c + d.confidence)
        predicted = min(votes, key=lambda k: (-votes[k][0], -votes[k][1], k)) if votes else None
        out.append(SegmentScore(cls, start, end, predicted, len(inside)))
    return out


def _write_csv(f: TextIO, decisions: Sequence[Decision]) -> None:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for d in decisions:
        w.writerow((d.t_usec, d.class_id, f"{d.confidence:.4f}"))


def run_file(path: str | Path, pipeline: GesturePipeline, quiet: bool = True) -> list[Decision]:
    """Step ``pipeline`` over the file in slices of ``pipeline.window_us``; the confident decisions."""
    from tqdm import tqdm

    from spikesight.io import open_source

    decisions = []
    with open_source(path) as src:
        duration = src.info.duration
        total = duration / 1e6 if duration else None
        with tqdm(total=total, unit="s", desc="recognising", disable=quiet, leave=False,
                  bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} s") as bar:
            for s in src.windows(delta_t=pipeline.window_us):
                out = pipeline.step(s.events, s.t_start, s.t_end).output
                if out.decided is not None:
                    decisions.append(Decision(s.t_end, out.decided_id, out.confidence))
                bar.update((s.t_end - s.t_start) / 1e6)
    return decisions


def _print_scores(scores: Sequence[SegmentScore], names: dict[int, str], out: TextIO) -> None:
    print(f"{'segment':>7s} {'class':>24s} {'start µs':>12s} {'end µs':>12s} {'decided':>24s} "
          f"{'decisions':>9s}  right", file=out)
    for i, s in enumerate(scores, start=1):
        pred = "-" if s.predicted is None else f"{s.predicted} {names.get(s.predicted, '?')}"
        truth = f"{s.class_id} {names.get(s.class_id, '?')}"
        print(f"{i:7d} {truth:>24s} {s.start:12d} {s.end:12d} {pred:>24s} {s.decisions:9d}  "
              f"{'yes' if s.right else 'no'}", file=out)
    right = sum(s.right for s in scores)
    n = len(scores)
    pct = f"{100 * right / n:.1f}%" if n else "n/a"
    print(f"accuracy per segment: {right}/{n} = {pct}", file=out)


def cmd_gesture(args: argparse.Namespace) -> int:
    from spikesight.io import open_source

    from ..data.dvs_gesture import read_labels
    from .pipeline import GesturePipeline

    if not Path(args.file).exists():
        raise FileNotFoundError(args.file)
    segments = None
    if args.labels is not None:
        segments = [(s.label + 1, s.start, s.end) for s in read_labels(args.labels, args.file)]
    with open_source(args.file) as src:
        size = (src.info.width or 128, src.info.height or 128)
    pipeline = GesturePipeline(
        args.weights,
        drop_threshold=args.drop_threshold,
        drop_fraction=args.drop_fraction,
        confidence=args.confidence,
        dropping=not args.no_drop,
        every_ms=args.every,
        sensor_size=size,
        monitor=False,
    )
    decisions = run_file(args.file, pipeline, args.quiet)
    if args.out is not None:
        with open(args.out, "w", newline="") as f:
            _write_csv(f, decisions)
        log.info("wrote %d decisions to %s", len(decisions), args.out)
    else:
        _write_csv(sys.stdout, decisions)
    if segments is not None:
        names = dict(zip(pipeline.class_ids, pipeline.class_names, strict=True))
        _print_scores(score_segments(decisions, segments), names, sys.stdout if args.out else sys.stderr)
    return 0


def add_gesture_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``gesture FILE [--weights] [--out] [--labels] [--every] [-q]`` to a subparsers action."""
    DEFAULT_WEIGHTS = SHIPPED["gesture"]

    p = subparsers.add_parser("gesture", help="recognise DVS128 gestures in an event file (CSV of decisions)")
    p.add_argument("file", help="event file (any readable format; DVS128 geometry expected)")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS,
                   help=f"weights name or .pt path (default {DEFAULT_WEIGHTS})")
    p.add_argument("--out", type=Path, help="CSV of decisions (default: standard output)")
    p.add_argument("--labels", type=Path, help="the recording's labels CSV: print the accuracy per segment")
    p.add_argument("--every", type=float, default=50.0, help="ms between decisions (default 50)")
    p.add_argument("--confidence", type=float, default=0.6,
                   help="top probability needed to decide (default 0.6; 0: a row every step)")
    drop = p.add_mutually_exclusive_group()
    drop.add_argument("--drop-threshold", type=float,
                      help="drop frames scored under this (default: the weights' threshold)")
    drop.add_argument("--drop-fraction", type=float, help="drop this fraction of each window's frames")
    drop.add_argument("--no-drop", action="store_true", help="compute every frame")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_gesture)
    return p
