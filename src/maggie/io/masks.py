"""Guidance masks for images: reading every supported format, overlap resolution, erode/dilate.

The model wants one binary mask per person, ``N×H×W`` bool, with each pixel owned by at most
one person (MaGGIe paper §6). Instance identity is the index along ``N``; ``ids`` keeps each
instance's name in its source (file stem, label value or COCO annotation id) for the manifest.

Formats (``mask_format``):

* ``"folder"``: a folder of binary PNGs, one per instance, in natural name order;
* ``"label"``: one instance-ID label PNG (0 = background, 8/16-bit or palette);
* ``"coco"``: a COCO-style JSON file with RLE or polygon segmentations;
* ``"auto"``: ``.json`` file -> coco, folder -> folder, other file -> label.

For a batch of images, :func:`batch_mask_source` finds each image's masks under one root:
``<root>/<image_stem>/`` (folder), ``<root>/<image_stem>.png`` (label), or the root JSON itself.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..ops.morphology import dilate as _dilate
from ..ops.morphology import erode as _erode
from .coco import read_coco_masks
from .mask_files import labels_to_masks, read_binary_mask, read_label_map
from .media import IMAGE_SUFFIXES, natural_key

__all__ = [
    "MASK_FORMATS",
    "OVERLAP_RULES",
    "InstanceMasks",
    "detect_mask_format",
    "read_masks",
    "batch_mask_source",
    "resolve_overlaps",
    "adjust_masks",
]

MASK_FORMATS = ("auto", "folder", "label", "coco")
OVERLAP_RULES = ("smaller", "first", "last")


@dataclass(frozen=True)
class InstanceMasks:
    """Masks of one image: ``masks`` is ``N×H×W`` bool, ``ids[i]`` names instance ``i``."""

    masks: np.ndarray
    ids: tuple[str, ...]
    source: Path


def detect_mask_format(source: str | os.PathLike[str], mask_format: str = "auto") -> str:
    """Resolve ``"auto"`` for ``source`` and check that a forced format fits the path."""
    source = Path(source)
    if mask_format not in MASK_FORMATS:
        raise InputError(f"{source}: unknown mask_format {mask_format!r} (choose from {', '.join(MASK_FORMATS)})")
    if not source.exists():
        raise InputError(f"{source}: no such mask file or folder")
    if mask_format == "auto":
        if source.is_dir():
            return "folder"
        return "coco" if source.suffix.lower() == ".json" else "label"
    if (mask_format == "folder") != source.is_dir():
        need = "a folder" if mask_format == "folder" else "a file"
        raise InputError(f"{source}: mask_format={mask_format!r} needs {need}")
    return mask_format


def _read_folder(folder: Path, size: tuple[int, int] | None, against: str) -> InstanceMasks:
    files = sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: natural_key(p.name),
    )
    if not files:
        raise InputError(f"{folder}: mask folder contains no images (one PNG per instance expected)")
    masks = [read_binary_mask(files[0], size=size, against=against)]
    if size is None:
        size, against = masks[0].shape, f"the first mask {files[0].name}"
    masks += [read_binary_mask(f, size=size, against=against) for f in files[1:]]
    for file, mask in zip(files, masks, strict=True):
        if not mask.any():
            raise InputError(f"{file}: instance mask is empty (no pixel at half intensity or above)")
    return InstanceMasks(np.stack(masks), tuple(f.stem for f in files), folder)


def read_masks(
    source: str | os.PathLike[str],
    *,
    mask_format: str = "auto",
    image_size: tuple[int, int] | None = None,
    image_name: str | None = None,
    image_id: int | None = None,
    categories: Sequence[int | str] | None = None,
) -> InstanceMasks:
    """Read one image's instance masks as ``N×H×W`` bool (formats: module doc).

    Args:
        source: mask folder, label PNG or COCO JSON.
        mask_format: ``"auto"``, ``"folder"``, ``"label"`` or ``"coco"``.
        image_size: ``(height, width)`` of the image; masks of another size raise.
        image_name: file name of the image, to find it in a COCO file and name it in errors.
        image_id: COCO image id, instead of ``image_name``.
        categories: COCO category IDs or names to keep (default: all annotations).

    Raises:
        InputError: unreadable or missing files, size mismatch, no instances, an empty instance.
    """
    source = Path(source)
    fmt = detect_mask_format(source, mask_format)
    against = f"the image {image_name}" if image_name else "the image"
    if fmt == "folder":
        return _read_folder(source, image_size, against)
    if fmt == "label":
        labels = read_label_map(source, size=image_size, against=against)
        values = np.unique(labels)
        values = values[values != 0]
        if values.size == 0:
            raise InputError(f"{source}: label map has no instances (every pixel is 0 = background)")
        return InstanceMasks(labels_to_masks(labels, values), tuple(str(v) for v in values), source)
    masks, ids = read_coco_masks(
        source, image_name=image_name, image_id=image_id, image_size=image_size, categories=categories
    )
    for name, mask in zip(ids, masks, strict=True):
        if not mask.any():
            raise InputError(f"{source}: annotation {name} has an empty mask")
    return InstanceMasks(masks, ids, source)


def batch_mask_source(
    masks_root: str | os.PathLike[str], image_path: str | os.PathLike[str], *, mask_format: str = "auto"
) -> Path:
    """Where the masks of ``image_path`` are, when a batch of images shares ``masks_root``.

    A JSON root serves every image; a folder root holds ``<image_stem>/`` (one PNG per
    instance) or ``<image_stem>.png`` (label map).
    """
    root = Path(masks_root)
    stem = Path(image_path).stem
    if root.is_file():
        if mask_format in ("auto", "coco") and root.suffix.lower() == ".json":
            return root
        raise InputError(f"{root}: masks for a folder of images must be a folder or a COCO JSON file")
    if not root.is_dir():
        raise InputError(f"{root}: no such mask file or folder")
    folder, label = root / stem, root / f"{stem}.png"
    if mask_format in ("auto", "folder") and folder.is_dir():
        return folder
    if mask_format in ("auto", "label") and label.is_file():
        return label
    expected = {"folder": f"{folder}/", "label": str(label)}.get(mask_format, f"{folder}/ or {label}")
    raise InputError(f"{root}: no masks for image {Path(image_path).name} (expected {expected})")


def resolve_overlaps(masks: np.ndarray, rule: str = "smaller") -> np.ndarray:
    """Give every pixel claimed by several instances to exactly one of them.

    Rules (``masks`` is ``...×N×H×W`` bool; the result has the same shape):

    * ``"smaller"`` (default): the instance with the smaller area in this image/frame wins,
      ties going to the lower index. A person standing in front is whole in their own mask,
      while a mask of the person behind (or a box-prompted mask) often spills over them;
      and a person fully inside a bigger mask (a child held in front of an adult) survives
      only if the smaller mask wins. The larger instance loses a smaller share of its area.
    * ``"first"``: the lower index wins (masks listed front to back).
    * ``"last"``: the higher index wins (masks painted back to front, like a label map).

    Pixels owned by no instance stay background.
    """
    if rule not in OVERLAP_RULES:
        raise ValueError(f"unknown overlap rule {rule!r} (choose from {', '.join(OVERLAP_RULES)})")
    masks = np.asarray(masks, dtype=bool)
    flat = masks.reshape(-1, *masks.shape[-3:])
    out = np.zeros_like(flat)
    count = flat.shape[1]
    for frame in range(flat.shape[0]):
        if rule == "smaller":
            order = np.argsort(flat[frame].sum(axis=(-2, -1)), kind="stable").tolist()  # ties: lower first
        else:
            order = list(range(count)) if rule == "first" else list(range(count - 1, -1, -1))
        # Instances take their pixels in priority order; whatever is taken is gone for the rest.
        taken = np.zeros(flat.shape[-2:], dtype=bool)
        for instance in order:
            out[frame, instance] = flat[frame, instance] & ~taken
            taken |= flat[frame, instance]
    return out.reshape(masks.shape)


def adjust_masks(masks: np.ndarray, *, erode: int = 0, dilate: int = 0) -> np.ndarray:
    """Shrink and/or grow masks by a number of pixels with an elliptical element.

    ``erode`` and ``dilate`` are radii in pixels (kernel size ``2r + 1``); erosion runs first,
    so giving both removes specks thinner than ``2·erode`` before growing. ``masks`` is
    ``...×H×W`` bool; the result has the same shape. Run :func:`resolve_overlaps` afterwards,
    as dilation makes neighbours overlap.
    """
    if erode < 0 or dilate < 0:
        raise ValueError(f"erode and dilate are pixel radii >= 0, got erode={erode}, dilate={dilate}")
    result = torch.from_numpy(np.ascontiguousarray(masks, dtype=bool))
    if erode:
        result = _erode(result, 2 * erode + 1)
    if dilate:
        result = _dilate(result, 2 * dilate + 1)
    return result.numpy()
