"""Multi-person video composites (V-HIM2K5 / V-HIM60 style) at three occlusion levels.

Rules (paper §9.1, reference ``tools/synthesize_video_him.py``):

* Clips are ``min(num_frames, shortest foreground video)`` frames (30 by default). Still
  foregrounds are animated with a smooth random sway, bob, zoom and tilt, since few users have
  foreground videos.
* ``config.instances`` people per clip (paper "up to 5"; reference 2–4), at most
  ``easy_max_instances`` (3) for easy.
* Each person's bounding box is the union over the clip. Widths share the background width in
  proportion to the boxes' aspect ratios; medium multiplies the scale by U(1, 1.5), hard by
  U(1, 2); a person taller than the frame gets ``H / h_box · U(0.8, 1)``. People stand on the
  bottom edge. Easy puts them side by side (no overlap); medium and hard shift each one by
  ±U{0..W/2} (clamped to the frame).
* Occlusion of a person in a frame is the fraction of its alpha mass hidden by people pasted
  later. A medium clip must have a maximum occlusion in ``medium_occlusion`` (reference
  5–30 %; the paper says 5–50 %), hard in ``hard_occlusion`` (50–85 %), easy none. Placements
  are redrawn until this holds.

Output layout::

    <split>/fgr/<video>/<frame>.jpg     <split>/pha/<video>/<frame>/<k>.png
    <split>/<mask_dir>/<video>/<frame>/<k>.png   (test-style guidance, default "xmem")
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ...errors import InputError
from ..io import write_jpeg, write_png
from ..transforms.geometric import affine_matrix, warp_affine
from ..transforms.masks import simulate_predicted_masks
from .sources import (
    Background,
    Foreground,
    find_backgrounds,
    find_foregrounds,
    fit_background,
    resize_plane,
    resize_premultiplied,
    resize_rgba,
)

__all__ = [
    "Level",
    "VideoSynthesisConfig",
    "VideoComposite",
    "VideoRecord",
    "animate_still",
    "occlusion",
    "compose_video",
    "synthesize_videos",
]

Level = Literal["easy", "medium", "hard"]
_STREAM = {"easy": 2, "medium": 3, "hard": 4}


@dataclass(frozen=True)
class VideoSynthesisConfig:
    """Settings of :func:`synthesize_videos` (see the module docstring for the rules).

    Attributes:
        size: output ``(height, width)``; None keeps the first background frame's size.
        motion: amplitude of the synthetic motion of still foregrounds (fraction of their size).
        attempts: redraws (people, background, motion) before a clip is given up.
        placement_tries: layouts tried per draw before redrawing.
        mask_dir: folder name for test-style (tracker-like) guidance masks; empty writes none.
    """

    num_frames: int = 30
    instances: tuple[int, int] = (2, 5)
    easy_max_instances: int = 3
    medium_occlusion: tuple[float, float] = (0.05, 0.30)
    hard_occlusion: tuple[float, float] = (0.50, 0.85)
    medium_scale: tuple[float, float] = (1.0, 1.5)
    hard_scale: tuple[float, float] = (1.0, 2.0)
    size: tuple[int, int] | None = None
    motion: float = 0.15
    attempts: int = 30
    placement_tries: int = 10
    mask_dir: str = "xmem"
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if not 2 <= self.instances[0] <= self.instances[1]:
            raise InputError(f"instances must satisfy 2 <= low <= high, got {self.instances}")
        if self.num_frames < 1:
            raise InputError(f"num_frames must be >= 1, got {self.num_frames}")


@dataclass(frozen=True)
class VideoComposite:
    """``frames (T, H, W, 3)`` uint8; ``alphas`` visible and ``full_alphas`` unoccluded
    ``(T, n, H, W)`` float32 in [0, 1]; ``max_occlusion`` over frames and people."""

    frames: np.ndarray
    alphas: np.ndarray
    full_alphas: np.ndarray
    max_occlusion: float


@dataclass(frozen=True)
class VideoRecord:
    """What was written for one clip."""

    name: str
    level: str
    instances: int
    frames: int
    max_occlusion: float


Clip = tuple[np.ndarray, np.ndarray]  # premultiplied rgb (T, h, w, 3) and alpha (T, h, w), float32 0..255


def occlusion(visible: np.ndarray, full: np.ndarray) -> np.ndarray:
    """Hidden fraction of each person's alpha mass, ``(T, n)``, from visible and unoccluded
    alphas ``(T, n, H, W)`` (0 where a person is absent)."""
    mass = full.sum((-2, -1))
    return np.where(mass > 0, 1.0 - visible.sum((-2, -1)) / np.maximum(mass, 1e-6), 0.0)


def animate_still(
    premult: np.ndarray, alpha: np.ndarray, num_frames: int, rng: np.random.Generator, *, motion: float = 0.15
) -> Clip:
    """Turn one still person (premultiplied rgb ``h×w×3`` and alpha ``h×w``, float32 0..255)
    into a clip with smooth random motion: sway, bob, zoom and tilt, each a sum of two slow
    sines. A figure cut by the bottom of its photo keeps touching the bottom: the warp repeats
    the bottom rows, so moving it never reveals the cut."""
    h, w = alpha.shape
    margin_x = math.ceil(motion * w + 0.1 * h)
    margin_y = math.ceil(0.3 * motion * h + 0.05 * h)
    cut = alpha[-1].max() > 127
    pad = ((margin_y, 0 if cut else margin_y), (margin_x, margin_x))
    canvas = np.concatenate([np.pad(premult, (*pad, (0, 0))), np.pad(alpha, pad)[..., None]], -1)
    ch, cw = canvas.shape[:2]
    t = np.arange(num_frames) / max(num_frames, 1)

    def wave(amplitude: float) -> np.ndarray:
        freq, phase = rng.uniform(0.2, 1.0, 2), rng.uniform(0, 2 * np.pi, 2)
        weight = rng.dirichlet([1.0, 1.0])
        sines = np.sin(2 * np.pi * freq[:, None] * t[None] + phase[:, None])
        return amplitude * (weight @ sines)

    dx, dy = wave(motion * w), wave(0.3 * motion * h)
    tilt, zoom = wave(rng.uniform(0, 4)), 1.0 + wave(rng.uniform(0, 0.06))
    matrices = np.stack(
        [
            affine_matrix((ch, cw), rotation=float(tilt[i]), scale=(float(zoom[i]),) * 2, translate=(dx[i], dy[i]))
            for i in range(num_frames)
        ]
    )
    source = torch.from_numpy(np.ascontiguousarray(canvas, dtype=np.float32)).permute(2, 0, 1)[None]
    warped = warp_affine(source.expand(num_frames, -1, -1, -1), matrices, padding="border").permute(0, 2, 3, 1).numpy()
    return np.ascontiguousarray(warped[..., :3]), np.ascontiguousarray(warped[..., 3])


def _crop_union(clip: Clip) -> Clip | None:
    union = (clip[1] > 0.5).any(0)
    rows, cols = np.flatnonzero(union.any(1)), np.flatnonzero(union.any(0))
    if rows.size == 0:
        return None
    window = (slice(None), slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    return clip[0][window], clip[1][window]


def _resize_clip(clip: Clip, size: tuple[int, int]) -> Clip:
    resized = [resize_premultiplied(premult, a, size) for premult, a in zip(*clip, strict=True)]
    return np.stack([r[0] for r in resized]), np.stack([r[1] for r in resized])


def _layout(
    boxes: list[tuple[int, int]],
    out: tuple[int, int],
    level: str,
    rng: np.random.Generator,
    cfg: VideoSynthesisConfig,
) -> list[tuple[int, int, int, int]]:
    # (y, x, height, width) of each person's union box in the output frame.
    out_h, out_w = out
    ratios = np.array([w / h for h, w in boxes])
    share = ratios / ratios.sum()
    sizes = []
    for (h, w), s in zip(boxes, share, strict=True):
        scale = out_w * s / w
        if level != "easy":
            scale *= rng.uniform(*(cfg.medium_scale if level == "medium" else cfg.hard_scale))
        if scale * h > out_h:
            scale = out_h / h * rng.uniform(0.8, 1.0)
        width = math.floor(w * scale) if level == "easy" else round(w * scale)
        sizes.append((max(1, round(h * scale)), max(1, width)))
    lefts = np.concatenate([[0], np.cumsum([w for _, w in sizes])[:-1]])
    if level == "easy":
        free = max(0, out_w - sum(w for _, w in sizes))
        gaps = np.diff(np.sort(rng.integers(0, free + 1, len(sizes))), prepend=0)
        lefts = lefts + np.cumsum(gaps)
    placed = []
    for (h, w), left in zip(sizes, lefts, strict=True):
        x = int(left)
        if level != "easy":
            x += int(rng.choice([-1, 1]) * rng.integers(0, out_w // 2 + 1))
            x = int(np.clip(x, min(0, out_w - w), max(0, out_w - w)))
        placed.append((out_h - h, x, h, w))
    return placed


def _paste(layers: list[np.ndarray], boxes: list[tuple[int, int, int, int]], out: tuple[int, int]) -> np.ndarray:
    # Unoccluded full-frame layers (T, n, H, W [, C]) from per-person crops at their boxes.
    t = layers[0].shape[0]
    extra = layers[0].shape[3:]
    canvas = np.zeros((t, len(layers), *out, *extra), np.float32)
    for k, (layer, (y, x, h, w)) in enumerate(zip(layers, boxes, strict=True)):
        y0, x0 = max(y, 0), max(x, 0)
        y1, x1 = min(y + h, out[0]), min(x + w, out[1])
        canvas[:, k, y0:y1, x0:x1] = layer[:, y0 - y : y1 - y, x0 - x : x1 - x]
    return canvas


def _visible(full: np.ndarray) -> np.ndarray:
    visible = full.copy()
    for k in range(full.shape[1] - 1):
        visible[:, k] *= np.prod(1.0 - full[:, k + 1 :], axis=1)
    return visible


def _accepts(level: str, worst: float, cfg: VideoSynthesisConfig) -> bool:
    if level == "easy":
        return worst <= 1e-6
    lo, hi = cfg.medium_occlusion if level == "medium" else cfg.hard_occlusion
    return lo <= worst <= hi


def compose_video(
    clips: list[Clip],
    background: np.ndarray,
    level: Level,
    rng: np.random.Generator,
    *,
    config: VideoSynthesisConfig | None = None,
) -> VideoComposite | None:
    """Place ``clips`` (premultiplied rgb ``(T, h, w, 3)`` and alpha ``(T, h, w)``, 0..255) on
    ``background (T, H, W, 3)`` uint8 following the rules of ``level``; None when no layout
    out of ``placement_tries`` meets the level's occlusion range."""
    cfg = config or VideoSynthesisConfig()
    out = background.shape[1:3]
    cropped = [c for c in (_crop_union(c) for c in clips) if c is not None]
    if len(cropped) < 2:
        return None
    boxes = [c[1].shape[1:] for c in cropped]
    for _ in range(cfg.placement_tries):
        placed = _layout(boxes, out, level, rng, cfg)
        alphas = [
            np.stack([resize_plane(a, (h, w)) for a in c[1]]) / 255.0
            for c, (_, _, h, w) in zip(cropped, placed, strict=True)
        ]
        full = _paste(alphas, placed, out)
        visible = _visible(full)
        worst = float(occlusion(visible, full).max())
        if _accepts(level, worst, cfg):
            break
    else:
        return None
    premults = [_resize_clip(c, (h, w))[0] for c, (_, _, h, w) in zip(cropped, placed, strict=True)]
    colour = _paste(premults, placed, out)
    frames = background.astype(np.float32)
    for k in range(full.shape[1]):
        frames = frames * (1.0 - full[:, k, ..., None]) + colour[:, k]
    return VideoComposite(np.clip(frames, 0, 255).round().astype(np.uint8), visible, full, worst)


