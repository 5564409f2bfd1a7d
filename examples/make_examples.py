"""Write the bundled examples: a two-person image and a short two-person video, with their masks.

Run from the repository root (it rewrites the files below, byte for byte the same each time)::

    python examples/make_examples.py

Files written next to this script:

* ``people.jpg`` (320×240) and ``people_masks/person_1.png``, ``person_2.png``: one binary
  mask per person, the layout ``maggie image --masks`` reads as a per-instance folder;
* ``walk/0000.jpg`` … ``walk/0007.jpg`` (160×120 frames) and
  ``walk_masks/<frame>/person_1.png``, ``person_2.png``: per-frame masks for ``maggie video``;
* ``people_alpha/`` and ``walk_alpha/``: the true alpha mattes, to compare results against.

The people are the procedural head-and-shoulders figures of
:mod:`maggie.data.synthesis.procedural` (soft edges, hair strands, a semi-transparent veil), so
the examples need no downloads; they are not photographs. Person 2 stands in front and
partly covers person 1, and in the video they walk past each other. Masks are the visible
alpha thresholded at one half, as a segmentation model would give them: hard-edged, hair
strands missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from maggie.data.synthesis import procedural_background, procedural_foreground

HERE = Path(__file__).resolve().parent
SEED = 2024
NAMES = ("person_1", "person_2")  # back to front


def _place(
    rgb: np.ndarray, alpha: np.ndarray, size: tuple[int, int], top: int, left: int
) -> tuple[np.ndarray, np.ndarray]:
    """Put a foreground on an empty canvas of ``size`` at ``(top, left)``; parts outside are cut."""
    height, width = size
    canvas_rgb = np.zeros((height, width, 3), np.float32)
    canvas_alpha = np.zeros((height, width), np.float32)
    h, w = alpha.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + h, height), min(left + w, width)
    canvas_rgb[y0:y1, x0:x1] = rgb[y0 - top : y1 - top, x0 - left : x1 - left]
    canvas_alpha[y0:y1, x0:x1] = alpha[y0 - top : y1 - top, x0 - left : x1 - left] / 255.0
    return canvas_rgb, canvas_alpha


def _composite(background: np.ndarray, layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack ``(rgb, alpha)`` layers back to front over ``background``.

    Returns the uint8 picture and the visible alpha of each layer (``N×H×W`` float), i.e. its
    alpha minus what the layers in front of it cover.
    """
    picture = background.astype(np.float32)
    visible = []
    for rgb, alpha in layers:
        picture = picture * (1.0 - alpha[..., None]) + rgb * alpha[..., None]
        visible = [v * (1.0 - alpha) for v in visible] + [alpha]
    return np.clip(np.rint(picture), 0, 255).astype(np.uint8), np.stack(visible)


def _save_people(folder: Path, stem: str, picture: np.ndarray, visible: np.ndarray, masks: Path, alphas: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # JPEG keeps the committed examples small; the masks are exact.
    Image.fromarray(picture).save(folder / f"{stem}.jpg", quality=90, optimize=True)
    masks.mkdir(parents=True, exist_ok=True)
    alphas.mkdir(parents=True, exist_ok=True)
    for name, alpha in zip(NAMES, visible, strict=True):
        Image.fromarray(((alpha >= 0.5) * 255).astype(np.uint8)).save(masks / f"{name}.png", optimize=True)
        Image.fromarray(np.rint(alpha * 255).astype(np.uint8)).save(alphas / f"{name}.png", optimize=True)


def make_image() -> None:
    """``people.jpg``: two people, 320×240, the right one partly in front of the left one."""
    size = (240, 320)
    background = procedural_background(size, rng=np.random.default_rng([SEED, 0]))
    people = [
        procedural_foreground((200, 150), rng=np.random.default_rng([SEED, 1])),
        procedural_foreground((180, 140), rng=np.random.default_rng([SEED, 2])),
    ]
    layers = [
        _place(*people[0], size, top=40, left=40),
        _place(*people[1], size, top=60, left=140),
    ]
    picture, visible = _composite(background, layers)
    _save_people(HERE, "people", picture, visible, HERE / "people_masks", HERE / "people_alpha")


def make_video(frames: int = 8) -> None:
    """``walk/``: two people walking past each other in front of a still background, 160×120."""
    size = (120, 160)
    background = procedural_background(size, rng=np.random.default_rng([SEED, 3]))
    people = [
        procedural_foreground((100, 76), rng=np.random.default_rng([SEED, 4])),
        procedural_foreground((92, 70), rng=np.random.default_rng([SEED, 5])),
    ]
    for t in range(frames):
        layers = [
            _place(*people[0], size, top=20 + t % 2, left=4 * t),
            _place(*people[1], size, top=28, left=92 - 4 * t),
        ]
        picture, visible = _composite(background, layers)
        stem = f"{t:04d}"
        _save_people(HERE / "walk", stem, picture, visible, HERE / "walk_masks" / stem, HERE / "walk_alpha" / stem)


if __name__ == "__main__":
    make_image()
    make_video()
