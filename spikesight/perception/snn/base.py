"""Stateful, step-mode aware modules: the base every spiking layer builds on.

Follows spikingjelly's conventions (``spikingjelly.activation_based.base`` and ``functional``)
without depending on it:

* ``step_mode="m"`` (multi-step): a module takes a whole sequence ``[T, B, ...]``;
  ``step_mode="s"`` (single-step): one time step ``[B, ...]``. Unlike spikingjelly (whose
  default is ``"s"``), every module here defaults to ``"m"``: the models of this project all
  see ``[T, B, ...]`` windows.
* State (membrane potential, last spike, ...) is registered by name with
  :meth:`MemoryModule.register_memory` and persists across ``forward`` calls, so a stream
  of windows is processed as one long sequence until :func:`reset_net` clears it.
* :func:`detach_net` cuts the autograd graph held by the state, for truncated BPTT on streams.
* :func:`set_step_mode` switches every module of a network at once.

State is not part of ``state_dict`` (it is not a parameter or buffer) but follows the module
through ``.to(device)``, ``.double()`` and friends.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

STEP_MODES = ("s", "m")


def _check_step_mode(step_mode: str) -> str:
    if step_mode not in STEP_MODES:
        raise ValueError(f"step_mode must be 's' (single-step) or 'm' (multi-step), got {step_mode!r}")
    return step_mode


class StepModule(nn.Module):
    """A module that knows the step mode: ``"s"`` takes ``[B, ...]``, ``"m"`` takes ``[T, B, ...]``."""

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__()
        self._step_mode = _check_step_mode(step_mode)

    @property
    def step_mode(self) -> str:
        return self._step_mode

    @step_mode.setter
    def step_mode(self, value: str) -> None:
        self._step_mode = _check_step_mode(value)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode!r}"


class SeqToANN(StepModule):
    """Apply stateless layers to every time step at once by folding ``T`` into the batch.

    In multi-step mode ``[T, B, ...]`` is reshaped to ``[T * B, ...]``, passed through the
    layers and unfolded again (spikingjelly's ``SeqToANNContainer``); in single-step mode the
    layers are applied directly.
    """

    def __init__(self, *layers: nn.Module, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.module = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.module(x)
        t, b = x.shape[:2]
        y = self.module(x.flatten(0, 1))
        return y.unflatten(0, (t, b))


class MemoryModule(StepModule):
    """A step-mode module with named state that persists between calls.

    Subclasses call ``self.register_memory("v", 0.0)`` in ``__init__``, then read and write
    ``self.v`` like an attribute. :meth:`reset` restores every memory to (a copy of) its
    registered value. Subclasses implement :meth:`single_step_forward`; the default
    :meth:`multi_step_forward` loops over ``T`` and stacks the outputs.
    """

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self._memories: dict[str, Any] = {}
        self._memories_rv: dict[str, Any] = {}

    def register_memory(self, name: str, value: Any) -> None:
        """Declare state ``name`` with its reset value (a float, ``None`` or a tensor)."""
        if name in self._memories or hasattr(self, name):
            raise AttributeError(f"{name!r} is already an attribute of {type(self).__name__}")
        self._memories[name] = value
        self._memories_rv[name] = copy.deepcopy(value)

    def memories(self) -> dict[str, Any]:
        """The current state, by name (tensors are not copied)."""
        return dict(self._memories)

    def reset(self) -> None:
        """Restore every memory to its registered reset value."""
        for name, value in self._memories_rv.items():
            self._memories[name] = copy.deepcopy(value)

    def detach(self) -> None:
        """Cut the autograd graph held by the state (truncated BPTT); values are kept."""
        for name, value in self._memories.items():
            if isinstance(value, torch.Tensor):
                self._memories[name] = value.detach()

    def __getattr__(self, name: str) -> Any:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            return memories[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            memories[name] = value
        else:
            super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        memories = self.__dict__.get("_memories")
        if memories is not None and name in memories:
            del memories[name]
            del self._memories_rv[name]
        else:
            super().__delattr__(name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._memories))

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> MemoryModule:
        # Keep tensor state (and tensor reset values) on the module's device and dtype.
        for store in (self._memories, self._memories_rv):
            for name, value in store.items():
                if isinstance(value, torch.Tensor):
                    store[name] = fn(value)
        return super()._apply(fn, recurse)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.step_mode == "s":
            return self.single_step_forward(x)
        return self.multi_step_forward(x)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def multi_step_forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if not len(x_seq):
            raise ValueError(f"{type(self).__name__}: empty sequence (T = 0)")
        return torch.stack([self.single_step_forward(x) for x in x_seq])


def reset_net(net: nn.Module) -> None:
    """Reset the state of every :class:`MemoryModule` in ``net`` (call between independent sequences)."""
    for m in net.modules():
        if isinstance(m, MemoryModule):
            m.reset()


def detach_net(net: nn.Module) -> None:
    """Detach the state of every :class:`MemoryModule` in ``net`` from the autograd graph."""
    for m in net.modules():
        if isinstance(m, MemoryModule):
            m.detach()


def set_step_mode(net: nn.Module, step_mode: str) -> None:
    """Set ``step_mode`` (``"s"`` or ``"m"``) on every :class:`StepModule` in ``net``."""
    _check_step_mode(step_mode)
    for m in net.modules():
        if isinstance(m, StepModule):
            m.step_mode = step_mode