def _load_clip(source: Foreground, length: int, rng: np.random.Generator, max_height: int, motion: float) -> Clip:
    # Shrink tall sources to the output height first: no person ends up taller than the frame.
    start = 0 if source.is_still else int(rng.integers(0, len(source.frames) - length + 1))
    frames = [source.load(i) for i in range(start, start + (1 if source.is_still else length))]
    h, w = frames[0][1].shape
    scale = min(1.0, max_height / h)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    resized = [resize_rgba(rgb, alpha, size) for rgb, alpha in frames]
    if source.is_still:
        return animate_still(*resized[0], length, rng, motion=motion)
    return np.stack([r[0] for r in resized]), np.stack([r[1] for r in resized])


def _background(source: Background, length: int, size: tuple[int, int] | None, rng: np.random.Generator) -> np.ndarray:
    start = int(rng.integers(len(source.frames)))
    offset = tuple(rng.random(2))
    fitted: dict[int, np.ndarray] = {}  # a still background is read and fitted once
    for i in range(length):
        key = (start + i) % len(source.frames)
        if key not in fitted:
            image = source.load(key)
            size = size or image.shape[:2]
            fitted[key] = fit_background(image, size, offset)
    return np.stack([fitted[(start + i) % len(source.frames)] for i in range(length)])


