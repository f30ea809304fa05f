"""Shared fixtures of the gesture tests: a tiny DVS128 Gesture folder and tiny random weights."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from spikesight.io.sim.recordings import write_gesture
from spikesight.perception.gesture import CONFIGS, GestureNet, GestureNetConfig
from spikesight.perception.gesture.task import GestureTask
from spikesight.perception.weights import save_weights

# 6 frames of 40 ms on a 16x16 input (128 pooled by 8)
TINY = replace(
    CONFIGS["small"], T=6, dt_us=40_000, size=16, conv_channels=(4, 8, 8), hidden=16, reduction_t=2
)

CHOSEN = [0, 2, 3]  # the frames that force_attention keeps


@pytest.fixture(scope="session")
def gesture_root(tmp_path_factory) -> Path:
    """Three short recordings in the DVS128 Gesture layout: one per split."""
    root = tmp_path_factory.mktemp("gesture")
    short = dict(fps=100, gesture_seconds=(0.45, 0.55), rest_seconds=(0.1, 0.2))
    write_gesture(root / "user01_lab", 11, [1, 2, 3], **short)
    write_gesture(root / "user02_led", 12, [3, 1, 2], **short)
    write_gesture(root / "user03_natural", 13, [2, 3, 1], **short)
    for split, name in (("train", "user01_lab"), ("val", "user02_led"), ("test", "user03_natural")):
        (root / f"trials_to_{split}.txt").write_text(f"{name}.aedat\n")
    return root


def save_tiny(
    path: Path,
    config: GestureNetConfig = TINY,
    seed: int = 0,
    prepare: Callable[[GestureNet], None] | None = None,
    **manifest: object,
) -> Path:
    """A random GestureNet saved with the gesture task's manifest (``prepare`` edits it first)."""
    torch.manual_seed(seed)
    net = GestureNet(config).eval()
    if prepare is not None:
        with torch.no_grad():
            prepare(net)
    base = GestureTask(path.parent, config, val_split="test").manifest()
    return save_weights(net.state_dict(), {**base, "task": "gesture", **manifest}, path)


def force_attention(net: GestureNet) -> None:
    """Input attention scores near 1 for the CHOSEN frames, near 0 for the others (any input with events)."""
    w1, w2 = net.gate.excitation[0].weight, net.gate.excitation[2].weight
    w1.fill_(1.0)
    sign = torch.tensor([1.0 if t in CHOSEN else -1.0 for t in range(net.config.T)])
    w2.copy_(5.0 * sign[:, None].expand_as(w2))


def firing_network(net: GestureNet) -> None:
    """Make the random network fire without saturating: small positive input weights, a positive bias
    on the weights of the hidden layers, the output layer as drawn (so that the classes differ)."""
    net.layers[0].op.layer[0].weight.abs_().mul_(0.05)
    for layer in net.layers[1:-1]:
        layer.op.layer[0].weight.add_(0.05)
    force_attention(net)
