"""Weight pruning for SNNs: magnitude and spiking-firing criteria, iterative prune-rewind-retrain.

The spiking-firing criterion is that of Yao, Chou, Zhao, Zheng, Tian, Xu, Li, "Probabilistic
Modeling: Proving the Lottery Ticket Hypothesis in Spiking Neural Network" (arXiv 2305.12148,
2023), Sec. 6 and Appendices D, F. A weight matters by how likely its removal flips a spike:
the membrane error it causes times the density of the membrane potential at the threshold
(Eqs. 12-13, S.43), for the weight from input channel i to output channel j followed by batch
norm (γ_j, σ²_Bj) and a spiking neuron with threshold u_th::

    P_ij ≈ E(|u' - u|) · N(0 | μ_j - u_th, var_j)
    E(|u' - u|) = r_i |w_ij| |γ_j| / sqrt(σ²_Bj + ε)

r_i is the firing rate of input channel i (so a weight whose input never fires scores 0, however
large it is), and μ_j, var_j are the mean and variance of the membrane potential of output
channel j (assumed Gaussian). Weights are pruned from the smallest P up. As in the paper
(SF-IMP-1) the encoding layer and the fully connected classifier keep the magnitude criterion
(``PrunableUnit(magnitude_only=True)``, or a unit without batch norm or neuron).

The pruning loop is iterative magnitude pruning with rewinding (Frankle & Carbin, "The Lottery
Ticket Hypothesis", ICLR 2019; the paper's Algorithm 1): train; then ``rounds`` times prune a
fraction of the remaining weights, reload the rewind weights under the new mask and train
again. Masks are ``torch.nn.utils.prune`` reparametrisations (``weight_orig`` parameter and
``weight_mask`` buffer), so pruned weights stay zero through any optimiser and the masks are
part of the state dict; :func:`load_pruned_state_dict` restores them into a fresh model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import prune

from .neurons import BaseNode

__all__ = [
    "FiringStats",
    "PrunableUnit",
    "collect_firing_stats",
    "iterative_pruning",
    "load_pruned_state_dict",
    "magnitude_scores",
    "prune_units",
    "rewind",
    "sparsity",
    "spiking_firing_scores",
]


@dataclass(eq=False)
class PrunableUnit:
    """A prunable weight (``layer.<name>``) with the batch norm and spiking neuron that follow it.

    ``v_threshold`` defaults to the neuron's ``v_threshold``.
    """

    layer: nn.Module
    bn: nn.Module | None = None
    neuron: nn.Module | None = None
    magnitude_only: bool = False
    name: str = "weight"
    v_threshold: float | None = None

    @property
    def uses_firing(self) -> bool:
        return self.bn is not None and self.neuron is not None and not self.magnitude_only

    @property
    def channels_last(self) -> bool:
        """Linear layers keep features on the last dimension; convolutions on dimension 1."""
        return isinstance(self.layer, nn.Linear)

    def threshold(self) -> float:
        if self.v_threshold is not None:
            return self.v_threshold
        if not hasattr(self.neuron, "v_threshold"):
            raise ValueError(f"{type(self.neuron).__name__} has no v_threshold: set PrunableUnit.v_threshold")
        return float(self.neuron.v_threshold)

    def weight(self) -> torch.Tensor:
        """The dense weight (``weight_orig`` when pruned)."""
        return getattr(self.layer, self.name + "_orig", getattr(self.layer, self.name))

    def mask(self) -> torch.Tensor:
        """The current mask (ones when not pruned yet)."""
        mask = getattr(self.layer, self.name + "_mask", None)
        return torch.ones_like(self.weight(), dtype=torch.bool) if mask is None else mask.bool()


@dataclass(frozen=True)
class FiringStats:
    """Per-channel statistics for :func:`spiking_firing_scores`: input firing rate, membrane mean/variance."""

    input_rate: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor


def magnitude_scores(weight: torch.Tensor) -> torch.Tensor:
    """``|w|``: the classic magnitude criterion."""
    return weight.detach().abs()


def _per_weight_input(weight: torch.Tensor, per_channel: torch.Tensor, groups: int) -> torch.Tensor:
    """Input-channel values broadcast to the weight's ``[C_out, C_in / groups, ...]`` layout."""
    c_out, c_in_group = weight.shape[:2]
    out_group = torch.arange(c_out, device=weight.device) // (c_out // groups)
    index = out_group[:, None] * c_in_group + torch.arange(c_in_group, device=weight.device)[None, :]
    return per_channel[index].view(c_out, c_in_group, *([1] * (weight.dim() - 2)))


