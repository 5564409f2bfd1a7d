"""Procedural people and backgrounds: seeded stand-ins for real foreground/alpha pairs.

No real alpha mattes can be downloaded in this project's build environment, so tests, smoke
training and the bundled examples use these instead. A foreground is a head-and-shoulders figure
built from signed-distance shapes (head, neck, torso, arms), with 1–2 px soft edges, a hair cap
with thin semi-transparent strands, optionally a semi-transparent veil and motion blur. They
exercise everything a matting pipeline cares about (fine structure, partial alpha, holes
between arm and body) but look nothing like real people: train real models on real data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from ..io import write_jpeg, write_png
from ..transforms.photometric import motion_blur_kernel

__all__ = ["procedural_foreground", "procedural_background", "write_procedural_sources"]

_SKIN = np.array([[255, 219, 172], [241, 194, 125], [224, 172, 105], [198, 134, 66], [141, 85, 36], [93, 58, 32]])
_HAIR = np.array([[20, 15, 12], [60, 40, 25], [110, 75, 40], [200, 160, 90], [150, 60, 30], [90, 90, 95]])


def _noise(shape: tuple[int, int], rng: np.random.Generator, cells: int, channels: int = 1) -> np.ndarray:
    # Smooth value noise in [0, 1], H×W×channels float32: a coarse random grid upsampled bicubically.
    grid = rng.random((channels, cells, cells), dtype=np.float32)
    up = [np.asarray(Image.fromarray(g).resize(shape[::-1], Image.Resampling.BICUBIC)) for g in grid]
    return np.clip(np.stack(up, -1), 0.0, 1.0)


def _ellipse_sdf(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return (np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) - 1.0) * min(rx, ry)


def _capsule_sdf(x: np.ndarray, y: np.ndarray, a: tuple[float, float], b: tuple[float, float], r: float) -> np.ndarray:
    px, py = x - a[0], y - a[1]
    bx, by = b[0] - a[0], b[1] - a[1]
    t = np.clip((px * bx + py * by) / (bx * bx + by * by + 1e-9), 0.0, 1.0)
    return np.hypot(px - t * bx, py - t * by) - r


def _box_sdf(x: np.ndarray, y: np.ndarray, cx: float, cy: float, hw: float, hh: float, r: float) -> np.ndarray:
    qx, qy = np.abs(x - cx) - (hw - r), np.abs(y - cy) - (hh - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def _soft(sdf: np.ndarray, edge: float) -> np.ndarray:
    return np.clip(0.5 - sdf / edge, 0.0, 1.0)


def _strands(shape: tuple[int, int], rng: np.random.Generator, head: tuple[float, float, float, float]) -> np.ndarray:
    # Thin curved hairs leaving the top of the head, splatted bilinearly so that each one is a
    # 1–2 px line of partial alpha: the hardest structure for a matting model.
    h, w = shape
    cx, cy, rx, ry = head
    count = int(rng.integers(30, 90))
    theta = rng.uniform(-0.95 * np.pi, -0.05 * np.pi, count)
    length = rx * rng.uniform(0.2, 0.9, count)
    curl = rng.uniform(-1.0, 1.0, count)
    strength = rng.uniform(0.3, 0.8, count)
    steps = max(8, int(rx))
    t = np.linspace(0.0, 1.0, steps)[None, :]
    angle = theta[:, None] + curl[:, None] * t
    px = cx + 1.02 * rx * np.cos(theta)[:, None] + length[:, None] * t * np.cos(angle)
    py = cy + 0.98 * ry * np.sin(theta)[:, None] + length[:, None] * t * np.sin(angle)
    value = (strength[:, None] * np.sqrt(1.0 - t) * np.ones_like(px)).ravel()
    px, py = px.ravel(), py.ravel()
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - x0, py - y0
    acc = np.zeros(h * w, dtype=np.float64)
    for dx, dy, wgt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xs, ys = x0 + dx, y0 + dy
        ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        acc += np.bincount(ys[ok] * w + xs[ok], weights=(wgt * value)[ok], minlength=h * w)
    return np.clip(acc.reshape(h, w), 0.0, 1.0).astype(np.float32)


def _line_blur(image: np.ndarray, taps: list[tuple[int, int, float]]) -> np.ndarray:
    # NumPy twin of transforms.photometric.motion_blur for H×W×C arrays (no torch threads
    # to spin up for one small image).
    r = max(max(abs(dy), abs(dx)) for dy, dx, _ in taps)
    h, w = image.shape[:2]
    padded = np.pad(image, ((r, r), (r, r), (0, 0)), mode="edge")
    out = np.zeros_like(image)
    for dy, dx, weight in taps:
        out += weight * padded[r + dy : r + dy + h, r + dx : r + dx + w]
    return out


def procedural_foreground(
    size: tuple[int, int] = (256, 192), *, rng: np.random.Generator, motion_blur_p: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A random person-like foreground of ``size = (height, width)``.

    Returns ``(rgb, alpha)``: uint8 ``H×W×3`` straight (not premultiplied) colour and uint8
    ``H×W`` alpha. The figure is cut by the bottom border, like most portrait mattes.
    """
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx = w * rng.uniform(0.42, 0.58)
    rx = w * rng.uniform(0.11, 0.15)
    ry = rx * rng.uniform(1.15, 1.35)
    cy = max(h * rng.uniform(0.18, 0.3), 1.3 * ry)
    shoulder_y = cy + ry * rng.uniform(1.25, 1.5)
    half = min(rx * rng.uniform(1.6, 2.2), w / 2 - 2)
    sides = []
    for sign in (-1.0, 1.0):
        raised = rng.random() < 0.25
        hand = (cx + sign * (half + rx * rng.uniform(0.2, 1.2)), cy if raised else h * rng.uniform(0.8, 1.1))
        hand = (float(np.clip(hand[0], 0.5 * rx, w - 0.5 * rx)), hand[1])
        sides.append(_capsule_sdf(x, y, (cx + sign * (half - 0.1 * rx), shoulder_y + 0.4 * rx), hand, 0.4 * rx))
    head = _ellipse_sdf(x, y, cx, cy, rx, ry)
    neck = _box_sdf(x, y, cx, cy + 1.1 * ry, 0.5 * rx, 0.5 * ry, 0.2 * rx)
    torso = _box_sdf(x, y, cx, (shoulder_y + h + rx) / 2, half, (h + rx - shoulder_y) / 2, 0.9 * rx)
    torso = torso - rng.uniform(0.0, 0.15) * np.maximum(y - shoulder_y, 0)
    arms = np.minimum(*sides)
    body = _soft(np.minimum(np.minimum(head, neck), np.minimum(torso, arms)), rng.uniform(0.6, 1.5))

    hair_sdf = _ellipse_sdf(x, y, cx, cy - 0.12 * ry, 1.08 * rx, 0.98 * ry) + np.maximum(y - cy - 0.2 * ry, 0)
    if rng.random() < 0.4:
        drop = shoulder_y + rx * rng.uniform(0.2, 1.0)
        for sign in (-1.0, 1.0):
            hair_sdf = np.minimum(
                hair_sdf, _capsule_sdf(x, y, (cx + sign * 0.9 * rx, cy), (cx + sign * rx, drop), 0.35 * rx)
            )
    hair = np.maximum(_soft(hair_sdf, rng.uniform(1.5, 3.0)), _strands((h, w), rng, (cx, cy, rx, ry)))

    skin = (_SKIN[rng.integers(len(_SKIN))] + rng.normal(0, 8, 3)).astype(np.float32)
    cloth = rng.uniform(20, 235, 3).astype(np.float32)
    pattern = _noise((h, w), rng, 6)
    if rng.random() < 0.3:
        pattern = 0.5 + 0.5 * np.sin(x * rng.uniform(0.2, 0.6) + y * rng.uniform(-0.2, 0.2))[..., None]
    skin_parts, cloth_parts = np.minimum(head, neck), torso
    if rng.random() < 0.5:  # long sleeves
        cloth_parts = np.minimum(cloth_parts, arms)
    else:
        skin_parts = np.minimum(skin_parts, arms)
    body_rgb = np.where((skin_parts < cloth_parts)[..., None], skin, cloth * (0.7 + 0.5 * pattern))
    layers = [(body, body_rgb)]
    if rng.random() < 0.6:
        side = cx + rng.choice([-1.0, 1.0]) * half * rng.uniform(0.8, 1.2)
        veil_sdf = _ellipse_sdf(
            x,
            y,
            side,
            shoulder_y + rx * rng.uniform(0.5, 2.0),
            rx * rng.uniform(0.6, 1.2),
            rx * rng.uniform(0.8, 1.6),
        )
        layers.append(
            (
                _soft(veil_sdf, 2.0) * rng.uniform(0.25, 0.65),
                np.broadcast_to(rng.uniform(0, 255, 3).astype(np.float32), (h, w, 3)),
            )
        )
    hair_tone = (_HAIR[rng.integers(len(_HAIR))] + rng.normal(0, 6, 3)).astype(np.float32)
    hair_rgb = hair_tone * (0.8 + 0.4 * _noise((h, w), rng, 12))
    layers.append((hair, hair_rgb))

    premult = np.zeros((h, w, 3), dtype=np.float32)
    alpha = np.zeros((h, w), dtype=np.float32)
    for a, rgb in layers:  # back to front, "over" compositing
        premult = a[..., None] * rgb + (1 - a[..., None]) * premult
        alpha = a + (1 - a) * alpha
    shade = 0.8 + 0.35 * _noise((h, w), rng, 3) - 0.1 * (x / w)[..., None]
    premult = premult * shade
    if rng.random() < motion_blur_p:
        taps = motion_blur_kernel(int(rng.integers(1, 8)) * 2 + 1, float(rng.uniform(0, 180)))
        stacked = _line_blur(np.concatenate([premult, alpha[..., None]], -1), taps)
        premult, alpha = stacked[..., :3], stacked[..., 3]
    rgb = np.where(alpha[..., None] > 1e-3, premult / np.maximum(alpha[..., None], 1e-3), cloth)
    return np.clip(rgb, 0, 255).round().astype(np.uint8), np.clip(alpha * 255, 0, 255).round().astype(np.uint8)


