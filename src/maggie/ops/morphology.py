"""Elliptical morphology that matches OpenCV's ``MORPH_ELLIPSE`` + ``cv2.dilate``/``cv2.erode``.

The reference implementation computes its uncertainty bands, refinement regions and evaluation
trimaps with OpenCV on the CPU. These functions compute the same sets in PyTorch, on any device,
for a whole batch at once. Pixels outside the image never dilate into it (and never erode it),
which is OpenCV's default constant border for these operations.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["ellipse_kernel", "ellipse_half_widths", "dilate", "erode"]


def ellipse_half_widths(size: int) -> tuple[int, ...]:
    """Half-width of each row of the ``size``×``size`` elliptical element (-1 for an empty row).

    Row ``i`` covers columns ``c - w .. c + w`` (clipped to the kernel), ``c = size // 2``.
    This is OpenCV's ``getStructuringElement(MORPH_ELLIPSE, (size, size))``, including its
    integer radius and round-half-to-even.
    """
    return _half_widths(int(size))


@functools.cache
def _half_widths(size: int) -> tuple[int, ...]:
    if size < 1:
        raise ValueError(f"kernel size must be >= 1, got {size}")
    r = c = size // 2
    inv_r2 = 1.0 / (r * r) if r else 0.0
    widths = []
    for i in range(size):
        dy = i - r
        if abs(dy) > r:
            widths.append(-1)
            continue
        dx = round(c * math.sqrt((r * r - dy * dy) * inv_r2))
        widths.append(int(dx))
    return tuple(widths)


def ellipse_kernel(size: int) -> np.ndarray:
    """The ``size``×``size`` elliptical structuring element as a boolean array."""
    kernel = np.zeros((size, size), dtype=bool)
    c = size // 2
    for i, w in enumerate(ellipse_half_widths(size)):
        if w >= 0:
            kernel[i, max(c - w, 0) : min(c + w + 1, size)] = True
    return kernel


def dilate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-level dilation of the last two dims of ``x`` with the elliptical element of ``size``.

    Works for boolean masks (returns bool) and real-valued maps. Implemented as a maximum of
    vertically shifted horizontal max-pools, one per distinct row width, which costs
    ``O(size)`` passes instead of ``O(size²)``.
    """
    if size <= 1:
        return x.clone()
    if x.dtype == torch.bool:
        return _dilate_binary(x, size)
    if x.dtype in (torch.float16, torch.bfloat16):
        work = x.float()
    else:
        work = x
    shape = work.shape
    h, w = shape[-2], shape[-1]
    flat = work.reshape(-1, 1, h, w)
    if not flat.is_floating_point():
        flat = flat.float()
    low = torch.finfo(flat.dtype).min
    widths = ellipse_half_widths(size)
    c = size // 2
    pooled: dict[int, torch.Tensor] = {}
    out = torch.full_like(flat, low)
    for i, hw in enumerate(widths):
        if hw < 0:
            continue
        # Even sizes put the anchor right of centre, so the kernel is clipped on the right.
        left, right = min(hw, c), min(hw, size - 1 - c)
        key = left * size + right
        if key not in pooled:
            padded = F.pad(flat, (left, right), value=low) if left or right else flat
            pooled[key] = F.max_pool2d(padded, kernel_size=(1, left + right + 1), stride=1)
        src = pooled[key]
        dy = i - c  # output row y takes input row y + dy
        if dy == 0:
            shifted = src
        elif abs(dy) >= h:
            continue
        elif dy > 0:
            shifted = F.pad(src[..., dy:, :], (0, 0, 0, dy), value=low)
        else:
            shifted = F.pad(src[..., : h + dy, :], (0, 0, -dy, 0), value=low)
        out = torch.maximum(out, shifted)
    return out.reshape(shape).to(x.dtype)


def _dilate_binary(x: torch.Tensor, size: int) -> torch.Tensor:
    """Binary dilation, computed per slice on the bounding box of its set pixels grown by the
    kernel's reach: a person's band covers a small part of the frame, so the cost follows the
    people's extent rather than ``slices × H × W``."""
    h, w = x.shape[-2:]
    flat = x.reshape(-1, h, w)
    out = torch.zeros_like(flat)
    reach = size // 2  # the anchor's distance to the kernel's far edge, on the longer side
    rows, cols = flat.any(dim=2), flat.any(dim=1)
    for s in torch.nonzero(rows.any(dim=1)).squeeze(1).tolist():
        ys, xs = torch.nonzero(rows[s]).squeeze(1), torch.nonzero(cols[s]).squeeze(1)
        y0, y1 = max(int(ys[0]) - reach, 0), min(int(ys[-1]) + reach + 1, h)
        x0, x1 = max(int(xs[0]) - reach, 0), min(int(xs[-1]) + reach + 1, w)
        out[s, y0:y1, x0:x1] = _dilate_binary_rows(flat[s : s + 1, y0:y1, x0:x1], size)[0]
    return out.reshape(x.shape)


def _dilate_binary_rows(flat: torch.Tensor, size: int) -> torch.Tensor:
    """Binary dilation of ``(S, H, W)``: per kernel row, a horizontal run test from a running
    sum (O(1) per pixel whatever the width), then an OR of the vertically shifted rows."""
    h, w = flat.shape[-2:]
    c = size // 2
    # running[..., c + j] = number of ones in columns [0, j), padded so that any window
    # [x - left, x + right] clipped to the image is a difference of two slices.
    running = F.pad(flat.to(torch.int32).cumsum(dim=-1), (1 + c, 0))
    running = torch.cat((running, running[..., -1:].expand(-1, -1, c)), dim=-1)
    runs: dict[tuple[int, int], torch.Tensor] = {}
    out = torch.zeros_like(flat)
    for i, hw in enumerate(ellipse_half_widths(size)):
        dy = i - c  # output row y takes input row y + dy
        if hw < 0 or abs(dy) >= h:
            continue
        left, right = min(hw, c), min(hw, size - 1 - c)
        if (left, right) not in runs:
            upper = running[..., c + right + 1 : c + right + 1 + w]
            lower = running[..., c - left : c - left + w]
            runs[left, right] = upper > lower
        src = runs[left, right]
        if dy >= 0:
            out[:, : h - dy] |= src[:, dy:]
        else:
            out[:, -dy:] |= src[:, : h + dy]
    return out


def erode(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-level erosion with the elliptical element; the dual of :func:`dilate`."""
    if x.dtype == torch.bool:
        return ~dilate(~x, size)
    return -dilate(-x, size)
