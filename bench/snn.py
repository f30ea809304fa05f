"""Benchmark the SNN neurons (and attention modules, when present) on CPU: forward and forward+backward.

Compares spikesight's LIF with spikingjelly's LIFNode (same equations, same surrogate) in the same
run when spikingjelly is installed, and checks that both give the same spikes. Prints a table and
writes bench/results/snn.json. Each timing is the best (and the median) of several runs on 2
threads, the contenders of one shape taking turns so that they share the same machine load; on a
shared machine the best is the steadier figure. Never asserted.

    .venv/bin/python bench/snn.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from spikesight.perception.snn import ILIF, LIF, reset_net

RESULTS = Path(__file__).parent / "results" / "snn.json"
SHAPES = [(4, 8, 64, 32, 32), (4, 8, 128, 16, 16), (8, 4, 256, 8, 8), (4, 32, 1024)]


def _runners(
    make: Callable[[], nn.Module], shape: tuple[int, ...], scale: float
) -> dict[str, Callable[[], None]]:
    """The forward (no grad) and forward+backward of a fresh module on a fixed input."""
    module = make()
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0)) * scale
    xg = x.clone().requires_grad_()

    def forward() -> None:
        reset_net(module)
        _reset_peer(module)
        with torch.no_grad():
            module(x)

    def forward_backward() -> None:
        reset_net(module)
        _reset_peer(module)
        module(xg).float().sum().backward()
        xg.grad = None

    return {"forward": forward, "forward_backward": forward_backward}


def _measure_interleaved(
    contenders: dict[str, dict[str, Callable[[], None]]], repeats: int
) -> dict[str, dict]:
    """Time every contender in turn, ``repeats`` rounds (after two warm-up rounds), so that all of
    them see the same machine load; best and median milliseconds of each."""
    times: dict[str, dict[str, list[float]]] = {
        name: {k: [] for k in runs} for name, runs in contenders.items()
    }
    for round_ in range(repeats + 2):
        for name, runs in contenders.items():
            for kind, fn in runs.items():
                t0 = time.perf_counter()
                fn()
                if round_ >= 2:
                    times[name][kind].append(time.perf_counter() - t0)
    results = {}
    for name, kinds in times.items():
        results[name] = {}
        for kind, ts in kinds.items():
            results[name][f"{kind}_ms"] = 1e3 * min(ts)
            results[name][f"{kind}_median_ms"] = 1e3 * statistics.median(ts)
    return results


def _reset_peer(module: nn.Module) -> None:
    for m in module.modules():
        if type(m).__module__.startswith("spikingjelly") and hasattr(m, "reset"):
            m.reset()


class _LoopLIF(LIF):
    """LIF through the plain per-step loop (overriding a step method turns the fused loop off)."""

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().single_step_forward(x)


class _LoopILIF(ILIF):
    """I-LIF through the plain per-step loop, one autograd graph per step."""

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._step(x) for x in x_seq])


Case = tuple[str, Callable[[], nn.Module], list[tuple[int, ...]], float]


def _cases() -> list[Case]:
    cases: list[Case] = [
        ("spikesight LIF", lambda: LIF(tau=2.0), SHAPES, 2.0),
        ("spikesight LIF, step loop", lambda: _LoopLIF(tau=2.0), SHAPES, 2.0),
        ("spikesight LIF soft, detach", lambda: LIF(tau=2.0, v_reset=None, detach_reset=True), SHAPES, 2.0),
        ("spikesight ILIF D=4", lambda: ILIF(max_value=4), SHAPES, 6.0),
        ("spikesight ILIF, step loop", lambda: _LoopILIF(max_value=4), SHAPES, 6.0),
    ]
    try:
        from spikingjelly.activation_based import neuron as sj_neuron

        peer = ("spikingjelly LIFNode", lambda: sj_neuron.LIFNode(tau=2.0, step_mode="m"), SHAPES, 2.0)
        cases.insert(2, peer)
    except ImportError:
        print("spikingjelly not installed: no peer comparison (pip install spikingjelly)")
    try:
        from spikesight.perception.snn.attention import AttentionLIF

        cases.append(("AttentionLIF TCSA", lambda: AttentionLIF("TCSA", channels=64, T=4), SHAPES[:1], 2.0))
    except ImportError:
        print("spikesight.perception.snn.attention not available: skipped")
    try:
        from spikesight.perception.snn.sdsa import SpikeDrivenSelfAttention

        sdsa = ("SpikeDrivenSelfAttention 256", lambda: SpikeDrivenSelfAttention(256), [(4, 8, 64, 256)], 1.0)
        cases.append(sdsa)
    except ImportError:
        print("spikesight.perception.snn.sdsa not available: skipped")
    return cases


def _check_against_peer() -> float | None:
    """Max |spikes - peer spikes| and |v - peer v| for one input (0.0 when the equations agree)."""
    try:
        from spikingjelly.activation_based import neuron as sj_neuron
    except ImportError:
        return None
    x = torch.rand(SHAPES[0], generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    ours, peer = LIF(tau=2.0), sj_neuron.LIFNode(tau=2.0, step_mode="m").double()
    with torch.no_grad():
        diff = (ours(x) - peer(x)).abs().max().item()
    return max(diff, (ours.v - peer.v).abs().max().item())


def _row(name: str, shape: tuple[int, ...], r: dict) -> str:
    return (
        f"{name:30s} {list(shape)!s:20s} {r['forward_ms']:9.2f} {r['forward_median_ms']:9.2f}   "
        f"{r['forward_backward_ms']:9.2f} {r['forward_backward_median_ms']:9.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="first shape only, fewer repeats")
    args = parser.parse_args()
    torch.set_num_threads(2)
    repeats = 3 if args.quick else 15
    rows = []
    header = ("module", "shape", "fwd best", "median", "f+b best", "median")
    print("{:30s} {:20s} {:>9s} {:>9s}   {:>9s} {:>9s}  (ms)".format(*header))
    cases = _cases()
    all_shapes = list(dict.fromkeys(shape for _, _, shapes, _ in cases for shape in shapes))
    for shape in all_shapes[:1] if args.quick else all_shapes:
        contenders = {}
        for name, make, shapes, scale in cases:
            if shape not in shapes:
                continue
            try:
                contenders[name] = _runners(make, shape, scale)
                contenders[name]["forward"]()  # fails early if the module's API moved
            except (TypeError, ValueError, RuntimeError) as exc:
                print(f"{name} {list(shape)}: skipped ({exc})")
                contenders.pop(name, None)
        for name, result in _measure_interleaved(contenders, repeats).items():
            rows.append({"module": name, "shape": list(shape), **result})
            print(_row(name, shape, result), flush=True)
    peer_diff = _check_against_peer()
    if peer_diff is not None:
        print(f"max |spikesight LIF - spikingjelly LIFNode| (spikes and membrane, float64): {peer_diff:g}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
                "machine": platform.processor() or platform.machine(),
                "max_abs_diff_vs_spikingjelly": peer_diff,
                "rows": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS} (times in ms: best of {repeats}, and median)")


if __name__ == "__main__":
    main()
