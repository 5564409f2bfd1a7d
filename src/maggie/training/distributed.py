"""Process-group setup: single process by default, DDP when launched by ``torchrun``.

``torchrun --nproc_per_node=K`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``. With
``WORLD_SIZE > 1`` the trainer joins a process group: NCCL on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.distributed as dist

__all__ = ["DistContext", "setup_distributed", "resolve_device"]


def resolve_device(preference: Literal["auto", "cpu", "cuda"], local_rank: int = 0) -> torch.device:
    """``auto`` picks CUDA when available; with CUDA each local rank gets its own GPU."""
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was requested but CUDA is not available")
    return torch.device("cuda", local_rank)


@dataclass
class DistContext:
    """This process's place in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialized_here: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (a one-element list without DDP)."""
        if not self.distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a tensor over ranks (identity without DDP); the result is on the CPU."""
        if not self.distributed:
            return values.cpu()
        buffer = values.to(self.device, copy=True)  # NCCL reduces CUDA tensors only
        dist.all_reduce(buffer)
        return buffer.cpu()

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """Average a tensor over ranks (identity without DDP); the result is on the CPU."""
        return self.sum(values) / self.world_size

    def close(self) -> None:
        if self.initialized_here and dist.is_initialized():
            dist.destroy_process_group()


def setup_distributed(device: Literal["auto", "cpu", "cuda"] = "auto") -> DistContext:
    """Join the torchrun process group if ``WORLD_SIZE > 1``; otherwise a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=resolve_device(device))
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = resolve_device(device, local_rank)
    initialized_here = False
    if not dist.is_initialized():
        if target.type == "cuda":
            torch.cuda.set_device(target)
        dist.init_process_group(backend="nccl" if target.type == "cuda" else "gloo")
        initialized_here = True
    return DistContext(
        rank=rank,
        world_size=world_size,
        local_rank=local_rank,
        device=target,
        initialized_here=initialized_here,
    )
