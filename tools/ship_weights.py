"""Copy trained weights into spikesight/assets/weights with a manifest that says how to remake them.

    .venv/bin/python tools/ship_weights.py runs/detect_tiny/detect_tiny.pt \
        --data-command "spikesight simulate detection DATA --duration 400 --clip-seconds 20 --seed 1"

The manifest keeps everything the trainer and `spikesight eval --write-manifest` recorded and gains
``data_command`` (the command that writes the dataset), ``shipped`` (when) and, with ``--twin``, the
ANN twin's command and metrics (its weights are not shipped); the sha256 is checked before and
written again after.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from spikesight.perception.weights import ASSETS, load_weights, save_weights


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("weights", type=Path)
    p.add_argument("--name", help="shipped name (default: the file's)")
    p.add_argument("--data-command", required=True, help="the command that writes the training data")
    p.add_argument("--note", default="", help="anything a user of the weights should know")
    p.add_argument("--twin", type=Path, help="the ANN twin's weights: its metrics go in the manifest")
    args = p.parse_args()
    state, manifest = load_weights(args.weights)
    name = args.name or args.weights.stem
    manifest.update(name=name, data_command=args.data_command,
                    shipped=datetime.now(UTC).isoformat(timespec="seconds"))
    if args.note:
        manifest["note"] = args.note
    if args.twin:
        _, twin = load_weights(args.twin)
        manifest["ann_twin"] = {"weights": "not shipped", "command": twin.get("command"),
                                "metrics": twin.get("metrics", {}),
                                "eval_commands": twin.get("eval_commands", {})}
    out = save_weights(state, manifest, ASSETS / f"{name}.pt")
    load_weights(out)
    print(f"shipped {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
