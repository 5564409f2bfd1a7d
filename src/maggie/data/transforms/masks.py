"""Guidance masks from ground-truth alphas: training degradations and test-style predictions.

At test time the guidance comes from a segmentation model or a video tracker, so it is binary,
a little too large or too small, blocky, and sometimes misses a part or a person. Training masks
are degraded from the alphas in the same ways (reference §5.3 steps 10–15 and §5.4), so that the
model learns to trust the image where the mask is wrong.

Masks are float tensors in {0, 1}, shaped like the alphas: ``(T, N, H, W)``. All randomness comes
from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...ops.morphology import dilate, erode
from ..config import MaskAugmentConfig

__all__ = [
    "square_dilate",
    "square_erode",
    "random_binarize",
    "down_up",
    "cut_masks",
    "mask_dropout",
    "block_nearest",
    "degrade_masks",
    "small_instances",
    "simulate_predicted_masks",
]


def _box_count(mask: torch.Tensor, size: int, border: int) -> torch.Tensor:
    # Number of set pixels in the size×size window anchored like OpenCV (anchor = size // 2),
    # from an integral image: O(1) per pixel whatever the kernel size.
    a = size // 2
    b = size - 1 - a
    padded = F.pad(mask.to(torch.int32), (a, b, a, b), value=border)
    integral = F.pad(padded.cumsum(-1).cumsum(-2), (1, 0, 1, 0))
    k = size
    return integral[..., k:, k:] - integral[..., :-k, k:] - integral[..., k:, :-k] + integral[..., :-k, :-k]


def square_dilate(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Binary dilation of ``(..., H, W)`` with a ``size×size`` square (float {0, 1} out)."""
    if size <= 1:
        return (mask > 0.5).float()
    return (_box_count(mask > 0.5, size, 0) > 0).float()


