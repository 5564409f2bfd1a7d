"""Photometric augmentations: gamma, Gaussian noise, JPEG artefacts, channel shift, motion blur.

Clips are ``(T, 3, H, W)`` float tensors in [0, 1]. One parameter draw is shared by every frame
of a clip (a clip is one camera with one exposure and one encoder), while per-pixel noise is of
course drawn independently for each frame. Randomness comes only from the generator passed in.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = [
    "adjust_gamma",
    "random_gamma",
    "add_gaussian_noise",
    "jpeg_compress",
    "channel_shift",
    "motion_blur_kernel",
    "motion_blur",
]


def adjust_gamma(image: torch.Tensor, gamma: float) -> torch.Tensor:
    """``image ** gamma`` for an image in [0, 1]."""
    return image.clamp(0, 1).pow(gamma)


def random_gamma(
    rng: np.random.Generator, *, mean: float = 1.0, std: float = 0.2, bounds: tuple[float, float] = (0.5, 1.5)
) -> float:
    """Gamma from a normal distribution truncated to ``bounds`` (imgaug ``GammaContrast`` default)."""
    while True:
        gamma = float(rng.normal(mean, std))
        if bounds[0] <= gamma <= bounds[1]:
            return gamma


def add_gaussian_noise(image: torch.Tensor, sigma: float, rng: np.random.Generator) -> torch.Tensor:
    """Add per-pixel, per-channel Gaussian noise of standard deviation ``sigma``, clamp to [0, 1]."""
    noise = torch.from_numpy(rng.standard_normal(tuple(image.shape), dtype=np.float32))
    return (image + sigma * noise.to(image.dtype)).clamp(0, 1)


def jpeg_compress(image: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip every frame of ``(T, 3, H, W)`` through Pillow's JPEG encoder at ``quality``."""
    frames = []
    u8 = (image.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for frame in u8:
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(frame)).save(buffer, "JPEG", quality=int(quality))
        buffer.seek(0)
        frames.append(np.asarray(Image.open(buffer).convert("RGB")))
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).to(image.dtype) / 255.0


def channel_shift(image: torch.Tensor, shifts: tuple[float, float, float]) -> torch.Tensor:
    """Add one constant per colour channel (the colour cast of the reference ``RandomAffine``)."""
    return (image + torch.tensor(shifts, dtype=image.dtype).view(1, 3, 1, 1)).clamp(0, 1)


def motion_blur_kernel(size: int, angle: float) -> list[tuple[int, int, float]]:
    """A straight motion-blur kernel as ``(dy, dx, weight)`` taps: ``size`` samples on a line
    through the centre at ``angle`` degrees, weights summing to 1."""
    if size < 1:
        raise ValueError(f"motion blur size must be >= 1, got {size}")
    theta = math.radians(angle)
    taps: dict[tuple[int, int], int] = {}
    for t in np.linspace(-(size - 1) / 2, (size - 1) / 2, size):
        key = (int(round(t * math.sin(theta))), int(round(t * math.cos(theta))))
        taps[key] = taps.get(key, 0) + 1
    return [(dy, dx, count / size) for (dy, dx), count in sorted(taps.items())]


def motion_blur(x: torch.Tensor, taps: list[tuple[int, int, float]]) -> torch.Tensor:
    """Convolve ``(T, C, H, W)`` with a sparse line kernel from :func:`motion_blur_kernel`.

    A line kernel has only ``size`` non-zero taps, so a sum of shifted copies is much cheaper
    than a dense ``size×size`` convolution. Borders are replicated.
    """
    radius = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    if radius == 0:
        return x.clone()
    h, w = x.shape[-2:]
    padded = F.pad(x, (radius, radius, radius, radius), mode="replicate")
    out = torch.zeros_like(x)
    for dy, dx, weight in taps:
        out += weight * padded[..., radius + dy : radius + dy + h, radius + dx : radius + dx + w]
    return out
