"""Datasets named by a training config, and the periodic validation score.

Validation runs the bare model (not DDP) in eval mode on one sample at a time, passes only the
sample's real instances (as the reference evaluation does), crops the padding away (the
sample's ``size``), and reports MAD and MSE in the reference convention
(:mod:`maggie.metrics`) averaged over all (frame, instance) slices. Under DDP every rank scores
a share of the set and the sums are added up, so no rank idles long enough to hit a
collective's timeout. The full metric set is the job of ``maggie eval``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
from torch.utils.data import Dataset, Subset

from .config import TrainConfig
from .data import eval_loader

__all__ = ["build_datasets", "validation_sums", "scores_from_sums"]


def build_datasets(config: TrainConfig) -> tuple[Dataset[Any], Dataset[Any] | None]:
    """The training and (optional) validation sets described by ``config.data``."""
    from ..data.datasets import ImageMattingDataset, VideoMattingDataset

    section = config.data
    cls = VideoMattingDataset if section.kind == "video" else ImageMattingDataset
    train_set = cls(section.typed("train"), train=True)
    val_set = cls(section.typed("val"), train=False) if section.val is not None else None
    return train_set, val_set


@torch.no_grad()
def validation_sums(
    model: torch.nn.Module,
    dataset: Dataset[Any],
    *,
    device: torch.device,
    num_workers: int = 0,
    amp_dtype: torch.dtype | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> torch.Tensor:
    """``[Σ MAD, Σ MSE, slices]`` over samples ``rank, rank + world_size, …`` (float64, CPU).

    Each rank scores its own share, so summing the results over ranks gives the whole set.
    """
    from ..metrics import mad, mse

    share = Subset(dataset, range(rank, len(dataset), world_size))  # type: ignore[arg-type]
    sums = torch.zeros(3, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        for batch in eval_loader(share, num_workers=num_workers, pin_memory=device.type == "cuda"):
            valid = batch["valid"][0]
            if not bool(valid.any()):
                continue
            autocast = (
                torch.autocast(device_type=device.type, dtype=amp_dtype)
                if amp_dtype is not None
                else contextlib.nullcontext()
            )
            with autocast:
                pred = model(batch["image"].to(device), batch["masks"][:, :, valid].to(device)).alpha[0].float()
            gt = batch["alpha"][0][:, valid]
            if "size" in batch:
                h, w = (int(v) for v in batch["size"][0])
                pred, gt = pred[..., :h, :w], gt[..., :h, :w]
            p, g = pred.cpu().numpy(), gt.numpy()
            sums += torch.tensor([mad(p, g).sum(), mse(p, g).sum(), p.shape[0] * p.shape[1]], dtype=torch.float64)
    finally:
        model.train(was_training)
    return sums


def scores_from_sums(sums: torch.Tensor) -> dict[str, float]:
    """Mean reference-convention ``MAD`` and ``MSE`` per (frame, instance) slice."""
    count = max(float(sums[2]), 1.0)
    return {"MAD": float(sums[0]) / count, "MSE": float(sums[1]) / count}
