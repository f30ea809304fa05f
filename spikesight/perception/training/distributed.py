"""One process or many under ``torchrun``: the little that differs between them.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` then joins the
process group (NCCL on CUDA, gloo on the CPU). Without them everything runs in one process
and these helpers are no-ops.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    """Where this process stands: ``rank`` of ``world`` processes, on ``device``."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: CUDA when present, else the CPU; anything else as torch names it."""
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device)


def setup(device: str = "auto") -> Dist:
    """Join the ``torchrun`` group if there is one, and pick this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    dev = resolve_device(device)
    if dev.type == "cuda":
        dev = torch.device("cuda", local if dev.index is None else dev.index)
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Dist(rank, world, local, dev)


def barrier(d: Dist) -> None:
    if d.distributed:
        dist.barrier()


def all_reduce_mean(values: torch.Tensor, d: Dist) -> torch.Tensor:
    """The mean of ``values`` over all processes (the tensor itself with one process)."""
    if d.distributed:
        values = values.clone()
        dist.all_reduce(values)
        values /= d.world
    return values


def broadcast_object(obj: object, d: Dist) -> object:
    """Rank 0's ``obj`` on every process."""
    if not d.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def teardown(d: Dist) -> None:
    if d.distributed and dist.is_initialized():
        dist.destroy_process_group()
