"""Training checkpoints written atomically (a temporary file, then a rename).

A checkpoint holds what an exact resume needs: model, optimiser and scheduler state, the
position (epoch, step within it), the Python and torch RNG states (datasets draw from their
own ``(seed, epoch, index)`` generators, never numpy's global one), the best metric so far and
the history of the log. A run killed while writing leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not belong to this run."""


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write ``state`` to ``path`` so that ``path`` is always either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(state, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no checkpoint to resume from") from None
    except Exception as err:
        raise CheckpointError(f"{path}: cannot read the checkpoint ({err})") from err
    needed = {"model", "optimizer", "scheduler", "epoch", "step_in_epoch", "rng", "train_config"}
    missing = needed - set(state)
    if missing:
        raise CheckpointError(f"{path}: not a spikesight training checkpoint (missing {sorted(missing)})")
    return state
