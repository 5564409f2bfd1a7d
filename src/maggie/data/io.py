"""Reading and writing the image files of the matting datasets (Pillow only).

All writers are byte-deterministic: the same array always produces the same file (no timestamps
or other metadata), which is what makes ``maggie synth`` reproducible from its seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..io.media import IMAGE_SUFFIXES, natural_key

__all__ = [
    "list_images",
    "list_dirs",
    "read_rgb",
    "read_gray",
    "read_rgba",
    "write_jpeg",
    "write_png",
]


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly inside ``folder`` (hidden files skipped), in natural order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_dirs(folder: str | Path) -> list[Path]:
    """Sub-folders directly inside ``folder`` (hidden ones skipped), in natural order."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    dirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(dirs, key=lambda p: natural_key(p.name))


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path)
        image.load()
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read image ({exc})") from exc
    return image


def read_rgb(path: Path) -> np.ndarray:
    """``H×W×3`` uint8 RGB."""
    return np.asarray(_open(path).convert("RGB"))


def read_gray(path: Path) -> np.ndarray:
    """``H×W`` uint8 (alpha mattes and masks are stored as 8-bit grey PNGs)."""
    return np.asarray(_open(path).convert("L"))


def read_rgba(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(rgb H×W×3, alpha H×W)`` uint8 from an image that has an alpha channel."""
    image = _open(path)
    if "A" not in image.getbands() and not (image.mode == "P" and "transparency" in image.info):
        raise InputError(f"{path}: has no alpha channel; pass an alpha folder for this foreground")
    rgba = np.asarray(image.convert("RGBA"))
    return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])


def _prepare(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)


def write_jpeg(path: Path, rgb: np.ndarray, *, quality: int = 95) -> None:
    """Write ``H×W×3`` uint8 RGB as a JPEG (4:2:0, no metadata)."""
    _prepare(path)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an H×W×3 array, got {rgb.shape}")
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(path, "JPEG", quality=quality)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write ``H×W`` (grey) or ``H×W×4`` (RGBA) uint8 as a PNG."""
    _prepare(path)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 4)):
        raise ValueError(f"expected an H×W or H×W×4 array, got {array.shape}")
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(path, "PNG")
