"""Pictures of the shipped detector on the demo recording for the README: events of the input
window, ground truth (thin green) and detections (class colours), at a few label times.

    .venv/bin/python tools/detection_pictures.py docs/detection/demo.png --times 2.5 5.0 7.5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from spikesight.io import read_events
from spikesight.io.bbox import filter_boxes, read_boxes
from spikesight.io.video import render_frame
from spikesight.perception.detection.cli import draw_detections
from spikesight.perception.detection.pipeline import DetectionPipeline

DEMO = Path(__file__).resolve().parents[1] / "spikesight" / "assets" / "demo"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--weights", default="detect_tiny")
    p.add_argument("--times", type=float, nargs="+", default=[2.5, 5.0, 7.5], help="seconds")
    p.add_argument("--scale", type=int, default=3)
    args = p.parse_args()
    events = read_events(DEMO / "street.raw")
    boxes = filter_boxes(read_boxes(DEMO / "street_bbox.npy"), 304, 240)
    labels = np.unique(boxes["t"])
    pipe = DetectionPipeline(args.weights, spike_driven=False, monitor=False)
    tiles = []
    for s in args.times:
        t = int(labels[np.argmin(np.abs(labels - s * 1e6))])
        t0 = t - pipe.input.window_us
        sel = events[(events["t"] >= t0) & (events["t"] < t)]
        pipe.reset()
        det = pipe.step(sel, t0, t).output
        img = render_frame(sel[sel["t"] >= t - 50_000], 304, 240)
        img = cv2.resize(img, (304 * args.scale, 240 * args.scale), interpolation=cv2.INTER_NEAREST)
        for g in boxes[boxes["t"] == t]:
            x0, y0 = int(g["x"] * args.scale), int(g["y"] * args.scale)
            x1, y1 = int((g["x"] + g["w"]) * args.scale), int((g["y"] + g["h"]) * args.scale)
            cv2.rectangle(img, (x0, y0), (x1, y1), (80, 220, 80), 1)
        draw_detections(img, det, args.scale)
        cv2.putText(img, f"t = {t / 1e6:.2f} s", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (230, 230, 230), 1,
                    cv2.LINE_AA)
        tiles.append(img)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
