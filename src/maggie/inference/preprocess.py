"""The reference evaluation's pre- and post-processing, shared by the image and video matters.

Forward: resize so the short side is ``short_side`` (OpenCV bilinear, size truncated), zero-pad
bottom/right to a multiple of 64 **before** normalising (padded pixels become ``-mean/std``),
ImageNet-normalise; masks are nearest-resized and zero-padded. Backward: crop the padding,
bilinear-resize to the original size with ``align_corners=True`` (the reference's choice, which
does not exactly invert the forward resize), then snap ``α ≤ 1/255`` to 0 and ``α ≥ 254/255`` to 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import InputError
from ..ops.imaging import normalize_image, pad_amount, resize_linear_u8, resize_nearest, short_side_size

__all__ = ["Geometry", "as_rgb_u8", "as_masks", "prepare_image", "prepare_masks", "restore_alpha", "resolve_device"]

_SNAP_LOW = 1.0 / 255.0
_SNAP_HIGH = 254.0 / 255.0


@dataclass(frozen=True)
class Geometry:
    """Sizes of one frame through the pipeline: original, resized and network (padded) ``(H, W)``."""

    original: tuple[int, int]
    resized: tuple[int, int]
    network: tuple[int, int]

    @classmethod
    def for_size(cls, height: int, width: int, short_side: int | None) -> Geometry:
        resized = (height, width) if short_side is None else short_side_size(height, width, short_side)
        if min(resized) < 1:
            raise InputError(f"image of {height}×{width} is too small to resize to short side {short_side}")
        pad_h, pad_w = pad_amount(*resized, 64)
        return cls((height, width), resized, (resized[0] + pad_h, resized[1] + pad_w))


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` → CUDA when available, else CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was requested but CUDA is not available (use --device cpu or auto)")
    return dev


def as_rgb_u8(image: np.ndarray | Image.Image, *, name: str = "image") -> np.ndarray:
    """Return an ``H×W×3`` uint8 array from a PIL image or an ``H×W×3`` uint8 array."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"{name}: expected an H×W×3 uint8 RGB image, got shape {arr.shape} {arr.dtype}")
    return arr


def as_masks(masks: np.ndarray, size: tuple[int, int], *, name: str = "masks") -> np.ndarray:
    """Validate instance masks ``N×H×W`` (bool, or 0/1 or 0/255 integers) → bool."""
    arr = np.asarray(masks)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] < 1:
        raise InputError(f"{name}: expected N×H×W instance masks, got shape {arr.shape}")
    if arr.shape[1:] != tuple(size):
        raise InputError(
            f"{name}: mask size {arr.shape[1]}×{arr.shape[2]} does not match the image size {size[0]}×{size[1]}"
        )
    if arr.dtype != bool:
        arr = arr >= (128 if arr.max(initial=0) > 1 else 1)
    return arr


def prepare_image(image_u8: np.ndarray, geometry: Geometry) -> torch.Tensor:
    """``H×W×3`` uint8 → normalised network input ``3×H'×W'``."""
    resized = image_u8 if geometry.resized == geometry.original else resize_linear_u8(image_u8, geometry.resized)
    pad_h = geometry.network[0] - geometry.resized[0]
    pad_w = geometry.network[1] - geometry.resized[1]
    padded = np.pad(resized, ((0, pad_h), (0, pad_w), (0, 0)))
    return normalize_image(padded)


def prepare_masks(masks: np.ndarray, geometry: Geometry, *, downscale: bool) -> torch.Tensor:
    """Bool ``N×H×W`` → float ``N×H'×W'`` network masks (``N×H'/8×W'/8`` with ``downscale``).

    With ``downscale`` the masks are nearest-sampled at 1/8 — the reference image evaluation
    does this, so its effective guidance is the mask at ``(8i, 8j)`` repeated in 8×8 blocks.
    """
    m = masks.astype(np.uint8)
    if geometry.resized != geometry.original:
        m = resize_nearest(m.transpose(1, 2, 0), geometry.resized).reshape(*geometry.resized, -1).transpose(2, 0, 1)
    pad_h = geometry.network[0] - geometry.resized[0]
    pad_w = geometry.network[1] - geometry.resized[1]
    t = torch.from_numpy(np.ascontiguousarray(np.pad(m, ((0, 0), (0, pad_h), (0, pad_w))))).float()
    if downscale:
        h, w = geometry.network
        t = F.interpolate(t[None], size=(h // 8, w // 8), mode="nearest")[0]
    return t


def restore_alpha(alpha: torch.Tensor, geometry: Geometry) -> np.ndarray:
    """Network-resolution alphas ``N×H'×W'`` → ``N×H×W`` float32 at the original size, snapped."""
    rh, rw = geometry.resized
    out = alpha[:, :rh, :rw]
    if geometry.resized != geometry.original:
        out = F.interpolate(out[None].float(), size=geometry.original, mode="bilinear", align_corners=True)[0]
    out = torch.where(out <= _SNAP_LOW, torch.zeros_like(out), out)
    out = torch.where(out >= _SNAP_HIGH, torch.ones_like(out), out)
    return out.float().cpu().numpy()
