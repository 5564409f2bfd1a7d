"""Image resizing, padding and normalisation exactly as the reference evaluation does them.

The released checkpoints were evaluated on images resized with OpenCV (``INTER_LINEAR`` for the
picture, ``INTER_NEAREST`` for masks), zero-padded to a multiple of 64 and normalised with the
ImageNet statistics. :func:`resize_linear_u8` reproduces OpenCV's fixed-point bilinear resize
bit for bit in NumPy, so that OpenCV is not needed at inference time.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "resize_linear_u8",
    "resize_nearest",
    "short_side_size",
    "pad_amount",
    "normalize_image",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_COEF_SCALE = 2048  # OpenCV's INTER_RESIZE_COEF_SCALE (11 fractional bits)


def _linear_taps(src: int, dst: int, clamp_weights: bool) -> tuple[np.ndarray, ...]:
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s).astype(np.float32)
    if clamp_weights:
        # OpenCV snaps the horizontal taps at the borders; the vertical ones keep their weights
        # and only clamp the row index.
        low = s < 0
        f[low], s[low] = 0, 0
        high = s >= src - 1
        f[high], s[high] = 0, src - 1
    w0 = np.rint((np.float32(1) - f) * np.float32(_COEF_SCALE)).astype(np.int64)
    w1 = np.rint(f * np.float32(_COEF_SCALE)).astype(np.int64)
    return np.clip(s, 0, src - 1), np.clip(s + 1, 0, src - 1), w0, w1


def resize_linear_u8(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a uint8 ``H×W`` or ``H×W×C`` array to ``size = (height, width)``.

    Bit-identical to ``cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)``.
    """
    if image.dtype != np.uint8:
        raise TypeError(f"resize_linear_u8 expects uint8, got {image.dtype}")
    out_h, out_w = int(size[0]), int(size[1])
    squeeze = image.ndim == 2
    img = image[..., None] if squeeze else image
    h, w = img.shape[:2]
    x0, x1, ax0, ax1 = _linear_taps(w, out_w, clamp_weights=True)
    y0, y1, by0, by1 = _linear_taps(h, out_h, clamp_weights=False)
    src = img.astype(np.int32)
    rows = src[:, x0] * ax0[None, :, None].astype(np.int32) + src[:, x1] * ax1[None, :, None].astype(np.int32)
    r0 = rows[y0] >> 4
    r1 = rows[y1] >> 4
    b0 = by0[:, None, None].astype(np.int32)
    b1 = by1[:, None, None].astype(np.int32)
    out = (((r0 * b0) >> 16) + ((r1 * b1) >> 16) + 2) >> 2
    out = np.clip(out, 0, 255).astype(np.uint8)
    return out[..., 0] if squeeze else out


def resize_nearest(array: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of the first two axes, as ``cv2.INTER_NEAREST`` samples."""
    out_h, out_w = int(size[0]), int(size[1])
    h, w = array.shape[:2]
    ys = np.minimum(np.floor(np.arange(out_h) * (1.0 / (out_h / h))).astype(np.int64), h - 1)
    xs = np.minimum(np.floor(np.arange(out_w) * (1.0 / (out_w / w))).astype(np.int64), w - 1)
    return array[ys][:, xs]


def short_side_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """Size after scaling the short side to ``short_side``; truncated, like the reference."""
    ratio = short_side / min(height, width)
    return int(height * ratio), int(width * ratio)


def pad_amount(height: int, width: int, multiple: int = 64) -> tuple[int, int]:
    """Rows and columns to add at the bottom and right to reach a multiple of ``multiple``."""
    return (-height) % multiple, (-width) % multiple


def normalize_image(image_u8: np.ndarray | torch.Tensor) -> torch.Tensor:
    """``H×W×3`` uint8 RGB (numpy or tensor) → ``3×H×W`` float32, ImageNet-normalised.

    Computed as ``(u8 / 255 - mean) / std`` in float32, the reference's order of operations.
    """
    t = torch.as_tensor(image_u8)
    if t.dtype != torch.uint8 or t.ndim != 3 or t.shape[-1] != 3:
        raise ValueError(f"expected an H×W×3 uint8 image, got {tuple(t.shape)} {t.dtype}")
    x = t.permute(2, 0, 1).float() / 255.0
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(3, 1, 1)
    return (x - mean) / std
