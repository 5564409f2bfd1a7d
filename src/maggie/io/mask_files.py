"""Single mask files: binary instance PNGs and instance-ID label maps (read and write).

Binary mask rule (documented for users): a pixel belongs to the instance when its value is at
least half the full scale (128 for 8-bit, 32768 for 16-bit). Files that only hold the values 0
and 1 (numpy masks saved as they are) count 1 as foreground. Palette images use the palette
index (0 = background), RGB images their luma, and images with a non-opaque alpha channel the
alpha channel.

Label maps hold one instance ID per pixel: 0 is background, every other value is an instance.
8-bit (``L``), 16-bit (``I;16``) and palette (``P``, the palette *index* is the ID, as in DAVIS
and YouTube-VOS annotations) PNGs are read. Colour-coded RGB label maps are rejected, because
their colours have no defined order.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from .atomic import atomic_path

__all__ = ["read_binary_mask", "read_label_map", "labels_to_masks", "write_label_map"]

_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I")


def _open(path: Path, what: str) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such {what} file") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: cannot read {what} ({exc})") from exc
    return ImageOps.exif_transpose(image)


def _check_size(mask: np.ndarray, path: Path, size: tuple[int, int] | None, against: str) -> None:
    if size is not None and mask.shape != tuple(size):
        raise InputError(
            f"{path}: mask is {mask.shape[1]}x{mask.shape[0]} but {against} is {size[1]}x{size[0]} (width x height)"
        )


def read_binary_mask(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None, against: str = "the image"
) -> np.ndarray:
    """Read one instance's mask file as an ``H×W`` bool array (thresholding rule: module doc).

    Args:
        path: the mask image.
        size: expected ``(height, width)``; a different size raises :class:`InputError`.
        against: how the error message names what the size came from (e.g. ``"the image x.jpg"``).
    """
    path = Path(path)
    with _open(path, "mask") as image:
        if image.mode == "1":
            mask = np.asarray(image, dtype=bool)
        elif image.mode == "P":
            mask = np.asarray(image) != 0
        else:
            alpha = np.asarray(image.getchannel("A")) if image.mode in ("LA", "RGBA", "PA") else None
            if alpha is not None and alpha.min() < 255:
                values = alpha
                full = 255
            elif image.mode in _WIDE_MODES:
                values = np.asarray(image)
                full = 65535
            else:
                values = np.asarray(image.convert("L"))
                full = 255
            mask = values >= 1 if values.max(initial=0) == 1 else values >= (full + 1) // 2
    _check_size(mask, path, size, against)
    return np.ascontiguousarray(mask)


def read_label_map(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None, against: str = "the image"
) -> np.ndarray:
    """Read an instance-ID label map as an ``H×W`` int64 array (0 = background)."""
    path = Path(path)
    with _open(path, "label map") as image:
        if image.mode not in ("L", "P", "1", *_WIDE_MODES):
            raise InputError(
                f"{path}: a label map must have one channel (8-bit, 16-bit or palette PNG), got mode {image.mode}"
            )
        labels = np.asarray(image).astype(np.int64)
    if labels.min(initial=0) < 0:
        raise InputError(f"{path}: label map has negative instance IDs")
    _check_size(labels, path, size, against)
    return labels


def labels_to_masks(labels: np.ndarray, ids: np.ndarray | list[int] | None = None) -> np.ndarray:
    """One ``N×H×W`` bool mask per ID of ``ids`` (default: the non-zero values of ``labels``, sorted)."""
    if ids is None:
        ids = np.unique(labels)
        ids = ids[ids != 0]
    ids = np.asarray(ids, dtype=np.int64)
    return labels[None, :, :] == ids[:, None, None]


def write_label_map(masks: np.ndarray, path: str | os.PathLike[str], *, bit_depth: int | None = None) -> Path:
    """Write ``N×H×W`` non-overlapping masks as a label PNG, instance ``i`` with ID ``i + 1``.

    Args:
        masks: ``N×H×W`` bool; call :func:`maggie.io.resolve_overlaps` first if they overlap.
        path: destination PNG, written atomically.
        bit_depth: 8 (up to 255 instances) or 16 (up to 65535); default: the smallest that fits.

    Raises:
        InputError: more instances than ``bit_depth`` can hold.
        ValueError: masks overlap, or ``bit_depth`` is not 8 or 16.
    """
    path = Path(path)
    masks = np.asarray(masks, dtype=bool)
    count = masks.shape[0]
    if bit_depth is None:
        bit_depth = 8 if count <= 255 else 16
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    capacity = 2**bit_depth - 1
    if count > capacity:
        hint = "; use bit_depth=16" if bit_depth == 8 and count <= 65535 else ""
        article = "an" if bit_depth == 8 else "a"
        raise InputError(
            f"{path}: {count} instances do not fit {article} {bit_depth}-bit label map (at most {capacity}){hint}"
        )
    if count and masks.sum(axis=0).max() > 1:
        raise ValueError("masks overlap; resolve them with maggie.io.resolve_overlaps first")
    labels = np.zeros(masks.shape[1:], dtype=np.uint8 if bit_depth == 8 else np.uint16)
    for index in range(count):
        labels[masks[index]] = index + 1
    with atomic_path(path) as temp:
        Image.fromarray(labels).save(temp, format="PNG")
    return path