def square_erode(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Binary erosion with a ``size×size`` square; the outside of the image counts as set."""
    if size <= 1:
        return (mask > 0.5).float()
    return (_box_count(mask > 0.5, size, 1) == size * size).float()


def random_binarize(
    alpha: torch.Tensor,
    rng: np.random.Generator,
    *,
    max_kernel: int = 30,
    threshold: tuple[float, float] = (0.1, 0.95),
) -> torch.Tensor:
    """Per mask: threshold at U(threshold), then one of dilate→erode, erode→dilate, dilate or
    erode with square kernels of size U{1..max_kernel-1} (reference ``RandomBinarizedMask``)."""
    flat = alpha.reshape(-1, *alpha.shape[-2:])
    out = torch.empty_like(flat)
    for i, a in enumerate(flat):
        m = (a > rng.uniform(*threshold)).float()
        k_dilate, k_erode = (int(k) for k in rng.integers(1, max_kernel, size=2))
        op = int(rng.integers(4))
        if op == 0:
            m = square_erode(square_dilate(m, k_dilate), k_erode)
        elif op == 1:
            m = square_dilate(square_erode(m, k_erode), k_dilate)
        elif op == 2:
            m = square_dilate(m, k_dilate)
        else:
            m = square_erode(m, k_erode)
        out[i] = m
    return out.reshape(alpha.shape)


def down_up(masks: torch.Tensor, rng: np.random.Generator, *, p: float = 0.5, scale: float = 0.125) -> torch.Tensor:
    """Per mask with probability ``p``: bilinear resize by ``scale`` and back, then > 0.5."""
    flat = masks.reshape(-1, 1, *masks.shape[-2:]).clone()
    h, w = masks.shape[-2:]
    small = (max(1, round(h * scale)), max(1, round(w * scale)))
    for i in range(flat.shape[0]):
        if rng.random() < p:
            low = F.interpolate(flat[i : i + 1], size=small, mode="bilinear", align_corners=False)
            flat[i] = (F.interpolate(low, size=(h, w), mode="bilinear", align_corners=False) > 0.5).float()[0]
    return flat.reshape(masks.shape)


def _patch(rng: np.random.Generator, h: int, w: int) -> tuple[int, int, int, int]:
    ph = int(rng.integers(max(1, h // 8), max(1, h // 4) + 1))
    pw = int(rng.integers(max(1, w // 8), max(1, w // 4) + 1))
    return ph, pw, int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))


def cut_masks(masks: torch.Tensor, rng: np.random.Generator, *, p: float = 0.5) -> torch.Tensor:
    """Reference ``CutMask`` on ``(T, N, H, W)``, frame by frame.

    Half of the calls copy a patch (1/8–1/4 of each side) from elsewhere in the same mask, for
    each mask with probability ``p``; the other half swap one patch between two instances with
    probability ``p`` (a mask that leaks onto a neighbour).
    """
    out = masks.clone()
    t, n, h, w = masks.shape
    internal = rng.random() < 0.5
    for f in range(t):
        if internal:
            for k in range(n):
                if rng.random() < p:
                    ph, pw, y, x = _patch(rng, h, w)
                    sy, sx = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
                    out[f, k, y : y + ph, x : x + pw] = masks[f, k, sy : sy + ph, sx : sx + pw]
        elif n >= 2 and rng.random() < p:
            i, j = (int(v) for v in rng.choice(n, size=2, replace=False))
            ph, pw, y, x = _patch(rng, h, w)
            out[f, i, y : y + ph, x : x + pw] = masks[f, j, y : y + ph, x : x + pw]
            out[f, j, y : y + ph, x : x + pw] = masks[f, i, y : y + ph, x : x + pw]
    return out


def _hole(rng: np.random.Generator, mask: torch.Tensor, area: tuple[float, float]) -> tuple[int, int, int, int] | None:
    rows, cols = mask.any(-1).nonzero().flatten(), mask.any(-2).nonzero().flatten()
    if rows.numel() == 0:
        return None
    bh, bw = int(rows[-1] - rows[0]) + 1, int(cols[-1] - cols[0]) + 1
    side = float(np.sqrt(rng.uniform(*area)))
    hh, hw = max(1, round(bh * side)), max(1, round(bw * side))
    y = int(rows[0]) + int(rng.integers(0, bh - hh + 1))
    x = int(cols[0]) + int(rng.integers(0, bw - hw + 1))
    return y, x, hh, hw


def mask_dropout(
    masks: torch.Tensor,
    rng: np.random.Generator,
    *,
    p: float = 0.5,
    min_masks: int = 6,
    area: tuple[float, float] = (1 / 16, 1 / 8),
) -> torch.Tensor:
    """Reference ``MaskDropout``: with probability ``p`` (and at least ``min_masks`` masks in
    the ``T·N`` stack), zero one rectangle covering ``area`` of the bounding box in
    U{1..M/2} random masks."""
    flat = masks.reshape(-1, *masks.shape[-2:]).clone()
    count = flat.shape[0]
    if count < min_masks or rng.random() >= p:
        return masks.clone()
    chosen = rng.choice(count, size=int(rng.integers(1, max(1, count // 2) + 1)), replace=False)
    for i in chosen:
        hole = _hole(rng, flat[i] > 0.5, area)
        if hole is not None:
            y, x, hh, hw = hole
            flat[i, y : y + hh, x : x + hw] = 0
    return flat.reshape(masks.shape)


def block_nearest(masks: torch.Tensor, block: int) -> torch.Tensor:
    """Replicate the value at ``(block·i, block·j)`` over each ``block×block`` cell.

    This is nearest down-sampling by ``block`` followed by nearest up-sampling, i.e. what the
    model sees from 1/8-resolution guidance (reference image training and evaluation).
    """
    if block <= 1:
        return masks.clone()
    h, w = masks.shape[-2:]
    sampled = masks[..., ::block, ::block]
    return sampled.repeat_interleave(block, -2).repeat_interleave(block, -1)[..., :h, :w].contiguous()


def degrade_masks(alpha: torch.Tensor, rng: np.random.Generator, config: MaskAugmentConfig) -> torch.Tensor:
    """Training guidance ``(T, N, H, W)`` from alphas ``(T, N, H, W)`` in [0, 1]: random
    binarisation with dilate/erode, down-up, cut, dropout (in the reference's order). The
    nearest block step is applied after the instances are scattered into slots."""
    masks = random_binarize(alpha, rng, max_kernel=config.binarize_max_kernel, threshold=config.threshold)
    masks = down_up(masks, rng, p=config.down_up_p, scale=config.down_up_scale)
    masks = cut_masks(masks, rng, p=config.cut_p)
    if config.dropout_p > 0:
        masks = mask_dropout(masks, rng, p=config.dropout_p, min_masks=config.dropout_min_masks)
    return masks


def small_instances(alpha: torch.Tensor, min_area: float) -> list[int]:
    """Indices of instances of ``alpha (T, N, H, W)`` whose ``alpha > 0.5`` area is below
    ``min_area`` (fraction of the frame) in every frame."""
    h, w = alpha.shape[-2:]
    area = (alpha > 0.5).sum((-2, -1)).float() / (h * w)
    return [int(k) for k in (area < min_area).all(0).nonzero().flatten()]


def _exclusive(masks: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    # Where grown masks overlap, the instance with the most alpha keeps the pixel (ties: the
    # later, i.e. front-most, instance), like the one-label-per-pixel output of a tracker.
    on = masks > 0.5
    best = torch.full_like(alpha[:, 0], -1.0)
    winner = torch.full(best.shape, -1, dtype=torch.long)
    for k in range(masks.shape[1]):
        better = on[:, k] & (alpha[:, k] >= best)
        best = torch.where(better, alpha[:, k], best)
        winner = torch.where(better, k, winner)
    return torch.stack([winner == k for k in range(masks.shape[1])], 1).float()


def simulate_predicted_masks(
    alpha: torch.Tensor,
    rng: np.random.Generator,
    *,
    boundary: float = 0.015,
    roughen_p: float = 0.5,
    dropout_p: float = 0.2,
) -> torch.Tensor:
    """Test-style guidance ``(T, N, H, W)`` from alphas: what a segmenter or tracker returns.

    Per instance: binarise at 0.5, grow or shrink the mask by an elliptical kernel of up to
    ``boundary``·min(H, W) pixels (the size drifts by ±1 px per frame), with probability
    ``roughen_p`` make the edges blocky (1/8-resolution bilinear down-up), and with probability
    ``dropout_p`` lose one part (a rectangle of 1/16–1/8 of the bounding box) for a run of
    frames. Overlaps are resolved so that every pixel belongs to at most one instance.
    """
    t, n, h, w = alpha.shape
    masks = (alpha > 0.5).float()
    max_size = max(1, round(boundary * min(h, w)))
    out = torch.zeros_like(masks)
    for k in range(n):
        size = int(rng.integers(0, max_size + 1))
        grow = bool(rng.random() < 0.5)
        rough = bool(rng.random() < roughen_p)
        lost = bool(rng.random() < dropout_p)
        start = int(rng.integers(0, t))
        stop = int(rng.integers(start + 1, t + 1))
        hole = None
        for f in range(t):
            m = masks[f, k]
            s = max(0, size + int(rng.integers(-1, 2))) if t > 1 else size
            if s > 0:
                m = dilate(m, 2 * s + 1) if grow else erode(m, 2 * s + 1)
            if rough:
                m = down_up(m[None, None], rng, p=1.0, scale=0.125)[0, 0]
            if lost and start <= f < stop:
                # The same region stays missing for the whole run, as when a tracker loses it.
                hole = hole or _hole(rng, m > 0.5, (1 / 16, 1 / 8))
                if hole is not None:
                    y, x, hh, hw = hole
                    m = m.clone()
                    m[y : y + hh, x : x + hw] = 0
            out[f, k] = m
    return _exclusive(out, alpha)