def spiking_firing_scores(
    weight: torch.Tensor,
    stats: FiringStats,
    bn: nn.Module,
    v_threshold: float,
    groups: int = 1,
) -> torch.Tensor:
    """Eq. 12-13 of the paper for every weight of a conv/linear ``[C_out, C_in, ...]`` followed by ``bn``."""
    w = weight.detach().abs().double()
    gamma = (
        bn.weight.detach().abs().double()
        if getattr(bn, "weight", None) is not None
        else torch.ones(w.shape[0])
    )
    scale = gamma.to(w.device) / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    var = stats.var.double().clamp_min(1e-12).to(w.device)
    density = torch.exp(-((stats.mean.double().to(w.device) - v_threshold) ** 2) / (2.0 * var)) / torch.sqrt(
        2.0 * math.pi * var
    )
    rate = _per_weight_input(w, stats.input_rate.double().to(w.device), groups)
    per_out = (scale * density).view(-1, *([1] * (w.dim() - 1)))
    return (rate * w * per_out).to(weight.dtype)


class _Moments:
    """Running per-channel count, sum and sum of squares (float64)."""

    def __init__(self) -> None:
        self.count = 0
        self.sum: torch.Tensor | None = None
        self.sumsq: torch.Tensor | None = None

    def add(self, x: torch.Tensor, channel_dim: int) -> None:
        x = x.detach().double().movedim(channel_dim, -1).reshape(-1, x.shape[channel_dim])
        s, sq = x.sum(0), (x * x).sum(0)
        self.sum = s if self.sum is None else self.sum + s
        self.sumsq = sq if self.sumsq is None else self.sumsq + sq
        self.count += x.shape[0]

    def mean(self) -> torch.Tensor:
        if self.sum is None:
            raise RuntimeError("no data went through the layer during calibration")
        return self.sum / self.count

    def var(self) -> torch.Tensor:
        return (self.sumsq / self.count - self.mean() ** 2).clamp_min(0.0)


def _membrane_hooks(neuron: BaseNode, moments: _Moments, dim: int) -> list:
    """Hooks that rebuild the charged membrane ``H[t] = charge(X[t], V[t-1])`` of every step.

    ``V`` comes from the neuron's own ``v`` (before the call) and ``v_seq`` (turned on for the
    call), the charge from its ``neuronal_charge``: no assumption on how the neuron loops.
    """
    saved: dict[str, object] = {}

    def before(module, args):
        saved["v0"], saved["store"] = module.v, module.store_v_seq
        module.store_v_seq = True

    def after(module, args, output):
        x = args[0]
        module.store_v_seq = saved["store"]
        steps = x if module.step_mode == "m" else x.unsqueeze(0)
        v_after = module.v_seq if module.step_mode == "m" else module.v.unsqueeze(0)
        v_prev = saved["v0"]
        for t, x_t in enumerate(steps):
            if not isinstance(v_prev, torch.Tensor):
                v_prev = torch.full_like(x_t, float(v_prev))
            moments.add(module.neuronal_charge(x_t, v_prev), dim)
            v_prev = v_after[t]

    return [neuron.register_forward_pre_hook(before), neuron.register_forward_hook(after)]


def collect_firing_stats(units: Sequence[PrunableUnit], run: Callable[[], None]) -> list[FiringStats | None]:
    """Run ``run()`` (forward passes over calibration data) and gather :class:`FiringStats` per unit.

    The input rate is the mean input of the layer per input channel. The membrane potential is
    the charged potential before firing, rebuilt from the state of the neurons of
    :mod:`.neurons` (see :func:`_membrane_hooks`); for other neurons it falls back to the
    neuron's input. Units that do not use the firing criterion get ``None``.
    """
    handles = []
    inputs: dict[int, _Moments] = {}
    membranes: dict[int, _Moments] = {}
    try:
        for i, unit in enumerate(units):
            if not unit.uses_firing:
                continue
            inputs[i], membranes[i] = _Moments(), _Moments()
            dim = -1 if unit.channels_last else 1

            def record_input(_module, args, moments=inputs[i], dim=dim):
                moments.add(args[0], dim)

            handles.append(unit.layer.register_forward_pre_hook(record_input))
            neuron = unit.neuron
            if isinstance(neuron, BaseNode):
                handles.extend(_membrane_hooks(neuron, membranes[i], dim))
            else:
                multi = getattr(neuron, "step_mode", "s") == "m"
                in_dim = dim if unit.channels_last else (2 if multi else 1)

                def record_membrane(_module, args, moments=membranes[i], dim=in_dim):
                    moments.add(args[0], dim)

                handles.append(neuron.register_forward_pre_hook(record_membrane))
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return [
        FiringStats(inputs[i].mean(), membranes[i].mean(), membranes[i].var()) if i in inputs else None
        for i in range(len(units))
    ]


def _scores(unit: PrunableUnit, criterion: str, stats: FiringStats | None) -> torch.Tensor:
    if criterion == "magnitude" or not unit.uses_firing:
        return magnitude_scores(unit.weight())
    if criterion != "spiking_firing":
        raise ValueError(f"criterion must be 'magnitude' or 'spiking_firing', got {criterion!r}")
    if stats is None:
        raise ValueError("the spiking_firing criterion needs FiringStats for every unit with bn and neuron")
    return spiking_firing_scores(
        unit.weight(), stats, unit.bn, unit.threshold(), getattr(unit.layer, "groups", 1)
    )


