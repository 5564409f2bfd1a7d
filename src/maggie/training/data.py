"""Batches for the trainer: a resumable, rank-aware epoch order over any map-style dataset.

A dataset item is a dict of tensors (see :mod:`maggie.data.pipeline`): ``image (T,3,H,W)``,
``alpha``, ``masks``, ``transition`` ``(T,N,H,W)``, ``valid (N,)`` and, for video,
``sparsity (T,1,H,W)``. The default collate stacks them into ``(B, ...)`` batches.

The order of epoch ``e`` is PyTorch's :class:`~torch.utils.data.DistributedSampler` order for
``seed + e`` (one replica without DDP), so it depends only on the seed, the epoch and the rank.
A resumed run at global step ``s`` restarts epoch ``s // steps_per_epoch`` and skips the batches
already consumed. Datasets with a ``set_epoch(epoch)`` method are told the epoch, so their
per-sample randomness can be a function of (seed, epoch, index); DataLoader workers are seeded
from a generator of (seed, epoch, rank).
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

__all__ = ["steps_per_epoch", "epoch_loader", "eval_loader"]


def _sampler(dataset: Dataset[Any], *, rank: int, world_size: int, seed: int, epoch: int) -> DistributedSampler[Any]:
    sampler: DistributedSampler[Any] = DistributedSampler(
        dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed, drop_last=True
    )
    sampler.set_epoch(epoch)
    return sampler


def steps_per_epoch(dataset: Dataset[Any], *, batch_size: int, world_size: int) -> int:
    """Full batches each rank gets per epoch; raises if the dataset cannot fill one."""
    per_rank = len(dataset) // world_size  # type: ignore[arg-type]
    steps = per_rank // batch_size
    if steps < 1:
        raise ValueError(
            f"the training set has {len(dataset)} samples, fewer than batch_size × world_size = "  # type: ignore[arg-type]
            f"{batch_size} × {world_size}"
        )
    return steps


def epoch_loader(
    dataset: Dataset[Any],
    *,
    epoch: int,
    skip_batches: int,
    batch_size: int,
    rank: int,
    world_size: int,
    seed: int,
    num_workers: int,
    pin_memory: bool,
) -> DataLoader[Any]:
    """Loader over this rank's share of epoch ``epoch``, starting after ``skip_batches`` batches."""
    if hasattr(dataset, "set_epoch"):
        dataset.set_epoch(epoch)
    indices = list(_sampler(dataset, rank=rank, world_size=world_size, seed=seed, epoch=epoch))
    indices = indices[skip_batches * batch_size :]
    # Worker seeds come from this generator, not from the global RNG, so they do not depend on
    # what ran before in the process (a resumed run creates its loaders at other RNG states).
    generator = torch.Generator().manual_seed((seed * 100_003 + epoch) * 1_009 + rank)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=indices,
        num_workers=num_workers,
        drop_last=True,
        pin_memory=pin_memory,
        generator=generator,
    )


def eval_loader(dataset: Dataset[Any], *, num_workers: int, pin_memory: bool) -> DataLoader[Any]:
    """One sample at a time, in dataset order (validation crops may differ in size)."""
    return DataLoader(dataset, batch_size=1, shuffle=False, num_workers=num_workers, pin_memory=pin_memory)