def procedural_background(size: tuple[int, int] = (240, 320), *, rng: np.random.Generator) -> np.ndarray:
    """A random textured scene of ``size = (height, width)``: sky/ground gradient, coloured
    value noise at several scales, a few flat boxes and discs, fine grain. uint8 ``H×W×3``."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = h * rng.uniform(0.3, 0.7)
    top, bottom = rng.uniform(0, 255, 3).astype(np.float32), rng.uniform(0, 255, 3).astype(np.float32)
    ramp = np.clip((y - horizon) / (0.1 * h) + 0.5, 0, 1)[..., None]
    image = top * (1 - ramp) + bottom * ramp
    for cells, amp in ((4, 60.0), (16, 25.0)):
        image = image + (_noise((h, w), rng, cells, 3) - 0.5) * amp
    for _ in range(int(rng.integers(3, 9))):
        colour = rng.uniform(0, 255, 3).astype(np.float32)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        sx, sy = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.4) * h
        shape = (
            (np.abs(x - cx) < sx) & (np.abs(y - cy) < sy)
            if rng.random() < 0.6
            else _ellipse_sdf(x, y, cx, cy, sx, sx) < 0
        )
        image = np.where(shape[..., None], image * 0.3 + colour * 0.7, image)
    image = image + 4.0 * rng.standard_normal((h, w, 3), dtype=np.float32)
    return np.clip(image, 0, 255).round().astype(np.uint8)


def write_procedural_sources(
    out_dir: str | Path,
    *,
    num_foregrounds: int = 8,
    num_backgrounds: int = 4,
    seed: int = 0,
    foreground_size: tuple[int, int] = (256, 192),
    background_size: tuple[int, int] = (240, 320),
    motion_blur_p: float = 0.2,
) -> tuple[Path, Path]:
    """Write ``out_dir/fg/<k>.png`` (RGBA) and ``out_dir/bg/<k>.jpg``; return both folders.

    The folders are valid ``fg_dir`` / ``bg_dir`` inputs of :func:`synthesize_images` and
    :func:`synthesize_videos`. Identical arguments write identical bytes.
    """
    out = Path(out_dir)
    fg_dir, bg_dir = out / "fg", out / "bg"
    for k in range(num_foregrounds):
        rgb, alpha = procedural_foreground(
            foreground_size, rng=np.random.default_rng([seed, 0, k]), motion_blur_p=motion_blur_p
        )
        write_png(fg_dir / f"{k:04d}.png", np.concatenate([rgb, alpha[..., None]], -1))
    for k in range(num_backgrounds):
        write_jpeg(
            bg_dir / f"{k:04d}.jpg",
            procedural_background(background_size, rng=np.random.default_rng([seed, 1, k])),
        )
    return fg_dir, bg_dir
