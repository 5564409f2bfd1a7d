"""Multi-person image composites (I-HIM50K style) from single-person foregrounds.

Rules (paper §8.1, reference ``tools/synthesize_image_him.py``):

* ``instances`` people per image, drawn from ``config.instances`` (inclusive). The paper says
  2–5; the reference script draws 2–4 (``randint(2, 5)``). The default follows the paper.
* Each foreground is cropped to its alpha's bounding box and scaled to a height of
  U(0.5, 0.9) of the background (smaller if it would be wider than the background).
* People are pasted one after the other; a placement is kept only if every person already
  there keeps at least ``min_visible`` (70 %) of its alpha mass (the paper's "IoU ≤ 30 %").
  Up to ``placement_tries`` (3) positions are tried, then the person is skipped; a composite
  with fewer than the minimum count is redrawn.
* Figures cut by the bottom of their photo stand on the bottom of the image; others stand in
  its lower half.

Output layout (``subset`` may be empty)::

    images/<subset>/<id>.jpg          alphas/<subset>/<id>/<k>.png
    masks/<subset>/<id>/<k>.png       (test-style guidance, optional)
    fg/<subset>/<id>/<k>.jpg, bg/<subset>/<id>.jpg   (layers, optional)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ...errors import InputError
from ..io import write_jpeg, write_png
from ..transforms.masks import simulate_predicted_masks
from .sources import Foreground, find_backgrounds, find_foregrounds, fit_background, resize_rgba

__all__ = ["ImageSynthesisConfig", "Composite", "SynthesisRecord", "compose_image", "synthesize_images"]

_STREAM = 1  # separates the image generator's random stream from the video one


@dataclass(frozen=True)
class ImageSynthesisConfig:
    """Settings of :func:`synthesize_images` (see the module docstring for the rules).

    Attributes:
        size: output ``(height, width)``; backgrounds are scaled to cover it and cropped. None
            keeps each background's own size (the reference behaviour).
        mask_dir: folder name for test-style guidance masks; empty writes none.
        write_layers: also write each person's colour layer (``fg/``) and the background (``bg/``).
        attempts: redraws of a composite that ended with too few people before giving up.
    """

    instances: tuple[int, int] = (2, 5)
    height: tuple[float, float] = (0.5, 0.9)
    min_visible: float = 0.7
    placement_tries: int = 3
    attempts: int = 20
    size: tuple[int, int] | None = None
    subset: str = ""
    mask_dir: str = "masks"
    write_layers: bool = False
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        lo, hi = self.instances
        if not 1 <= lo <= hi:
            raise InputError(f"instances must satisfy 1 <= low <= high, got {self.instances}")
        if not 0 < self.height[0] <= self.height[1] <= 1:
            raise InputError(f"height must be within (0, 1], got {self.height}")


@dataclass(frozen=True)
class Composite:
    """One composite. ``alphas`` are the visible alphas ``(n, H, W)`` float32 in [0, 1] after
    occlusion, ``full_alphas`` the unoccluded ones, ``layers`` each person's straight colour
    ``(n, H, W, 3)`` uint8 and ``visible`` each person's kept fraction of alpha mass."""

    image: np.ndarray
    alphas: np.ndarray
    full_alphas: np.ndarray
    layers: np.ndarray
    background: np.ndarray
    visible: tuple[float, ...]


@dataclass(frozen=True)
class SynthesisRecord:
    """What was written for one sample (for logs and tests)."""

    name: str
    instances: int
    visible: tuple[float, ...]


