"""Peak training memory against T: BPTT, per-step checkpointing and the temporal reversible block.

One training step (forward + backward) of a 3-level :class:`TemporalReversibleBlock` (T-RevSNN,
ICML 2024) on CPU, for several numbers of time steps T, in four modes on the same weights:

* ``bptt``: plain backpropagation through time (``reversible=False``), every activation kept;
* ``checkpoint``: the peer baseline, ``torch.utils.checkpoint`` around each time step: only the
  states between steps are kept, and each step is recomputed in the backward pass;
* ``reversible``: the block's reversible autograd function with its default error bound
  (exact states kept every K steps, K = 6 at α = 0.5);
* ``reversible-pure``: the same with ``max_error_growth=None``: the states are rebuilt backwards
  from the last ones and nothing per step is kept (exact in short windows only, see
  :mod:`spikesight.perception.snn.reversible`).

``grad err`` is the largest relative difference of a parameter gradient from BPTT's. The
``saved`` column does not see what ``checkpoint`` keeps (it stores the step inputs through its own
hooks); its peak does.

The input is one frame repeated over T (direct coding, a broadcast view: constant memory) and
the loss reads the last top-level state (a T-RevSNN classifier readout), so any growth with T is
the training memory of the block itself. Each (mode, T) runs in a fresh subprocess with glibc's
mmap threshold pinned (``MALLOC_MMAP_THRESHOLD_``), so freed tensors leave the resident set; the
peak is the kernel's high-water mark ``VmHWM`` (reset through ``/proc/self/clear_refs``) minus the
resident size before the step, after one warm-up step. ``saved`` is the size of the distinct
storages autograd holds for backward after the forward pass (``saved_tensors_hooks``), an exact
count independent of the allocator. Times are single runs on a shared 2-core machine: indicative
only. Prints a table and writes bench/results/snn_memory.json; asserts nothing.

    .venv/bin/python bench/snn_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.checkpoint import checkpoint

from spikesight.perception.snn.base import reset_net
from spikesight.perception.snn.reversible import RevLevel, TemporalReversibleBlock

RESULTS = Path(__file__).parent / "results" / "snn_memory.json"
MODES = ("bptt", "checkpoint", "reversible", "reversible-pure")
METHOD = (
    "per-(mode, T) subprocess; peak = VmHWM (reset via /proc/self/clear_refs) - VmRSS before one "
    "training step after a warm-up step, MALLOC_MMAP_THRESHOLD_=65536; saved = distinct storages held "
    "by autograd after forward (saved_tensors_hooks; blind to what torch.utils.checkpoint keeps); "
    "grad_rel_err = max over parameters of |g - g_bptt| / |g_bptt|"
)
CONFIG = {
    "levels": 3,
    "channels": 16,
    "height": 32,
    "width": 32,
    "batch": 4,
    "in_channels": 2,
    "alpha_init": 0.5,
}


def build(mode: str) -> TemporalReversibleBlock:
    torch.manual_seed(0)
    c, levels = CONFIG["channels"], CONFIG["levels"]
    specs = [RevLevel(CONFIG["in_channels"], c, c, spike_input=False)]
    specs += [RevLevel(c, c, c if l + 1 < levels else None) for l in range(1, levels)]
    return TemporalReversibleBlock(
        specs,
        alpha_init=CONFIG["alpha_init"],
        reversible=mode.startswith("reversible"),
        return_sequence=False,
        max_error_growth=None if mode == "reversible-pure" else 64.0,
    )


def forward(block: TemporalReversibleBlock, x: torch.Tensor, mode: str) -> torch.Tensor:
    if mode != "checkpoint":
        return block(x)
    alphas = block.effective_alphas()
    prev = [None] * len(block.levels)
    for frame in x:
        prev = checkpoint(block.step, frame, prev, alphas, use_reentrant=False)
    return prev[-1]


def train_step(block: TemporalReversibleBlock, x: torch.Tensor, weight: torch.Tensor, mode: str) -> None:
    reset_net(block)
    (forward(block, x, mode) * weight).sum().backward()
    reset_net(block)  # the kept states would otherwise hold the graph until the next step


def saved_bytes(block: TemporalReversibleBlock, x: torch.Tensor, mode: str) -> int:
    storages: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    reset_net(block)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = forward(block, x, mode)
    del y
    reset_net(block)
    return sum(storages.values())


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(mode: str, steps: int, grads_path: str) -> dict:
    """One measurement, in this (fresh) process; the gradients go to ``grads_path``."""
    torch.set_num_threads(2)
    block = build(mode)
    frame = torch.rand(1, CONFIG["batch"], CONFIG["in_channels"], CONFIG["height"], CONFIG["width"])
    x = frame.expand(steps, -1, -1, -1, -1)
    weight = torch.randn(CONFIG["batch"], CONFIG["channels"], CONFIG["height"], CONFIG["width"])
    train_step(block, x, weight, mode)  # warm-up: gradients allocated, lazy initialisation done
    saved = saved_bytes(block, x, mode)
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    train_step(block, x, weight, mode)
    seconds = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    torch.save({n: p.grad for n, p in block.named_parameters()}, grads_path)
    return {
        "mode": mode,
        "T": steps,
        "peak_bytes": (peak - before) * 1024,
        "saved_bytes": saved,
        "seconds": seconds,
    }


def run_child(mode: str, steps: int, grads_path: Path) -> dict:
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0", OMP_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(steps), str(grads_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="T in (2, 8) only")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "T", "GRADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), args.child[2])))
        return
    steps_list = (2, 8) if args.quick else (2, 4, 8, 16, 32)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for steps in steps_list:
            grads = {}
            for mode in MODES:
                rows.append(run_child(mode, steps, Path(tmp) / f"{mode}.pt"))
                grads[mode] = torch.load(Path(tmp) / f"{mode}.pt")
            for row in rows[-len(MODES) :]:
                row["grad_rel_err"] = max(
                    float((g - grads["bptt"][n]).norm() / grads["bptt"][n].norm())
                    for n, g in grads[row["mode"]].items()
                    if grads["bptt"][n].norm() > 0
                )
    mb = 1024 * 1024
    print(f"TemporalReversibleBlock {CONFIG}, float32, CPU; peak = VmHWM - VmRSS over one training step")
    print(f"{'mode':>16} {'T':>4} {'peak MB':>9} {'saved MB':>9} {'grad err':>9} {'time s':>7}")
    for r in rows:
        print(
            f"{r['mode']:>16} {r['T']:>4} {r['peak_bytes'] / mb:>9.1f} {r['saved_bytes'] / mb:>9.2f} "
            f"{r['grad_rel_err']:>9.1e} {r['seconds']:>7.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "snn_memory",
                "config": CONFIG,
                "dtype": "float32",
                "device": "cpu",
                "method": METHOD,
                "machine": {
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    "torch": torch.__version__,
                },
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
