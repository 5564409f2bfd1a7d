"""Geometric augmentations for clips: resize, crop around the people, flip, affine warp.

Every function takes a clip tensor ``x`` of shape ``(T, C, H, W)`` (float) and applies the
*same* geometry to every frame and channel, so image, alpha and mask channels stay aligned when
they are stacked along ``C``. Randomness comes only from the ``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "axis_map",
    "square_axis_map",
    "resample",
    "crop_box",
    "random_crop",
    "hflip",
    "affine_matrix",
    "random_affine_matrix",
    "warp_affine",
]


def axis_map(src_len: int, dst_len: int, out_len: int, start: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Source coordinates of ``out_len`` output pixels along one axis, for a window starting at
    ``start`` of the image resized from ``src_len`` to ``dst_len`` pixels.

    Returns ``(coords, inside)``: the (fractional) source pixel each output pixel samples, with
    the half-pixel convention of OpenCV ``INTER_LINEAR`` / ``align_corners=False``, and whether
    it lies inside the resized image (outside is zero padding).
    """
    r = torch.arange(out_len, dtype=torch.float64) + start
    coords = (r + 0.5) * (src_len / dst_len) - 0.5
    return coords, (r >= 0) & (r < dst_len)


def square_axis_map(src_len: int, side: int, out_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Like :func:`axis_map` for an image first zero-padded (centred) to ``side`` pixels and then
    resized to ``out_len`` (the reference's "padding crop")."""
    q = (torch.arange(out_len, dtype=torch.float64) + 0.5) * (side / out_len) - 0.5
    coords = q - (side - src_len) // 2
    return coords, (coords > -0.5) & (coords < src_len - 0.5)


def _taps(coords: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    c = coords.clamp(0, length - 1)
    i0 = c.floor().long()
    return i0, (i0 + 1).clamp(max=length - 1), (c - i0).float()


def resample(
    x: torch.Tensor, rows: tuple[torch.Tensor, torch.Tensor], cols: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """Separable bilinear sampling of ``x (T, C, H, W)`` (any dtype) at the axis maps ``rows``
    and ``cols`` from :func:`axis_map` → float32 ``(T, C, len(rows), len(cols))``.

    Only the source window under the output is copied and converted to float, so cutting a
    crop out of a large frame costs about as much as the crop itself, not the frame.
    """
    h, w = x.shape[-2:]
    y0, y1, wy = _taps(rows[0], h)
    x0, x1, wx = _taps(cols[0], w)
    top_row, left_col = int(y0.min()), int(x0.min())
    x = x[..., top_row : int(y1.max()) + 1, left_col : int(x1.max()) + 1].contiguous()
    y0, y1, x0, x1 = y0 - top_row, y1 - top_row, x0 - left_col, x1 - left_col
    wy = wy.view(-1, 1)
    top, bottom = x.index_select(-2, y0).float(), x.index_select(-2, y1).float()
    v = top + (bottom - top) * wy
    left, right = v.index_select(-1, x0), v.index_select(-1, x1)
    out = left + (right - left) * wx
    return out * (rows[1].view(-1, 1) & cols[1].view(1, -1)).float()


def _random_start(rng: np.random.Generator, lo: int, hi: int, size: int, extent: int) -> int:
    # Start uniformly among the windows that keep as much of [lo, hi) as possible, then keep the
    # window inside the image (it only leaves it when the image is smaller than the crop).
    first, last = min(lo, hi - size), max(lo, hi - size)
    start = int(rng.integers(first, last + 1))
    return min(max(start, 0), extent - size) if extent >= size else (extent - size) // 2


def crop_box(
    foreground: torch.Tensor, resized: tuple[int, int], size: int, rng: np.random.Generator, *, tries: int = 3
) -> tuple[int, int]:
    """``(top, left)`` of a ``size×size`` crop of the image resized to ``resized``.

    ``foreground (H0, W0)`` is the union of the people (``alpha > 0.5``) at the original size.
    The crop is drawn inside the bounding box of the foreground, up to ``tries`` times until it
    contains some foreground (reference ``RandomCropByAlpha``); without foreground it is uniform.
    """
    h0, w0 = foreground.shape
    h, w = resized
    rows, cols = foreground.any(1).nonzero().flatten(), foreground.any(0).nonzero().flatten()
    if rows.numel() == 0:
        return int(rng.integers(0, max(h - size, 0) + 1)), int(rng.integers(0, max(w - size, 0) + 1))
    sy, sx = h / h0, w / w0
    y_lo, y_hi = int(rows[0]) * sy, (int(rows[-1]) + 1) * sy
    x_lo, x_hi = int(cols[0]) * sx, (int(cols[-1]) + 1) * sx
    box = (0, 0)
    for _ in range(tries):
        box = (
            _random_start(rng, int(y_lo), int(math.ceil(y_hi)), size, h),
            _random_start(rng, int(x_lo), int(math.ceil(x_hi)), size, w),
        )
        top, left = box
        window = foreground[
            max(int(top / sy), 0) : int(math.ceil((top + size) / sy)),
            max(int(left / sx), 0) : int(math.ceil((left + size) / sx)),
        ]
        if window.any():
            break
    return box


def random_crop(
    tensors: list[torch.Tensor],
    foreground: torch.Tensor,
    resized: tuple[int, int],
    size: int,
    rng: np.random.Generator,
    *,
    padding_crop_p: float = 0.1,
) -> list[torch.Tensor]:
    """Resize each ``(T, C, H0, W0)`` tensor to ``resized`` and crop ``size×size`` around the
    ``foreground (H0, W0)``, in one resampling step; float32 out, all with the same window.

    With probability ``padding_crop_p`` the whole frame is zero-padded to a square and resized
    to ``size`` instead, so the model also sees whole scenes at a smaller scale.
    """
    h0, w0 = foreground.shape
    if rng.random() < padding_crop_p:
        side = max(h0, w0)
        rows, cols = square_axis_map(h0, side, size), square_axis_map(w0, side, size)
    else:
        top, left = crop_box(foreground, resized, size, rng)
        rows, cols = axis_map(h0, resized[0], size, top), axis_map(w0, resized[1], size, left)
    return [resample(x, rows, cols) for x in tensors]


def hflip(x: torch.Tensor) -> torch.Tensor:
    """Mirror ``(..., H, W)`` left-right."""
    return x.flip(-1)


def affine_matrix(
    size: tuple[int, int],
    *,
    rotation: float = 0.0,
    shear: float = 0.0,
    scale: tuple[float, float] = (1.0, 1.0),
    translate: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """3×3 forward map (pixel coordinates, x right / y down) about the centre of a ``size`` image.

    Angles are in degrees; ``translate`` is ``(dx, dy)`` in pixels.
    """
    h, w = size
    cx, cy = w / 2.0, h / 2.0
    theta, phi = math.radians(rotation), math.radians(shear)
    rot = np.array([[math.cos(theta), -math.sin(theta), 0], [math.sin(theta), math.cos(theta), 0], [0, 0, 1]])
    shr = np.array([[1, math.tan(phi), 0], [0, 1, 0], [0, 0, 1]])
    scl = np.diag([scale[0], scale[1], 1.0])
    to_origin = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    back = np.array([[1, 0, cx + translate[0]], [0, 1, cy + translate[1]], [0, 0, 1]])
    return back @ rot @ shr @ scl @ to_origin


def random_affine_matrix(
    size: tuple[int, int],
    rng: np.random.Generator,
    *,
    rotation: float = 10.0,
    shear: float = 5.0,
    scale: tuple[float, float] = (0.95, 1.05),
) -> np.ndarray:
    """Reference ``RandomAffine`` draw: rotation ±10°, shear ±5°, per-axis zoom 0.95–1.05."""
    return affine_matrix(
        size,
        rotation=float(rng.uniform(-rotation, rotation)),
        shear=float(rng.uniform(-shear, shear)),
        scale=(float(rng.uniform(*scale)), float(rng.uniform(*scale))),
    )


def warp_affine(
    x: torch.Tensor,
    matrix: np.ndarray | torch.Tensor,
    size: tuple[int, int] | None = None,
    *,
    padding: str = "zeros",
) -> torch.Tensor:
    """Warp ``x (T, C, H, W)`` with forward pixel map ``matrix`` (3×3, or ``(T, 3, 3)`` per frame).

    Output pixel ``p`` takes the bilinear sample of the input at ``matrix⁻¹ p``. Samples outside
    the input are 0, or the nearest border pixel with ``padding="border"``. ``size`` is the
    output ``(height, width)`` (default: the input size).
    """
    t, _, h, w = x.shape
    out_h, out_w = size if size is not None else (h, w)
    m = torch.as_tensor(np.asarray(matrix), dtype=torch.float64)
    inv = torch.linalg.inv(m.expand(t, 3, 3) if m.ndim == 2 else m)
    ys, xs = torch.meshgrid(
        torch.arange(out_h, dtype=torch.float64) + 0.5,
        torch.arange(out_w, dtype=torch.float64) + 0.5,
        indexing="ij",
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3)
    src = torch.einsum("tij,pj->tpi", inv, points)[..., :2]
    # Pixel centres (x + 0.5) → grid_sample's [-1, 1] range with align_corners=False.
    grid = torch.stack([src[..., 0] / w * 2 - 1, src[..., 1] / h * 2 - 1], -1).reshape(t, out_h, out_w, 2)
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode=padding, align_corners=False)