def _crop_to_alpha(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    rows, cols = np.flatnonzero(alpha.any(1)), np.flatnonzero(alpha.any(0))
    if rows.size == 0:
        return None
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return rgb[window], alpha[window]


def compose_image(
    people: Sequence[tuple[np.ndarray, np.ndarray]],
    background: np.ndarray,
    rng: np.random.Generator,
    *,
    height: tuple[float, float] = (0.5, 0.9),
    min_visible: float = 0.7,
    placement_tries: int = 3,
) -> Composite:
    """Paste ``people`` (uint8 ``(rgb H×W×3, alpha H×W)`` pairs) onto ``background`` in order.

    People that cannot be placed without hiding more than ``1 - min_visible`` of someone
    already there (after ``placement_tries`` positions) are left out.
    """
    out_h, out_w = background.shape[:2]
    visible: list[np.ndarray] = []
    premults: list[np.ndarray] = []
    full: list[np.ndarray] = []
    for rgb, alpha in people:
        cropped = _crop_to_alpha(rgb, alpha)
        if cropped is None:
            continue
        rgb, alpha = cropped
        h, w = alpha.shape
        scale = rng.uniform(*height) * out_h / h
        scale = min(scale, out_w / w)
        size = (max(1, min(out_h, round(h * scale))), max(1, min(out_w, round(w * scale))))
        premult, a = resize_rgba(rgb, alpha, size)
        a = a / 255.0
        standing = alpha[-1].max() > 127
        for _ in range(placement_tries):
            y = out_h - size[0] if standing else int(rng.integers((out_h - size[0]) // 2, out_h - size[0] + 1))
            x = int(rng.integers(0, out_w - size[1] + 1))
            window = (slice(y, y + size[0]), slice(x, x + size[1]))
            kept = [v[window] * (1.0 - a) for v in visible]
            masses = [f.sum() for f in full]
            if all(
                (v.sum() - v[window].sum() + k.sum()) >= min_visible * m
                for v, k, m in zip(visible, kept, masses, strict=True)
            ):
                for v, k in zip(visible, kept, strict=True):
                    v[window] = k
                canvas = np.zeros((out_h, out_w), np.float32)
                canvas[window] = a
                visible.append(canvas)
                full.append(canvas.copy())
                layer = np.zeros((out_h, out_w, 3), np.float32)
                layer[window] = premult
                premults.append(layer)
                break
    image = background.astype(np.float32)
    layers = []
    for canvas, layer in zip(full, premults, strict=True):
        image = image * (1.0 - canvas[..., None]) + layer
        straight = np.where(canvas[..., None] > 0, layer / np.maximum(canvas[..., None], 1e-6), 0)
        layers.append(np.clip(straight, 0, 255).round().astype(np.uint8))
    n = len(full)
    return Composite(
        image=np.clip(image, 0, 255).round().astype(np.uint8),
        alphas=np.stack(visible) if n else np.zeros((0, out_h, out_w), np.float32),
        full_alphas=np.stack(full) if n else np.zeros((0, out_h, out_w), np.float32),
        layers=np.stack(layers) if n else np.zeros((0, out_h, out_w, 3), np.uint8),
        background=background,
        visible=tuple(float(v.sum() / max(f.sum(), 1e-6)) for v, f in zip(visible, full, strict=True)),
    )


def _load_person(source: Foreground, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return source.load(int(rng.integers(len(source.frames))))


def _to_u8(alpha: np.ndarray) -> np.ndarray:
    return np.clip(alpha * 255.0, 0, 255).round().astype(np.uint8)


def synthesize_images(
    fg_dir: str | Path,
    bg_dir: str | Path,
    out_dir: str | Path,
    *,
    num_images: int,
    seed: int = 0,
    alpha_dir: str | Path | None = None,
    start_index: int = 0,
    config: ImageSynthesisConfig | None = None,
) -> list[SynthesisRecord]:
    """Write ``num_images`` composites to ``out_dir`` (layout in the module docstring).

    Image ``i`` (named ``f"{i:05d}"``, ``i`` from ``start_index``) depends only on ``seed``,
    ``i``, the inputs and ``config``, so runs are reproducible byte for byte and can be split
    into disjoint index ranges.
    """
    cfg = config or ImageSynthesisConfig()
    people, backgrounds = find_foregrounds(fg_dir, alpha_dir), find_backgrounds(bg_dir)
    out = Path(out_dir)
    sub = Path(cfg.subset) if cfg.subset else Path()
    records = []
    for index in range(start_index, start_index + num_images):
        rng = np.random.default_rng([seed, _STREAM, index])
        lo, hi = cfg.instances
        for _ in range(cfg.attempts):
            count = int(rng.integers(lo, hi + 1))
            picks = rng.choice(len(people), size=count, replace=len(people) < count)
            source = backgrounds[int(rng.integers(len(backgrounds)))]
            background = source.load(int(rng.integers(len(source.frames))))
            if cfg.size is not None:
                background = fit_background(background, cfg.size, tuple(rng.random(2)))
            composite = compose_image(
                [_load_person(people[int(i)], rng) for i in picks],
                background,
                rng,
                height=cfg.height,
                min_visible=cfg.min_visible,
                placement_tries=cfg.placement_tries,
            )
            if len(composite.alphas) >= lo:
                break
        else:
            raise InputError(
                f"image {index}: could not place {lo} people in {cfg.attempts} attempts; "
                "use wider backgrounds, narrower foregrounds or a smaller instance range"
            )
        name = f"{index:05d}"
        write_jpeg(out / "images" / sub / f"{name}.jpg", composite.image, quality=cfg.jpeg_quality)
        for k, alpha in enumerate(composite.alphas):
            write_png(out / "alphas" / sub / name / f"{k:02d}.png", _to_u8(alpha))
        if cfg.mask_dir:
            masks = simulate_predicted_masks(torch.from_numpy(composite.alphas)[None], rng)[0]
            for k, mask in enumerate(masks.numpy()):
                write_png(out / cfg.mask_dir / sub / name / f"{k:02d}.png", _to_u8(mask))
        if cfg.write_layers:
            for k, layer in enumerate(composite.layers):
                write_jpeg(out / "fg" / sub / name / f"{k:02d}.jpg", layer, quality=cfg.jpeg_quality)
            write_jpeg(out / "bg" / sub / f"{name}.jpg", composite.background, quality=cfg.jpeg_quality)
        records.append(SynthesisRecord(name, len(composite.alphas), composite.visible))
    return records
