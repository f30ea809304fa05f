"""Spiking neurons: the leaky integrate-and-fire neuron and SpikeYOLO's integer LIF (I-LIF).

Every neuron is a :class:`~spikesight.perception.snn.base.MemoryModule`: multi-step input
``[T, B, ...]`` (``step_mode="m"``, the default) or one step ``[B, ...]`` (``"s"``), state kept
across calls until :func:`~spikesight.perception.snn.base.reset_net`.

**LIF** (spikingjelly's ``LIFNode``; Gerstner et al., *Neuronal Dynamics*, 2014), for each step t
with input X[t], membrane V, spike S, Heaviside Θ and V[-1] = V_reset (0 for soft reset)::

    charge, decay_input=True:   H[t] = V[t-1] + (X[t] - (V[t-1] - V_reset)) / tau
    charge, decay_input=False:  H[t] = V[t-1] - (V[t-1] - V_reset) / tau + X[t]
    fire:                       S[t] = Θ(H[t] - V_th)            (surrogate gradient backward)
    hard reset (V_reset set):   V[t] = H[t] (1 - S[t]) + V_reset S[t]
    soft reset (V_reset None):  V[t] = H[t] - V_th S[t]          (V_reset = 0 in the charge)

With ``detach_reset=True`` the S in the reset equations is detached from the graph.

**I-LIF** (Luo et al., "Integer-valued training and spike-driven inference spiking neural network
for high-performance and energy-efficient object detection", ECCV 2024, "SpikeYOLO"), over
``[T, B, ...]`` with the maximum integer D (``max_value``) and ``decay``::

    u[0] = x[0]
    u[t] = (u[t-1] - sg(s[t-1])) * decay + x[t]       (sg: stop-gradient, the reset path is detached)
    s[t] = round(clamp(u[t], 0, D))                   (forward)
    ds[t]/du[t] = 1 if 0 <= u[t] <= D else 0          (backward, straight-through)

Checked against the authors' code, BICLab/SpikeYOLO (AGPL-3.0; read for the facts only, nothing
copied): ``ultralytics/nn/modules/yolo_spikformer.py``, class ``mem_update`` (its ``forward`` loops
over ``T``: ``mem = x[0]`` at ``i = 0``, else ``mem = (mem_old - spike.detach()) * decay + x[i]``,
with the module-level constant ``decay = 0.25``) and class ``MultiSpike4`` with its nested autograd
function ``quant4`` (forward ``torch.round(torch.clamp(input, min=0, max=4))``; backward copies the
incoming gradient and zeroes it where ``input < 0`` or ``input > 4``); and ``convert_integer_to_binary.py``,
function ``expand_tensor_cumulative`` (``[T, ...]`` integers -> ``[T * D, ...]`` binary, ``s`` ones
then zeros within each step, the layout of :func:`expand_spikes`). What the code fixes and the
paper's text leaves implicit or writes differently:

* the paper writes the quantiser as ``Clip(round(U), 0, D)``; the code clamps first, then rounds,
  which is the same for an integer D. ``round`` is ``torch.round`` (ties to even: 0.5 -> 0,
  2.5 -> 2), and the straight-through window includes both bounds, with no rescaling of the
  gradient (some public forks divide it by 4; the authors' code does not, nor does this one);
* the reset subtracts the emitted integer (a soft reset by ``s``) *before* the decay, and the
  subtracted spike is detached; the gradient still flows through ``u[t-1]`` itself;
* the decay is a fixed constant (0.25), not learnt;
* the code starts every forward call from ``u = 0`` (each window independent); here the state
  persists across calls, as for every neuron of this package, until ``reset_net``.

In multi-step mode LIF and I-LIF run the whole sequence as one fused loop (preallocated buffers,
in-place updates, one autograd node whose backward runs BPTT in closed form, saving only the
membrane per step); the forward is bit-identical to the step-by-step equations. Subclasses that
change the equations (``neuronal_charge``, ``single_step_forward``, ...) use the plain loop.

Spike-driven inference: an integer ``s in {0..D}`` is ``D`` binary spikes over ``D`` virtual
timesteps (``b[t*D + k] = 1 if s[t] > k``), so a following conv/linear layer ``f`` (without bias)
satisfies ``f(s[t]) = sum_k f(b[t*D + k])`` and only accumulates. ``ILIF(spike_driven=True)`` emits
the binary expansion; :class:`SpikeDriven` runs the next layer on it and sums.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .base import MemoryModule, StepModule
from .surrogate import Sigmoid, SurrogateFunction


class Neuron(MemoryModule):
    """Base of every spiking neuron: what monitors and energy estimates look for.

    ``max_spike`` is the largest value one output element can take in one output step: 1 for
    binary neurons, D for integer ones. ``virtual_steps`` is how many output steps make one real
    time step (D for a spike-driven I-LIF, else 1).
    """

    max_spike: int = 1
    virtual_steps: int = 1

    def _check_state(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """The state ``name`` as a tensor shaped like ``x`` (a float reset value is broadcast)."""
        value = getattr(self, name)
        if not isinstance(value, torch.Tensor):
            value = torch.full_like(x, float(value))
        elif value.shape != x.shape:
            raise RuntimeError(
                f"{type(self).__name__}: state {name!r} has shape {tuple(value.shape)} but the input step "
                f"has shape {tuple(x.shape)}; call reset_net() between sequences of different shapes"
            )
        return value


class BaseNode(Neuron):
    """Threshold-fire-reset scaffold of spikingjelly's ``BaseNode``; subclasses define the charge.

    ``v_reset=None`` selects the soft reset (subtract ``v_threshold``). ``store_v_seq=True``
    keeps the membrane after reset of every step of the last multi-step call in ``v_seq``.
    """

    def __init__(
        self,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: Callable[[torch.Tensor], torch.Tensor] | None = None,
        detach_reset: bool = False,
        step_mode: str = "m",
        store_v_seq: bool = False,
    ) -> None:
        super().__init__(step_mode)
        if v_reset is not None and v_reset >= v_threshold:
            raise ValueError(f"v_reset ({v_reset}) must be below v_threshold ({v_threshold})")
        self.v_threshold = float(v_threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.surrogate_function = Sigmoid() if surrogate_function is None else surrogate_function
        self.detach_reset = detach_reset
        self.store_v_seq = store_v_seq
        self.register_memory("v", 0.0 if v_reset is None else float(v_reset))
        self.register_memory("v_seq", None)

    def neuronal_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def neuronal_fire(self, h: torch.Tensor) -> torch.Tensor:
        return self.surrogate_function(h - self.v_threshold)

    def neuronal_reset(self, h: torch.Tensor, spike: torch.Tensor) -> torch.Tensor:
        s = spike.detach() if self.detach_reset else spike
        if self.v_reset is None:
            return h - s * self.v_threshold
        return h * (1.0 - s) + self.v_reset * s

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.neuronal_charge(x, self._check_state("v", x))
        spike = self.neuronal_fire(h)
        self.v = self.neuronal_reset(h, spike)
        return spike

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        spikes = []
        v_seq = []
        for x in x_seq:
            spikes.append(self.single_step_forward(x))
            if self.store_v_seq:
                v_seq.append(self.v)
        if self.store_v_seq:
            self.v_seq = torch.stack(v_seq) if v_seq else torch.zeros_like(x_seq)
        return torch.stack(spikes) if spikes else torch.zeros_like(x_seq)

    def extra_repr(self) -> str:
        return (
            f"v_threshold={self.v_threshold}, v_reset={self.v_reset}, detach_reset={self.detach_reset}, "
            f"{super().extra_repr()}"
        )


class LIF(BaseNode):
    """Leaky integrate-and-fire neuron (spikingjelly's ``LIFNode`` equations, see the module docstring)."""

    def __init__(
        self,
        tau: float = 2.0,
        decay_input: bool = True,
        v_threshold: float = 1.0,
        v_reset: float | None = 0.0,
        surrogate_function: Callable[[torch.Tensor], torch.Tensor] | None = None,
        detach_reset: bool = False,
        step_mode: str = "m",
        store_v_seq: bool = False,
    ) -> None:
        if tau < 1.0:
            raise ValueError(f"tau must be >= 1 (decay factor 1 - 1/tau in [0, 1)), got {tau}")
        super().__init__(v_threshold, v_reset, surrogate_function, detach_reset, step_mode, store_v_seq)
        self.tau = float(tau)
        self.decay_input = decay_input

    def neuronal_charge(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        v_rest = 0.0 if self.v_reset is None else self.v_reset
        if self.decay_input:
            return v + (x - (v - v_rest)) / self.tau
        return v - (v - v_rest) / self.tau + x

    def _fusable(self) -> bool:
        """Whether the equations are exactly LIF's (not changed by a subclass) with a known surrogate."""
        cls = type(self)
        return (
            cls.single_step_forward is BaseNode.single_step_forward
            and cls.neuronal_charge is LIF.neuronal_charge
            and cls.neuronal_fire is BaseNode.neuronal_fire
            and cls.neuronal_reset is BaseNode.neuronal_reset
            and isinstance(self.surrogate_function, SurrogateFunction)
            and self.surrogate_function.spiking
        )

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        """The whole sequence in one fused loop (one autograd node, in-place buffers) when possible."""
        if not len(x_seq) or not self._fusable():
            return super().multi_step_forward(x_seq)
        v0 = self._check_state("v", x_seq[0])
        if torch.is_grad_enabled() and (x_seq.requires_grad or v0.requires_grad):
            spikes, v_out = _LIFSequence.apply(x_seq, v0, self)
            self.v = v_out[-1]
        else:
            spikes, v_out, _ = _lif_loop(x_seq, v0, self)
            self.v = v_out[-1].clone() if len(v_out) > 1 else v_out[0]
        if self.store_v_seq:
            self.v_seq = v_out
        return spikes

    def extra_repr(self) -> str:
        return f"tau={self.tau}, decay_input={self.decay_input}, {super().extra_repr()}"


def _lif_coefficients(node: LIF) -> tuple[float, float]:
    """``(k, b)`` with ``H = k V + b X + const`` for the node's charge equation."""
    return 1.0 - 1.0 / node.tau, (1.0 / node.tau if node.decay_input else 1.0)


def _lif_loop(x_seq: torch.Tensor, v0: torch.Tensor, node: LIF) -> tuple[torch.Tensor, ...]:
    """LIF over ``x_seq`` with preallocated buffers: spikes, V (every step if ``store_v_seq``, else the
    last, as ``[1, ...]``) and H (kept for the backward)."""
    tau, rest = node.tau, (0.0 if node.v_reset is None else node.v_reset)
    v_th, v_reset = node.v_threshold, node.v_reset
    h_seq = torch.empty_like(x_seq)
    spikes = torch.empty_like(x_seq)
    v_out = torch.empty_like(x_seq) if node.store_v_seq else torch.empty_like(x_seq[:1])
    # Arithmetic with 0/1 floats rather than where/masked_fill, whose CPU kernels are ~10x slower.
    not_fired = None if v_reset is None else torch.empty_like(x_seq[0])
    v = v0
    for t in range(len(x_seq)):
        # The charge in the same operation order as LIF.neuronal_charge, so both modes agree bit for bit.
        h = h_seq[t]
        if node.decay_input:  # H = V + (X - (V - R)) / tau
            if rest:
                torch.sub(x_seq[t], torch.sub(v, rest, out=h), out=h)
            else:
                torch.sub(x_seq[t], v, out=h)
            h.div_(tau).add_(v)
        else:  # H = V - (V - R) / tau + X
            if rest:
                torch.sub(v, rest, out=h).div_(tau)
            else:
                torch.div(v, tau, out=h)
            torch.sub(v, h, out=h).add_(x_seq[t])
        spike = spikes[t]
        torch.ge(h, v_th, out=spike)
        v = v_out[t] if node.store_v_seq else v_out[0]
        if not_fired is None:
            torch.sub(h, spike, alpha=v_th, out=v)  # H - V_th S
        else:
            torch.lt(h, v_th, out=not_fired)
            torch.mul(h, not_fired, out=v)  # H (1 - S) + V_reset S
            if v_reset:
                v.add_(spike, alpha=v_reset)
    return spikes, v_out, h_seq


class _LIFSequence(torch.autograd.Function):
    """LIF over a whole sequence as one autograd node (BPTT in closed form).

    Forward keeps only H[t]. Backward, from the last step to the first, with g' the surrogate
    derivative at H[t] - V_th and S[t] = Θ(H[t] - V_th)::

        dL/dH[t] = dL/dS[t] g' + dL/dV[t] dV[t]/dH[t]
            hard reset: dV/dH = (1 - S) + (V_reset - H) g'      (detach_reset: 1 - S)
            soft reset: dV/dH = 1 - V_th g'                      (detach_reset: 1)
        dL/dX[t] = b dL/dH[t],   dL/dV[t-1] += k dL/dH[t]       (H = k V + b X + const)
    """

    @staticmethod
    def forward(ctx, x_seq: torch.Tensor, v0: torch.Tensor, node: LIF) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, v_out, h_seq = _lif_loop(x_seq, v0.detach(), node)
        ctx.save_for_backward(h_seq)
        ctx.coefficients = _lif_coefficients(node)
        ctx.v_threshold, ctx.v_reset, ctx.detach_reset = node.v_threshold, node.v_reset, node.detach_reset
        ctx.derivative = node.surrogate_function.derivative
        ctx.store_v_seq = node.store_v_seq
        return spikes, v_out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_spikes: torch.Tensor, grad_v_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (h_seq,) = ctx.saved_tensors
        k, b = ctx.coefficients
        v_th, v_reset = ctx.v_threshold, ctx.v_reset
        grad_x = torch.empty_like(h_seq)
        grad_v = torch.zeros_like(h_seq[0]) if ctx.store_v_seq else grad_v_out[0]
        for t in range(len(h_seq) - 1, -1, -1):
            h = h_seq[t]
            sg = ctx.derivative(h - v_th)
            if ctx.store_v_seq:
                grad_v = grad_v + grad_v_out[t]
            if v_reset is None:
                dv_dh = 1.0 if ctx.detach_reset else 1.0 - v_th * sg
            else:
                not_fired = (h < v_th).to(h.dtype)
                dv_dh = not_fired if ctx.detach_reset else not_fired + (v_reset - h) * sg
            grad_h = grad_spikes[t] * sg + grad_v * dv_dh
            torch.mul(grad_h, b, out=grad_x[t])
            grad_v = grad_h * k
        return grad_x, (grad_v if ctx.needs_input_grad[1] else None), None


class IntegerQuantize(torch.autograd.Function):
    """``round(clamp(u, 0, D))`` forward; gradient passed straight through where ``0 <= u <= D``."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, max_value: int) -> torch.Tensor:
        ctx.save_for_backward(u)
        ctx.max_value = max_value
        return torch.round(torch.clamp(u, 0.0, float(max_value)))

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        (u,) = ctx.saved_tensors
        inside = (u >= 0) & (u <= ctx.max_value)
        return grad_output * inside.to(grad_output.dtype), None


class ILIF(Neuron):
    """SpikeYOLO's integer LIF: emits integers in ``{0..max_value}`` (equations in the module docstring).

    ``spike_driven=True`` (inference) emits the same integers as binary spikes over ``max_value``
    virtual steps: multi-step output ``[T * D, B, ...]``, single-step output ``[D, B, ...]``
    (see :func:`expand_spikes`); the expansion carries no gradient.
    """

    def __init__(
        self,
        max_value: int = 4,
        decay: float = 0.25,
        spike_driven: bool = False,
        step_mode: str = "m",
    ) -> None:
        super().__init__(step_mode)
        if int(max_value) != max_value or max_value < 1:
            raise ValueError(f"max_value must be an integer >= 1, got {max_value}")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay must be in [0, 1], got {decay}")
        self.max_value = int(max_value)
        self.decay = float(decay)
        self.spike_driven = spike_driven
        self.register_memory("v", 0.0)
        self.register_memory("spike", 0.0)

    @property
    def max_spike(self) -> int:  # type: ignore[override]
        return 1 if self.spike_driven else self.max_value

    @property
    def virtual_steps(self) -> int:  # type: ignore[override]
        return self.max_value if self.spike_driven else 1

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        v = self._check_state("v", x)
        spike = self._check_state("spike", x)
        u = (v - spike.detach()) * self.decay + x
        s = IntegerQuantize.apply(u, self.max_value)
        self.v = u
        self.spike = s
        return s

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self._step(x)
        return expand_spikes(s.unsqueeze(0), self.max_value) if self.spike_driven else s

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not len(x_seq):
            s = torch.zeros_like(x_seq)
        else:
            v0 = self._check_state("v", x_seq[0])
            s0 = self._check_state("spike", x_seq[0]).detach()
            if torch.is_grad_enabled() and (x_seq.requires_grad or v0.requires_grad):
                s, u = _ILIFSequence.apply(x_seq, v0, s0, self.decay, self.max_value)
                self.v, self.spike = u[-1], s[-1]
            else:
                s, u = _ilif_loop(x_seq, v0, s0, self.decay, self.max_value)
                self.v, self.spike = u[-1].clone(), s[-1].clone()
        return expand_spikes(s, self.max_value) if self.spike_driven else s

    def extra_repr(self) -> str:
        return (
            f"max_value={self.max_value}, decay={self.decay}, spike_driven={self.spike_driven}, "
            f"{super().extra_repr()}"
        )


def _ilif_loop(
    x_seq: torch.Tensor, v0: torch.Tensor, s0: torch.Tensor, decay: float, max_value: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """I-LIF over ``x_seq`` with preallocated buffers: the integer spikes and the membrane u[t]."""
    u_seq = torch.empty_like(x_seq)
    s_seq = torch.empty_like(x_seq)
    u_prev, s_prev = v0, s0
    for t in range(len(x_seq)):
        u, s = u_seq[t], s_seq[t]
        torch.sub(u_prev, s_prev, out=u)
        u.mul_(decay).add_(x_seq[t])
        torch.clamp(u, 0.0, float(max_value), out=s).round_()
        u_prev, s_prev = u, s
    return s_seq, u_seq


class _ILIFSequence(torch.autograd.Function):
    """I-LIF over a whole sequence as one autograd node.

    The reset path is detached, so ``du[t]/du[t-1] = decay``, and the straight-through estimator
    gives ``ds[t]/du[t] = 1{0 <= u[t] <= D}``; from the last step back::

        dL/du[t] = dL/ds[t] 1{0 <= u[t] <= D} + dL/du[t] (direct) + decay dL/du[t+1],   dL/dx[t] = dL/du[t]
    """

    @staticmethod
    def forward(
        ctx, x_seq: torch.Tensor, v0: torch.Tensor, s0: torch.Tensor, decay: float, max_value: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s_seq, u_seq = _ilif_loop(x_seq, v0.detach(), s0, decay, max_value)
        ctx.save_for_backward(u_seq)
        ctx.decay, ctx.max_value = decay, max_value
        return s_seq, u_seq

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_s: torch.Tensor, grad_u: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        (u_seq,) = ctx.saved_tensors
        grad_x = torch.empty_like(u_seq)
        carry = torch.zeros_like(u_seq[0])
        for t in range(len(u_seq) - 1, -1, -1):
            u = u_seq[t]
            inside = ((u >= 0) & (u <= ctx.max_value)).to(u.dtype)
            g = grad_x[t]
            torch.addcmul(grad_u[t], grad_s[t], inside, out=g)
            g.add_(carry)
            carry = g * ctx.decay
        return grad_x, (carry if ctx.needs_input_grad[1] else None), None, None, None


def expand_spikes(s: torch.Tensor, max_value: int) -> torch.Tensor:
    """Integers ``[T, ...]`` in ``{0..D}`` -> binary ``[T * D, ...]`` with ``b[t*D + k] = (s[t] > k)``.

    Each integer becomes ``s`` ones followed by ``D - s`` zeros, so ``b.sum() == s.sum()``.
    """
    k = torch.arange(max_value, device=s.device, dtype=s.dtype).view(1, max_value, *([1] * (s.dim() - 1)))
    return (s.detach().unsqueeze(1) > k).to(s.dtype).flatten(0, 1)


def collapse_spikes(b: torch.Tensor, max_value: int) -> torch.Tensor:
    """Inverse of :func:`expand_spikes`: binary ``[T * D, ...]`` -> integers ``[T, ...]``."""
    if b.shape[0] % max_value:
        raise ValueError(f"leading dimension {b.shape[0]} is not a multiple of max_value={max_value}")
    return b.unflatten(0, (-1, max_value)).sum(1)


SPIKE_DRIVEN_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _linear_part(layer: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """``layer`` without its bias (``layer`` must be one of :data:`SPIKE_DRIVEN_LAYERS`)."""
    if isinstance(layer, nn.Linear):
        return lambda x: nn.functional.linear(x, layer.weight)
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return lambda x: layer._conv_forward(x, layer.weight, None)
    raise TypeError(
        f"spike-driven execution needs a Linear or Conv1d/2d/3d layer, got {type(layer).__name__}; "
        "apply batch norm and other per-channel affine layers after it (or fold them into the conv)"
    )


def spike_driven_apply(layer: nn.Module, b: torch.Tensor, max_value: int) -> torch.Tensor:
    """Run a conv/linear ``layer`` on binary virtual steps ``[T * D, N, ...]``, accumulating: ``[T, N, ...]``.

    ``layer`` takes ``[N, ...]``. Its weights are applied to each of the ``D`` binary virtual
    steps and summed (only additions of weights where a spike is present); the bias is added
    once per real step, as in hardware. The result equals ``layer`` applied to the integers
    that :func:`collapse_spikes` gives.
    """
    if b.shape[0] % max_value:
        raise ValueError(f"leading dimension {b.shape[0]} is not a multiple of max_value={max_value}")
    linear = _linear_part(layer)
    steps = b.unflatten(0, (-1, max_value))  # [T, D, N, ...]
    t, n = steps.shape[0], steps.shape[2]
    out = linear(steps[:, 0].flatten(0, 1))
    for k in range(1, max_value):
        out = out + linear(steps[:, k].flatten(0, 1))
    if layer.bias is not None:
        out = out + layer.bias.view(-1, *([1] * (out.dim() - 2)))
    return out.unflatten(0, (t, n))


class SpikeDriven(StepModule):
    """Wrap a conv/linear layer to consume the binary spikes of ``ILIF(spike_driven=True)``.

    Multi-step: ``[T * D, B, ...]`` binary -> ``[T, B, ...]``; single-step: ``[D, B, ...]`` ->
    ``[B, ...]``. Same result as the layer on the integer spikes; only additions of weights.
    """

    def __init__(self, layer: nn.Module, max_value: int = 4, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        _linear_part(layer)
        self.layer = layer
        self.max_value = int(max_value)

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        out = spike_driven_apply(self.layer, b, self.max_value)
        return out.squeeze(0) if self.step_mode == "s" else out

    def extra_repr(self) -> str:
        return f"max_value={self.max_value}, {super().extra_repr()}"
