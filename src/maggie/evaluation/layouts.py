"""Benchmark folder layouts: listing samples and reading them as the reference data loaders do.

HIM2K + M-HIM2K (``layout="him2k"``)::

    <root>/images/<subset>/<name>.jpg                        subsets: comp, natural
    <root>/alphas/<subset>/<name>/<NN>.png                   one ground-truth alpha per instance
    <root>/masks_matched_<source>/<subset>/<name>/<NN>.png   one guidance mask per instance and mask source

V-HIM60 (``layout="vhim"``)::

    <root>/<split>/fgr/<video>/<frame>.jpg                   splits: comp_easy, comp_medium, comp_hard
    <root>/<split>/pha/<video>/<frame>/<NN>.png
    <root>/<split>/xmem/<video>/<frame>/<NN>.png

Instances are listed as the reference lists them: for images, the files in the mask folder; when
there are more than ``max_instances`` (10), a subset is drawn with ``RandomState(2023).choice``,
one generator per (subset, mask source) run, drawing in sorted image order (the reference's draws
with a single-process loader). For videos, the first ``max_instances`` sorted PNGs of the first
frame's alpha folder; every frame must have the same files. Names that appear in only some of the
folders are listed too, so that loading them reports what is missing instead of dropping them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError

__all__ = [
    "LAYOUTS",
    "BadSample",
    "Group",
    "ImageSample",
    "VideoSample",
    "list_him2k",
    "list_vhim",
    "read_rgb",
    "read_alpha",
    "read_mask",
    "image_size",
]

LAYOUTS = ("him2k", "vhim")
HIM2K_SUBSETS = ("comp", "natural")
VHIM_SPLITS = ("comp_easy", "comp_medium", "comp_hard")
_MASK_PREFIX = "masks_matched_"
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_SEED = 2023


class BadSample(InputError):
    """A sample that cannot be evaluated: a missing, unreadable or mis-sized file (named in the message)."""


@dataclass(frozen=True)
class Group:
    """One evaluation run: a subset (or split) with one mask source; aggregated on its own."""

    subset: str
    mask_source: str


@dataclass(frozen=True)
class ImageSample:
    """One image; ``instances`` is ``None`` when its mask folder is missing."""

    name: str
    image: Path
    alpha_dir: Path
    mask_dir: Path
    instances: tuple[str, ...] | None


@dataclass(frozen=True)
class VideoSample:
    """One video: frame files in order, and per frame the instance files under ``pha`` / ``xmem``."""

    name: str
    frames: tuple[Path, ...]
    alpha_dirs: tuple[Path, ...]
    mask_dirs: tuple[Path, ...]
    instances: tuple[str, ...]


def _subdirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _files(path: Path, suffixes: Sequence[str]) -> list[str]:
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _pick(requested: Sequence[str] | None, available: list[str], what: str, root: Path) -> list[str]:
    if requested is None:
        if not available:
            raise InputError(f"{root}: no {what} found; is this the right folder and --layout?")
        return available
    missing = [r for r in requested if r not in available]
    if missing:
        raise InputError(f"{root}: {what} {', '.join(missing)} not found (available: {', '.join(available) or 'none'})")
    return list(requested)


def list_him2k(
    root: Path,
    *,
    mask_sources: Sequence[str] | None = None,
    subsets: Sequence[str] | None = None,
    max_instances: int = 10,
) -> list[tuple[Group, list[ImageSample]]]:
    """List the (subset, mask source) runs of an HIM2K / M-HIM2K folder and their images."""
    sources = [d[len(_MASK_PREFIX) :] for d in _subdirs(root) if d.startswith(_MASK_PREFIX)]
    sources = _pick(mask_sources, sources, f"mask sources ({_MASK_PREFIX}<source> folders)", root)
    present = [s for s in HIM2K_SUBSETS if (root / "images" / s).is_dir()]
    runs = []
    for subset in _pick(subsets, present, "subsets (images/comp, images/natural)", root):
        images = {Path(f).stem: root / "images" / subset / f for f in _files(root / "images" / subset, _IMAGE_SUFFIXES)}
        for source in sources:
            mask_root = root / f"{_MASK_PREFIX}{source}" / subset
            rng = np.random.RandomState(_SEED)
            samples = []
            for name in sorted(set(images) | set(_subdirs(mask_root))):
                mask_dir = mask_root / name
                instances = _files(mask_dir, (".png",)) if mask_dir.is_dir() else None
                if instances is not None and len(instances) > max_instances and name in images:
                    instances = [str(i) for i in rng.choice(instances, max_instances, replace=False)]
                samples.append(
                    ImageSample(
                        name=name,
                        image=images.get(name, root / "images" / subset / f"{name}.jpg"),
                        alpha_dir=root / "alphas" / subset / name,
                        mask_dir=mask_dir,
                        instances=None if instances is None else tuple(instances),
                    )
                )
            runs.append((Group(subset, source), samples))
    return runs


def list_vhim(
    root: Path, *, subsets: Sequence[str] | None = None, max_instances: int = 10
) -> list[tuple[Group, list[VideoSample]]]:
    """List the splits of a V-HIM60 folder and their videos (mask source ``xmem``)."""
    present = [s for s in VHIM_SPLITS if (root / s / "pha").is_dir() or (root / s / "fgr").is_dir()]
    runs = []
    for split in _pick(subsets, present, "splits (comp_easy, comp_medium, comp_hard)", root):
        base = root / split
        samples = []
        for video in sorted(set(_subdirs(base / "pha")) | set(_subdirs(base / "fgr"))):
            frames = tuple(base / "fgr" / video / f for f in _files(base / "fgr" / video, _IMAGE_SUFFIXES))
            stems = [f.stem for f in frames]
            first = _files(base / "pha" / video / stems[0], (".png",)) if stems else []
            samples.append(
                VideoSample(
                    name=video,
                    frames=frames,
                    alpha_dirs=tuple(base / "pha" / video / s for s in stems),
                    mask_dirs=tuple(base / "xmem" / video / s for s in stems),
                    instances=tuple(first[:max_instances]),
                )
            )
        runs.append((Group(split, "xmem"), samples))
    return runs


def image_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file, read from its header only."""
    with _open(path) as image:
        return image.height, image.width


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except FileNotFoundError as exc:
        raise BadSample(f"missing file {path}") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise BadSample(f"unreadable file {path} ({exc})") from exc


def _read(path: Path, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    with _open(path) as image:
        try:
            array = np.asarray(image.convert(mode))
        except (OSError, SyntaxError, ValueError) as exc:
            raise BadSample(f"unreadable file {path} ({exc})") from exc
    if size is not None and array.shape[:2] != tuple(size):
        raise BadSample(f"{path} is {array.shape[1]}×{array.shape[0]}, expected {size[1]}×{size[0]}")
    return array


def read_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """An image as ``H×W×3`` uint8 RGB (Pillow, no EXIF rotation, like the reference loader)."""
    return _read(path, "RGB", size)


def read_alpha(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A ground-truth alpha PNG as ``H×W`` uint8."""
    return _read(path, "L", size)


def read_mask(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """A guidance mask PNG as ``H×W`` bool (grey value > 127)."""
    return _read(path, "L", size) > 127
