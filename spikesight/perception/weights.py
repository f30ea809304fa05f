"""Trained weights on disk: a ``.pt`` state dict beside a ``.json`` manifest that proves it.

The manifest says everything a pipeline needs to run the weights (task, model config,
classes, representation, window, T) and how they were made and measured (data, command,
held-out metrics), plus the sha256 of the ``.pt`` so a swapped or damaged file is refused.
Shipped weights live in ``spikesight/assets/weights/<name>.pt``; :func:`load_weights`
accepts such a name or any path.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "weights"

DEFAULT_WEIGHTS: dict[str, str] = {
    "detection": "detect_tiny", "depth": "depth_tiny", "gesture": "gesture_small"}
"""The shipped weights each task's pipeline and command use unless told otherwise (by result task)."""


class WeightsError(ValueError):
    """A weights file or its manifest is missing, damaged, or does not match."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def manifest_path(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_weights(state_dict: dict[str, torch.Tensor], manifest: dict[str, Any],
                 path: str | os.PathLike) -> Path:
    """Write ``path`` (.pt) and its manifest (.json, with the file's sha256), each atomically."""
    import torch

    path = Path(path).with_suffix(".pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
    os.replace(tmp, path)
    write_manifest(path, manifest)
    return path


def write_manifest(weights: str | os.PathLike, manifest: dict[str, Any]) -> Path:
    """Write the manifest of the ``.pt`` at ``weights`` (atomically), stamped with that file's sha256."""
    path = Path(weights).with_suffix(".pt")
    data = dict(manifest, weights=path.name, sha256=sha256_file(path))
    mpath = manifest_path(path)
    tmp = mpath.with_name(mpath.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, mpath)
    return mpath


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A path as given if it exists, else the shipped weights of that name."""
    p = Path(name_or_path)
    if p.suffix == "" and not p.exists():
        p = ASSETS / f"{p.name}.pt"
    p = p.with_suffix(".pt")
    if not p.exists():
        shipped = sorted(q.stem for q in ASSETS.glob("*.pt")) if ASSETS.is_dir() else []
        raise WeightsError(f"{name_or_path}: no such weights (shipped: {', '.join(shipped) or 'none'})")
    return p


def read_manifest(name_or_path: str | os.PathLike) -> dict[str, Any]:
    path = resolve(name_or_path)
    mpath = manifest_path(path)
    try:
        return json.loads(mpath.read_text())
    except FileNotFoundError:
        raise WeightsError(f"{path}: its manifest {mpath.name} is missing") from None
    except json.JSONDecodeError as err:
        raise WeightsError(f"{mpath}: not valid JSON ({err})") from None


def load_weights(name_or_path: str | os.PathLike, task: str | None = None,
                 verify: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, manifest)`` of shipped weights (by name) or of a ``.pt`` path.

    Raises :class:`WeightsError` if the manifest is missing, the sha256 differs, or the
    manifest's ``task`` is not ``task``.
    """
    path = resolve(name_or_path)
    manifest = read_manifest(path)
    if task is not None and manifest.get("task") != task:
        raise WeightsError(f"{path}: weights for task {manifest.get('task')!r}, not {task!r}")
    if verify and manifest.get("sha256") != sha256_file(path):
        raise WeightsError(f"{path}: sha256 does not match its manifest (damaged or replaced)")
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise WeightsError(f"{path}: cannot read the state dict ({err})") from err
    return state, manifest


def shipped(task: str | None = None) -> list[str]:
    """Names of the shipped weights (for ``task`` only, if given)."""
    if not ASSETS.is_dir():
        return []
    names = []
    for p in sorted(ASSETS.glob("*.pt")):
        try:
            m = json.loads(manifest_path(p).read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if task is None or m.get("task") == task:
            names.append(p.stem)
    return names