def synthesize_videos(
    fg_dir: str | Path,
    bg_dir: str | Path,
    out_dir: str | Path,
    *,
    num_videos: int,
    level: Level,
    seed: int = 0,
    split: str = "train",
    alpha_dir: str | Path | None = None,
    start_index: int = 0,
    config: VideoSynthesisConfig | None = None,
) -> list[VideoRecord]:
    """Write up to ``num_videos`` clips of one occlusion ``level`` to ``out_dir/<split>``.

    Clip ``i`` is named ``f"{level}_{i:05d}"`` and depends only on ``seed``, ``level``, ``i``,
    the inputs and ``config`` (reproducible byte for byte). A clip whose people cannot meet the
    level's occlusion range within ``config.attempts`` draws is skipped; the returned records
    list the clips written.
    """
    cfg = config or VideoSynthesisConfig()
    if level not in _STREAM:
        raise InputError(f"level must be one of {sorted(_STREAM)}, got {level!r}")
    people, backgrounds = find_foregrounds(fg_dir, alpha_dir), find_backgrounds(bg_dir)
    root = Path(out_dir) / split
    hi_count = min(cfg.instances[1], cfg.easy_max_instances) if level == "easy" else cfg.instances[1]
    lo_count = min(cfg.instances[0], hi_count)
    records = []
    for index in range(start_index, start_index + num_videos):
        rng = np.random.default_rng([seed, _STREAM[level], index])
        composite = None
        for _ in range(cfg.attempts):
            count = int(rng.integers(lo_count, hi_count + 1))
            picks = [people[int(i)] for i in rng.choice(len(people), size=count, replace=len(people) < count)]
            length = min([cfg.num_frames] + [len(p.frames) for p in picks if not p.is_still])
            background = _background(backgrounds[int(rng.integers(len(backgrounds)))], length, cfg.size, rng)
            clips = [_load_clip(p, length, rng, background.shape[1], cfg.motion) for p in picks]
            composite = compose_video(clips, background, level, rng, config=cfg)
            if composite is not None:
                break
        if composite is None:
            continue
        name = f"{level}_{index:05d}"
        masks = None
        if cfg.mask_dir:
            masks = simulate_predicted_masks(torch.from_numpy(composite.alphas), rng).numpy()
        for t, frame in enumerate(composite.frames):
            write_jpeg(root / "fgr" / name / f"{t:05d}.jpg", frame, quality=cfg.jpeg_quality)
            for k in range(composite.alphas.shape[1]):
                write_png(root / "pha" / name / f"{t:05d}" / f"{k:02d}.png", _to_u8(composite.alphas[t, k]))
                if masks is not None:
                    write_png(root / cfg.mask_dir / name / f"{t:05d}" / f"{k:02d}.png", _to_u8(masks[t, k]))
        count = composite.alphas.shape[1]
        records.append(VideoRecord(name, level, count, len(composite.frames), composite.max_occlusion))
    return records


def _to_u8(alpha: np.ndarray) -> np.ndarray:
    return np.clip(alpha * 255.0, 0, 255).round().astype(np.uint8)
