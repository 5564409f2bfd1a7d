"""Finding and loading the single-person foregrounds and the backgrounds that synthesis composes.

A foreground folder may hold, in any mix:

* still images with an alpha channel (RGBA PNG/WebP), e.g. ``fg/0001.png``;
* still images plus an alpha folder with the same file stems, e.g. ``fg/0001.jpg`` and
  ``alpha/0001.png`` (the HHM50K / BG-20K style of matting sets);
* sequences, one sub-folder per video, e.g. ``fgr/0000/00000.jpg`` with ``pha/0000/00000.jpg``
  (VideoMatte240K style) or RGBA frames without an alpha folder.

Background folders hold still images and/or sub-folders of frames (background videos).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ...errors import InputError
from ...io.media import IMAGE_SUFFIXES
from ..io import list_dirs, list_images, read_gray, read_rgb, read_rgba

__all__ = [
    "Foreground",
    "Background",
    "find_foregrounds",
    "find_backgrounds",
    "resize_plane",
    "resize_premultiplied",
    "resize_rgba",
    "fit_background",
]


@dataclass(frozen=True)
class Foreground:
    """One person: a still (one frame) or a video. ``alphas`` is None when the frames carry
    their own alpha channel."""

    frames: tuple[Path, ...]
    alphas: tuple[Path, ...] | None

    @property
    def is_still(self) -> bool:
        return len(self.frames) == 1

    def load(self, index: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(rgb H×W×3, alpha H×W)`` uint8 of frame ``index``."""
        if self.alphas is None:
            return read_rgba(self.frames[index])
        rgb, alpha = read_rgb(self.frames[index]), read_gray(self.alphas[index])
        if rgb.shape[:2] != alpha.shape:
            raise InputError(f"{self.alphas[index]}: alpha size differs from {self.frames[index]}")
        return rgb, alpha


@dataclass(frozen=True)
class Background:
    """A background still (one frame) or video."""

    frames: tuple[Path, ...]

    def load(self, index: int = 0) -> np.ndarray:
        return read_rgb(self.frames[index % len(self.frames)])


def _alpha_for(frame: Path, alpha_dir: Path) -> Path:
    for suffix in (frame.suffix, *IMAGE_SUFFIXES):
        candidate = alpha_dir / (frame.stem + suffix)
        if candidate.is_file():
            return candidate
    raise InputError(f"{frame}: no alpha named {frame.stem}.* in {alpha_dir}")


def find_foregrounds(fg_dir: str | Path, alpha_dir: str | Path | None = None) -> list[Foreground]:
    """All foregrounds in ``fg_dir`` (stills first, then sequences, each in natural order)."""
    root = Path(fg_dir)
    if not root.is_dir():
        raise InputError(f"{root}: foreground folder not found")
    alpha_root = Path(alpha_dir) if alpha_dir is not None else None
    found = []
    for frame in list_images(root):
        alphas = None if alpha_root is None else (_alpha_for(frame, alpha_root),)
        found.append(Foreground((frame,), alphas))
    for folder in list_dirs(root):
        frames = tuple(list_images(folder))
        if frames:
            alphas = None if alpha_root is None else tuple(_alpha_for(f, alpha_root / folder.name) for f in frames)
            found.append(Foreground(frames, alphas))
    if not found:
        raise InputError(f"{root}: no foreground images or frame folders found")
    return found


def find_backgrounds(bg_dir: str | Path) -> list[Background]:
    """All backgrounds in ``bg_dir``: still images, then frame folders."""
    root = Path(bg_dir)
    if not root.is_dir():
        raise InputError(f"{root}: background folder not found")
    found = [Background((p,)) for p in list_images(root)]
    found += [Background(tuple(list_images(d))) for d in list_dirs(root) if list_images(d)]
    if not found:
        raise InputError(f"{root}: no background images or frame folders found")
    return found


def resize_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear (Pillow, anti-aliased when shrinking) resize of a float32 ``H×W`` plane."""
    plane = np.ascontiguousarray(plane, dtype=np.float32)
    if plane.shape == tuple(size):
        return plane
    return np.asarray(Image.fromarray(plane).resize((int(size[1]), int(size[0])), Image.Resampling.BILINEAR))


def resize_premultiplied(
    premult: np.ndarray, alpha: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resize float32 premultiplied colour ``H×W×3`` and alpha ``H×W`` (0..255) to ``size``."""
    colour = np.stack([resize_plane(premult[..., c], size) for c in range(3)], -1)
    return np.clip(colour, 0, 255), np.clip(resize_plane(alpha, size), 0, 255)


def resize_rgba(rgb: np.ndarray, alpha: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resize a uint8 foreground to ``size = (height, width)`` → float32 ``(premultiplied rgb,
    alpha)`` in [0, 255]. Resampling premultiplied colour keeps whatever colour sits under zero
    alpha from bleeding into the edges."""
    a = alpha.astype(np.float32)
    return resize_premultiplied(rgb.astype(np.float32) * (a[..., None] / 255.0), a, size)


def fit_background(image: np.ndarray, size: tuple[int, int], offset: tuple[float, float]) -> np.ndarray:
    """Scale ``image`` to cover ``size = (height, width)`` and crop it there; ``offset`` in
    [0, 1]² picks where the crop sits along the longer axis. uint8 ``H×W×3``."""
    h, w = image.shape[:2]
    out_h, out_w = size
    scale = max(out_h / h, out_w / w)
    new_h, new_w = max(out_h, round(h * scale)), max(out_w, round(w * scale))
    if (new_h, new_w) != (h, w):
        image = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.Resampling.BILINEAR))
    top, left = int(offset[0] * (new_h - out_h)), int(offset[1] * (new_w - out_w))
    return np.ascontiguousarray(image[top : top + out_h, left : left + out_w])
