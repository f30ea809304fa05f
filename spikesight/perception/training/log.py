"""The run's log: one CSV row per epoch, and a PNG of the curves beside the checkpoint.

Columns are the union of every row's keys in first-seen order (the losses' parts, the
validation metrics, the learning rate, the time), so the file opens in any spreadsheet.
The plot needs matplotlib (the ``train`` extra); without it the CSV is still written and the
plot is skipped with a log message.
"""

from __future__ import annotations

import csv
import logging
import math
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def write_csv(rows: list[dict[str, Any]], path: str | os.PathLike) -> Path:
    """Write all ``rows`` (rewritten whole each epoch, atomically: a resumed run keeps one history)."""
    path = Path(path)
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)
    return path


def read_csv(path: str | os.PathLike) -> list[dict[str, float | str]]:
    def value(v: str) -> float | str:
        try:
            return float(v)
        except ValueError:
            return v

    with open(path, newline="") as f:
        return [{k: value(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


def plot_curves(rows: list[dict[str, Any]], path: str | os.PathLike, metric: str) -> Path | None:
    """Training loss parts and validation ``metric`` against epoch, as a PNG; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no curves plot (pip install spikesight[train])")
        return None
    epochs = [r["epoch"] for r in rows]
    losses = [k for k in rows[-1] if k.startswith("train_")] if rows else []
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k in losses:
        ax1.plot(epochs, [r.get(k, math.nan) for r in rows], marker=".", label=k.removeprefix("train_"))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax1.set_yscale("log" if all(r.get(k, 1) > 0 for r in rows for k in losses) else "linear")
    ax1.legend(fontsize=8)
    key = f"val_{metric}"
    ax2.plot(epochs, [r.get(key, math.nan) for r in rows], marker="o", color="C3")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(f"validation {metric}")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
