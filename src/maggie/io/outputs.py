"""Writing and reading back image outputs: alpha PNGs, RGBA cut-outs and composite previews.

Every writer is atomic (see :mod:`maggie.io.atomic`) and returns the path it wrote. Alphas are
``H×W`` float32 in ``[0, 1]``; values outside are clipped. 8-bit files store
``round(alpha · 255)``, 16-bit files ``round(alpha · 65535)``.
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor, UnidentifiedImageError

from ..errors import InputError, MaggieError
from ._optional import require
from .atomic import atomic_path

__all__ = [
    "alpha_to_uint",
    "write_alpha_png",
    "write_rgb_png",
    "estimate_foreground",
    "write_cutout_png",
    "instance_colors",
    "parse_color",
    "composite_preview",
    "read_alpha",
]


def alpha_to_uint(alpha: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Quantise a float alpha to uint8 (``bit_depth=8``) or uint16 (``bit_depth=16``), rounding."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    full = 255 if bit_depth == 8 else 65535
    scaled = np.rint(np.clip(np.asarray(alpha, dtype=np.float32), 0.0, 1.0) * full)
    return scaled.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _save(array: np.ndarray, path: str | os.PathLike[str]) -> Path:
    with atomic_path(path) as temp:
        Image.fromarray(array).save(temp, format="PNG")
    return Path(path)


def write_alpha_png(alpha: np.ndarray, path: str | os.PathLike[str], *, bit_depth: int = 8) -> Path:
    """Write one ``H×W`` alpha as a grayscale PNG, 8-bit (``L``) or 16-bit (``I;16``)."""
    alpha = np.asarray(alpha)
    if alpha.ndim != 2:
        raise ValueError(f"expected an H×W alpha, got shape {alpha.shape}")
    return _save(alpha_to_uint(alpha, bit_depth), path)


def write_rgb_png(image: np.ndarray, path: str | os.PathLike[str]) -> Path:
    """Write an ``H×W×3`` uint8 image (e.g. a composite preview) as PNG."""
    return _save(np.ascontiguousarray(image, dtype=np.uint8), path)


def estimate_foreground(image: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Foreground colours ``F`` with ``image ≈ alpha·F + (1 − alpha)·B``, ``H×W×3`` float in [0, 1].

    Uses pymatting's multi-level ``estimate_foreground_ml`` (extra ``maggie[cutout]``). Raw
    image colours would carry the old background into soft edges such as hair.
    """
    pymatting = require("pymatting")
    foreground = pymatting.estimate_foreground_ml(
        np.asarray(image, dtype=np.float64) / 255.0, np.clip(np.asarray(alpha, dtype=np.float64), 0.0, 1.0)
    )
    return np.clip(foreground, 0.0, 1.0)


def write_cutout_png(
    image: np.ndarray,
    alpha: np.ndarray,
    path: str | os.PathLike[str],
    *,
    foreground: np.ndarray | None = None,
) -> Path:
    """Write an 8-bit RGBA PNG: estimated foreground colours with the alpha as transparency.

    Args:
        image: ``H×W×3`` uint8 picture the alpha belongs to.
        alpha: ``H×W`` float alpha of one instance.
        path: destination PNG.
        foreground: precomputed ``H×W×3`` float foreground in [0, 1]; estimated when omitted.
    """
    if foreground is None:
        foreground = estimate_foreground(image, alpha)
    rgb = np.rint(np.clip(foreground, 0.0, 1.0) * 255).astype(np.uint8)
    rgba = np.dstack([rgb, alpha_to_uint(alpha, 8)])
    return _save(rgba, path)


def instance_colors(count: int) -> list[tuple[int, int, int]]:
    """``count`` distinct saturated colours; consecutive instances get far-apart hues."""
    golden = 0.618033988749895  # successive hues spread evenly for any count
    colors = []
    for i in range(count):
        r, g, b = colorsys.hsv_to_rgb((0.02 + i * golden) % 1.0, 0.85, 1.0)
        colors.append((round(r * 255), round(g * 255), round(b * 255)))
    return colors


def parse_color(color: str | Sequence[int]) -> tuple[int, int, int]:
    """A colour given as a CSS name, ``#rrggbb`` or an ``(r, g, b)`` triple, as an RGB triple."""
    if isinstance(color, str):
        try:
            return ImageColor.getrgb(color)[:3]
        except ValueError as exc:
            raise MaggieError(f"unknown colour {color!r} (use a name such as 'green' or '#00ff00')") from exc
    rgb = tuple(int(c) for c in color)
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise MaggieError(f"a colour needs three values in 0..255, got {color!r}")
    return rgb


def composite_preview(
    image: np.ndarray,
    alphas: np.ndarray,
    *,
    background: str | Sequence[int] | None = None,
    opacity: float = 0.5,
) -> np.ndarray:
    """A quick-look picture of ``N×H×W`` alphas over an ``H×W×3`` uint8 image.

    Without ``background``: each instance is tinted its own colour (:func:`instance_colors`)
    with strength ``opacity · alpha``, over the unchanged image. With ``background``: every
    instance, in image colours, over that colour, using the union alpha ``1 − Π(1 − αᵢ)``.
    Returns ``H×W×3`` uint8.
    """
    picture = np.asarray(image, dtype=np.float32)
    alphas = np.clip(np.asarray(alphas, dtype=np.float32), 0.0, 1.0)
    if background is not None:
        union = 1.0 - np.prod(1.0 - alphas, axis=0)
        fill = np.asarray(parse_color(background), dtype=np.float32)
        out = picture * union[..., None] + fill * (1.0 - union[..., None])
    else:
        out = picture
        for alpha, color in zip(alphas, instance_colors(len(alphas)), strict=True):
            weight = (opacity * alpha)[..., None]
            out = out * (1.0 - weight) + np.asarray(color, dtype=np.float32) * weight
    return np.rint(np.clip(out, 0, 255)).astype(np.uint8)


def read_alpha(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an alpha back as ``H×W`` float32 in [0, 1].

    Grayscale PNGs give their value (8-bit / 255, 16-bit / 65535); RGBA and LA images give
    their alpha channel. Video containers: :func:`maggie.io.read_alpha_video`.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA"):
                return np.asarray(image.getchannel("A"), dtype=np.float32) / 255.0
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                return np.asarray(image, dtype=np.float32) / 65535.0
            if image.mode in ("L", "1"):
                return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such alpha file") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: cannot read alpha ({exc})") from exc
    raise InputError(f"{path}: image mode {image.mode} holds no alpha (expected L, I;16, LA or RGBA)")
