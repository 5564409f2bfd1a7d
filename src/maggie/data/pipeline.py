"""From loaded frames and alphas to one training or test sample (shared by images and videos).

A sample is a dict of tensors (images are clips with ``T = 1``; ``N`` = instance slots):

* ``image`` ``(T, 3, H, W)`` float32, ImageNet-normalised RGB.
* ``alpha`` ``(T, N, H, W)`` float32 in [0, 1]; instance ``k`` sits in slot ``slots[k]``,
  empty slots are 0.
* ``masks`` ``(T, N, H, W)`` float32 in {0, 1}: the guidance masks, in the same slots.
* ``transition`` ``(T, N, H, W)`` float32 in {0, 1}: the alpha's transition band.
* ``valid`` ``(N,)`` bool: which slots hold an instance.
* ``sparsity`` ``(T, 1, H, W)`` float32 in {0, 1}: video only, where any alpha changed since the
  previous frame (frame 0 all ones).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..ops.imaging import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    pad_amount,
    resize_linear_u8,
    resize_nearest,
    short_side_size,
)
from .config import AugmentConfig, MaskAugmentConfig, TargetConfig
from .targets import random_slots, scatter_to_slots, sparsity_target, transition_target
from .transforms import geometric as geo
from .transforms import photometric as photo
from .transforms.masks import block_nearest, degrade_masks, small_instances

__all__ = ["normalize", "augment_sample", "eval_sample"]


def normalize(frames: torch.Tensor) -> torch.Tensor:
    """``(T, 3, H, W)`` RGB in [0, 1] → ImageNet-normalised float32."""
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return (frames.float() - mean) / std


def _targets(
    alpha: torch.Tensor,
    slots: np.ndarray | list[int],
    num_slots: int,
    rng: np.random.Generator,
    targets: TargetConfig,
    video: bool,
) -> dict[str, torch.Tensor]:
    # Computed on the real instances only (empty slots have no transition and no change).
    radius = int(rng.integers(targets.transition_radius[0], targets.transition_radius[1] + 1))
    out = {"transition": scatter_to_slots(transition_target(alpha, radius=radius), slots, num_slots)}
    if video:
        radius = int(rng.integers(targets.sparsity_radius[0], targets.sparsity_radius[1] + 1))
        out["sparsity"] = sparsity_target(alpha, threshold=targets.sparsity_threshold, radius=radius)
    return out


def _photometric(frames: torch.Tensor, rng: np.random.Generator, aug: AugmentConfig) -> torch.Tensor:
    if rng.random() < aug.gamma_p:
        frames = photo.adjust_gamma(frames, photo.random_gamma(rng))
    if rng.random() < aug.noise_p:
        frames = photo.add_gaussian_noise(frames, float(rng.uniform(0, aug.noise_sigma)), rng)
    if rng.random() < aug.jpeg_p:
        frames = photo.jpeg_compress(frames, int(rng.integers(aug.jpeg_quality[0], aug.jpeg_quality[1] + 1)))
    return frames


def augment_sample(
    frames: torch.Tensor,
    alpha: torch.Tensor,
    rng: np.random.Generator,
    *,
    augment: AugmentConfig,
    masks: MaskAugmentConfig,
    targets: TargetConfig,
    short_side: int | None,
    num_slots: int,
    mask_source: torch.Tensor | None = None,
    video: bool = False,
) -> dict[str, torch.Tensor]:
    """One training sample from uint8 ``frames (T, 3, H0, W0)`` and ``alpha (T, n, H0, W0)``.

    ``mask_source (T, n, H0, W0)`` uint8, when given, replaces the alpha as the input of the
    mask degradation (e.g. stored predicted masks). Order of operations (reference §5.3):
    resize + crop around the people, flip, gamma, noise, JPEG, affine (+ colour cast), motion
    blur (video), guidance-mask degradation, small/random instance dropping, slot scattering,
    nearest 1/8 blocks, targets, normalisation.
    """
    n = alpha.shape[1]
    h0, w0 = frames.shape[-2:]
    resized = short_side_size(h0, w0, short_side) if short_side else (h0, w0)
    foreground = (alpha > 127).flatten(0, 1).any(0) if n else torch.zeros(h0, w0, dtype=torch.bool)
    parts = [frames, alpha] if mask_source is None else [frames, alpha, mask_source]
    cropped = geo.random_crop(parts, foreground, resized, augment.crop_size, rng, padding_crop_p=augment.padding_crop_p)
    parts = [p / 255.0 for p in cropped]
    if rng.random() < augment.flip_p:
        parts = [geo.hflip(p) for p in parts]
    frames, alpha = parts[0], parts[1]
    # Masks are taken before the affine warp, as in the reference, so they end up misaligned.
    source = parts[2] if mask_source is not None else alpha.clone()

    frames = _photometric(frames, rng, augment)
    if rng.random() < augment.affine_p:
        matrix = geo.random_affine_matrix(tuple(frames.shape[-2:]), rng)
        warped = geo.warp_affine(torch.cat([frames, alpha] + ([source] if augment.affine_masks else []), 1), matrix)
        frames, alpha = warped[:, :3], warped[:, 3 : 3 + n]
        if augment.affine_masks:
            source = warped[:, 3 + n :]
        frames = photo.channel_shift(frames, tuple(float(v) for v in rng.uniform(-0.03, 0.03, 3)))
    if rng.random() < augment.motion_blur_p:
        lo, hi = augment.motion_blur_size
        size = int(rng.integers(lo // 2, (hi - 1) // 2 + 1)) * 2 + 1
        taps = photo.motion_blur_kernel(size, float(rng.uniform(0, 360)))
        if rng.random() < augment.motion_blur_alpha_p:
            alpha = photo.motion_blur(alpha, taps)
        frames = photo.motion_blur(frames, taps)
    alpha = torch.where(alpha < targets.alpha_floor, torch.zeros_like(alpha), alpha.clamp(0, 1))
    guidance = degrade_masks(source.clamp(0, 1), rng, masks)

    small = set(small_instances(alpha, masks.min_area))
    keep = [k for k in range(n) if k not in small]
    if len(keep) >= 2 and rng.random() < masks.instance_drop_p:
        keep.pop(int(rng.integers(len(keep))))
    keep = keep[:num_slots]
    slots = random_slots(len(keep), num_slots, rng)
    valid = torch.zeros(num_slots, dtype=torch.bool)
    valid[torch.as_tensor(slots, dtype=torch.long)] = True
    return {
        "image": normalize(frames.clamp(0, 1)),
        "alpha": scatter_to_slots(alpha[:, keep], slots, num_slots),
        "masks": block_nearest(scatter_to_slots(guidance[:, keep], slots, num_slots), masks.block_size),
        "valid": valid,
        **_targets(alpha[:, keep], slots, num_slots, rng, targets, video),
    }


def eval_sample(
    frames: np.ndarray,
    alpha: np.ndarray,
    masks: np.ndarray,
    rng: np.random.Generator,
    *,
    short_side: int | None,
    num_slots: int,
    block_size: int,
    targets: TargetConfig,
    video: bool = False,
) -> dict[str, torch.Tensor]:
    """An un-augmented sample, preprocessed exactly like the reference evaluation.

    ``frames (T, H0, W0, 3)``, ``alpha (T, n, H0, W0)`` and ``masks (T, n, H0, W0)`` are uint8.
    The short side is resized to ``short_side`` (OpenCV-exact bilinear for image and alpha,
    nearest for masks), then everything is zero-padded at the bottom/right to a multiple of 64.
    Instances keep their order in slots ``0..n-1``. Also returns ``size (2,)``, the resized
    size before padding, and ``original_size (2,)``.
    """
    h0, w0 = frames.shape[1:3]
    n = alpha.shape[1]
    if n > num_slots:
        raise ValueError(f"{n} instances do not fit into {num_slots} slots")
    h, w = short_side_size(h0, w0, short_side) if short_side else (h0, w0)
    ph, pw = pad_amount(h, w, 64)

    def fit(array: np.ndarray, resize_fn: Callable[[np.ndarray, tuple[int, int]], np.ndarray]) -> torch.Tensor:
        resized = np.stack([resize_fn(a, (h, w)) for a in array.reshape(-1, *array.shape[-2:])])
        padded = np.pad(resized, ((0, 0), (0, ph), (0, pw)))
        return torch.from_numpy(padded).reshape(*array.shape[:-2], h + ph, w + pw)

    image = fit(frames.transpose(0, 3, 1, 2), resize_linear_u8).float() / 255.0
    alpha_t = fit(alpha, resize_linear_u8).float() / 255.0
    masks_t = (fit(masks, resize_nearest) > 127).float()
    slots = list(range(n))
    valid = torch.zeros(num_slots, dtype=torch.bool)
    valid[:n] = True
    return {
        "image": normalize(image),
        "alpha": scatter_to_slots(alpha_t, slots, num_slots),
        "masks": block_nearest(scatter_to_slots(masks_t, slots, num_slots), block_size),
        "valid": valid,
        "size": torch.tensor([h, w]),
        "original_size": torch.tensor([h0, w0]),
        **_targets(alpha_t, slots, num_slots, rng, targets, video),
    }