def _set_mask(unit: PrunableUnit, mask: torch.Tensor) -> None:
    buffer = getattr(unit.layer, unit.name + "_mask", None)
    if buffer is None:
        prune.custom_from_mask(unit.layer, unit.name, mask)
        return
    buffer.copy_(mask)
    setattr(unit.layer, unit.name, getattr(unit.layer, unit.name + "_orig") * buffer)


def prune_units(
    units: Sequence[PrunableUnit],
    amount: float,
    criterion: str = "magnitude",
    stats: Sequence[FiringStats | None] | None = None,
    scope: str = "layer",
) -> None:
    """Prune ``amount`` (a fraction) of the still-unpruned weights, lowest scores first.

    ``scope="layer"`` prunes that fraction in every unit; ``"global"`` ranks all units together
    (only meaningful when their scores are comparable).
    """
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    if scope not in ("layer", "global"):
        raise ValueError(f"scope must be 'layer' or 'global', got {scope!r}")
    stats = [None] * len(units) if stats is None else list(stats)
    scores = [_scores(u, criterion, s).flatten().double() for u, s in zip(units, stats, strict=True)]
    masks = [u.mask().flatten().clone() for u in units]
    groups = [[i] for i in range(len(units))] if scope == "layer" else [list(range(len(units)))]
    for group in groups:
        score = torch.cat([scores[i] for i in group])
        alive = torch.cat([masks[i] for i in group])
        n_prune = round(amount * int(alive.sum()))
        if n_prune == 0:
            continue
        ranked = torch.where(alive, score, torch.full_like(score, math.inf))
        drop = torch.argsort(ranked, stable=True)[:n_prune]
        alive[drop] = False
        offset = 0
        for i in group:
            masks[i] = alive[offset : offset + masks[i].numel()]
            offset += masks[i].numel()
    for unit, mask in zip(units, masks, strict=True):
        _set_mask(unit, mask.view_as(unit.weight()).to(unit.weight().dtype))


def sparsity(units: Sequence[PrunableUnit]) -> float:
    """Fraction of pruned weights over all units."""
    total = sum(u.weight().numel() for u in units)
    kept = sum(int(u.mask().sum()) for u in units)
    return 1.0 - kept / total if total else 0.0


def rewind(model: nn.Module, snapshot: Mapping[str, torch.Tensor]) -> None:
    """Load ``snapshot`` (a state dict) into ``model`` while keeping its pruning masks.

    A key ``x.weight`` of a snapshot taken before pruning goes to ``x.weight_orig``; mask keys of
    the snapshot are ignored.
    """
    state = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, value in snapshot.items():
            if key.endswith("_mask"):
                continue
            target = state.get(key, state.get(key + "_orig"))
            if target is None:
                raise KeyError(f"{key!r} is not in the model")
            target.copy_(value)
    _refresh_pruned(model)


def _refresh_pruned(model: nn.Module) -> None:
    """Recompute ``w = w_orig ⊙ mask`` on every pruned module (what the pruning hook does before forward)."""
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                name = hook._tensor_name
                setattr(module, name, getattr(module, name + "_orig") * getattr(module, name + "_mask"))


def load_pruned_state_dict(
    model: nn.Module, state_dict: Mapping[str, torch.Tensor], strict: bool = True
) -> None:
    """Load a state dict saved from a pruned model (``*_orig`` / ``*_mask`` keys) into ``model``.

    Modules of ``model`` that are not pruned yet get an identity pruning first, so the masks load
    as buffers and keep applying during training.
    """
    modules = dict(model.named_modules())
    for key in state_dict:
        if not key.endswith("_mask"):
            continue
        path, _, tensor = key[: -len("_mask")].rpartition(".")
        module = modules[path]
        if not hasattr(module, tensor + "_mask"):
            prune.identity(module, tensor)
    model.load_state_dict(state_dict, strict=strict)
    _refresh_pruned(model)


def iterative_pruning(
    model: nn.Module,
    units: Sequence[PrunableUnit],
    train: Callable[[nn.Module, int], None],
    *,
    rounds: int,
    amount: float,
    criterion: str = "magnitude",
    calibrate: Callable[[nn.Module], None] | None = None,
    rewind_state: Mapping[str, torch.Tensor] | None = None,
    scope: str = "layer",
) -> list[float]:
    """Iterative pruning with rewinding; returns the sparsity after each round.

    ``train(model, round)`` trains the model in place (round 0 is the dense network). The rewind
    weights are ``rewind_state`` (e.g. a state dict saved after a few epochs), or the weights at
    the call. ``calibrate(model)`` runs calibration data through the model for the
    ``"spiking_firing"`` criterion.
    """
    if criterion == "spiking_firing" and calibrate is None:
        raise ValueError("the spiking_firing criterion needs a calibrate callback")
    snapshot = {k: v.detach().clone() for k, v in (rewind_state or model.state_dict()).items()}
    train(model, 0)
    history = []
    for k in range(1, rounds + 1):
        stats = (
            collect_firing_stats(units, lambda: calibrate(model)) if criterion == "spiking_firing" else None
        )
        prune_units(units, amount, criterion, stats, scope)
        rewind(model, snapshot)
        train(model, k)
        history.append(sparsity(units))
    return history
