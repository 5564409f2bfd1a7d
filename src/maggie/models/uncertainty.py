"""Coarse alpha from the instance logits, and the uncertainty band the refinement works on.

* ``A8 = (tanh(up8(logits)) + 1) / 2`` — bilinear up-sampling to full resolution first. The paper
  says "sigmoid"; this is sigmoid(2·logit), which the checkpoints depend on.
* ``U = dilate(1/255 < A8 < 254/255)`` with an elliptical kernel of width ``kernel // 2`` at
  inference; in training the width of each (frame, instance) slice is drawn uniformly from
  ``[1, kernel - 1]``.
* Video only: coarse values ≥ 0.95 snap to 1 before the band is computed, and afterwards both
  the band and the coarse alpha are cleared outside each instance's bounding box (found on a
  smoothed coarse alpha, widened by a margin).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..ops.morphology import dilate

__all__ = [
    "LOW",
    "HIGH",
    "coarse_alpha",
    "transition",
    "dilate_slices",
    "uncertainty_band",
    "snap_coarse",
    "crop_to_instance_boxes",
]

LOW = 1.0 / 255.0
HIGH = 254.0 / 255.0


def coarse_alpha(logits: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Logits ``(B, T, N, h, w)`` → coarse alpha ``(B, T, N, H, W)``."""
    b, t, n = logits.shape[:3]
    up = F.interpolate(logits.flatten(0, 1), size=size, mode="bilinear", align_corners=False)
    return ((torch.tanh(up) + 1) / 2).view(b, t, n, *size)


def transition(alpha: torch.Tensor) -> torch.Tensor:
    """Pixels that are neither background nor foreground: ``1/255 < α < 254/255``."""
    return (alpha > LOW) & (alpha < HIGH)


def dilate_slices(
    mask: torch.Tensor, kernel: int, *, randomize: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """Dilate each ``H×W`` slice of a bool ``(..., H, W)`` mask with an ellipse.

    Width ``kernel // 2`` everywhere, or (``randomize``) a width drawn per slice from
    ``[1, kernel - 1]``, as the reference does during training.
    """
    if not randomize:
        return dilate(mask, kernel // 2)
    flat = mask.reshape(-1, *mask.shape[-2:])
    widths = torch.randint(1, kernel, (flat.shape[0],), generator=generator)
    out = torch.empty_like(flat)
    for width in torch.unique(widths).tolist():
        idx = torch.nonzero(widths == width).squeeze(1).to(flat.device)
        out[idx] = dilate(flat[idx], int(width))
    return out.view_as(mask)


def uncertainty_band(
    alpha: torch.Tensor, kernel: int, *, randomize: bool = False, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Bool band ``U`` of an alpha ``(B, T, N, H, W)``: its dilated transition region."""
    return dilate_slices(transition(alpha), kernel, randomize=randomize, generator=generator)


def snap_coarse(alpha: torch.Tensor, threshold: float) -> torch.Tensor:
    """Set coarse values at or above ``threshold`` to exactly 1."""
    return torch.where(alpha >= threshold, torch.ones_like(alpha), alpha)


def _smoothing_kernel(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    # The reference's 7-tap σ=3 Gaussian smoothing ends up with K[r, c] = g[c]² in every row
    # (a broadcasting slip); only the thresholded box depends on it, so we keep it as is.
    x = torch.arange(7, dtype=torch.float64)
    g = torch.exp(-(((x - 3) / 3) ** 2) / 2) / (3 * math.sqrt(2 * math.pi))
    g = g / g.sum()
    return (g**2).expand(7, 7).to(device=device, dtype=dtype).reshape(1, 1, 7, 7)


def crop_to_instance_boxes(
    alpha: torch.Tensor, band: torch.Tensor, *, margin: int, threshold: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Clear ``alpha`` and ``band`` (``(B, T, N, H, W)``) outside each slice's bounding box.

    The box is that of ``smooth(alpha) > threshold``, widened by ``margin`` pixels (its end
    exclusive at ``max + margin``). Slices with an empty box are left unchanged.
    """
    shape = alpha.shape
    h, w = shape[-2:]
    flat = alpha.reshape(-1, 1, h, w)
    smooth = F.conv2d(F.pad(flat, (3, 3, 3, 3)), _smoothing_kernel(alpha.device, alpha.dtype))
    smooth = F.interpolate(smooth[..., 3:-3, 3:-3], size=(h, w), mode="bilinear", align_corners=False)
    on = smooth[:, 0] > threshold  # (S, H, W)
    rows, cols = on.any(dim=2), on.any(dim=1)  # (S, H), (S, W)

    def span(hit: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
        first = hit.float().argmax(dim=1)
        last = size - 1 - hit.flip(1).float().argmax(dim=1)
        return (first - margin).clamp(min=0), (last + margin).clamp(max=size)

    y0, y1 = span(rows, h)
    x0, x1 = span(cols, w)
    ys = torch.arange(h, device=alpha.device).view(1, h, 1)
    xs = torch.arange(w, device=alpha.device).view(1, 1, w)
    inside = (ys >= y0.view(-1, 1, 1)) & (ys < y1.view(-1, 1, 1)) & (xs >= x0.view(-1, 1, 1)) & (xs < x1.view(-1, 1, 1))
    empty = ~rows.any(dim=1)
    keep = inside | empty.view(-1, 1, 1)
    keep = keep.view(shape)
    return alpha * keep, band & keep
