"""Synthetic scenes for the benchmarks: people-like silhouettes over a smooth background."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def people_scene(height: int, width: int, n: int, *, shift: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An ``H×W×3`` uint8 frame and ``n`` non-overlapping person masks ``n×H×W`` bool.

    People stand side by side (head ellipse + torso), each about ``width / (n + 1)`` wide, and
    move ``shift`` pixels to the right (for video frames).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:height, :width].astype(np.float32)
    image = np.stack(
        [120 + 60 * np.sin(xx / 90), 110 + 50 * np.cos(yy / 70), 130 + 40 * np.sin((xx + yy) / 120)], axis=-1
    )
    image += rng.normal(0, 6, image.shape)
    masks = np.zeros((n, height, width), dtype=bool)
    step = width / (n + 1)
    for i in range(n):
        cx = (i + 1) * step + shift
        head_r = 0.35 * step
        cy = 0.3 * height
        head = ((xx - cx) / (0.8 * head_r)) ** 2 + ((yy - cy) / head_r) ** 2 < 1
        torso = (np.abs(xx - cx) < 0.45 * step + 0.1 * (yy - cy - head_r).clip(0)) & (yy > cy + 0.8 * head_r)
        masks[i] = (head | torso) & ~masks[:i].any(axis=0)
        image[masks[i]] = 0.5 * image[masks[i]] + 0.5 * np.array([200, 150, 120], dtype=np.float32)
    return image.clip(0, 255).astype(np.uint8), masks


def soft_alpha(masks: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """A soft matte from binary masks ``(..., H, W)``: the edge blurred over ``2·radius + 1`` px."""
    shape = masks.shape
    x = masks.reshape(-1, 1, *shape[-2:]).float()
    kernel = torch.ones(1, 1, 2 * radius + 1, 2 * radius + 1) / (2 * radius + 1) ** 2
    return F.conv2d(F.pad(x, [radius] * 4, mode="replicate"), kernel).reshape(shape)
