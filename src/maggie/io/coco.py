"""Instance masks from COCO-style JSON: RLE (compressed or not) and polygon segmentations.

Accepted files: a COCO dataset (``images`` + ``annotations``), an SA-1B style file (``image``
+ ``annotations``), or a bare list of annotations (detector results, matched by ``image_id``).
Annotations are taken in file order; the instance name is the annotation ``id`` (or its
position in the file when there is none).

RLE, as COCO defines it: run lengths over the pixels in column-major order (down the first
column, then the next), alternating background and foreground and starting with background.
The compressed form packs each run length into characters of 6 bits (5 data bits and a
"more" bit, offset by 48 so they are printable); from the third run on it stores the
difference to the run two places earlier, so small differences take one character.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from ..errors import InputError

__all__ = ["decode_rle_counts", "decode_rle", "rasterize_polygons", "read_coco_masks"]


def decode_rle_counts(counts: str) -> list[int]:
    """Unpack a compressed COCO RLE string into run lengths."""
    runs: list[int] = []
    pos = 0
    while pos < len(counts):
        value = 0
        shift = 0
        while True:
            code = ord(counts[pos]) - 48
            pos += 1
            value |= (code & 0x1F) << shift
            shift += 5
            if not code & 0x20:
                if code & 0x10:  # sign bit of the last 5-bit group: negative delta
                    value -= 1 << shift
                break
            if pos >= len(counts):
                raise ValueError("truncated RLE string")
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """Decode ``{"size": [h, w], "counts": str | list[int]}`` into an ``h×w`` bool mask."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = decode_rle_counts(counts) if isinstance(counts, str) else [int(c) for c in counts]
    if any(r < 0 for r in runs) or sum(runs) != height * width:
        raise ValueError(
            f"RLE run lengths cover {sum(runs)} pixels, but its size {width}x{height} has {width * height}"
        )
    values = np.zeros(len(runs), dtype=bool)
    values[1::2] = True
    flat = np.repeat(values, runs)
    return np.ascontiguousarray(flat.reshape(width, height).T)


def rasterize_polygons(polygons: Sequence[Sequence[float]], size: tuple[int, int]) -> np.ndarray:
    """Fill COCO polygons ``[[x0, y0, x1, y1, ...], ...]`` into an ``H×W`` bool mask (their union).

    COCO coordinates put pixel ``(i, j)`` at ``[j, j+1) × [i, i+1)``; Pillow puts pixel centres
    on integers, hence the half-pixel shift. Edge pixels can differ from pycocotools' own
    rasteriser by one pixel.
    """
    height, width = size
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        xs, ys = polygon[0::2], polygon[1::2]
        points = [(float(x) - 0.5, float(y) - 0.5) for x, y in zip(xs, ys, strict=False)]
        if len(points) >= 3:
            draw.polygon(points, fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


@functools.lru_cache(maxsize=2)
def _load_json(path: str, mtime_ns: int) -> Any:
    # Cached so that a batch of images sharing one large annotation file parses it once;
    # the modification time in the key notices a file rewritten in between.
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _load(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[int, str]]:
    try:
        data = _load_json(str(path), path.stat().st_mtime_ns)
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such annotation file") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON file ({exc})") from exc
    if isinstance(data, list):
        return [], data, {}
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise InputError(f"{path}: not a COCO annotation file (no 'annotations' list)")
    images = data.get("images") or ([data["image"]] if isinstance(data.get("image"), dict) else [])
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in data.get("categories") or []}
    return images, data["annotations"], names


def _pick_image(
    path: Path, images: list[dict[str, Any]], image_name: str | None, image_id: int | None
) -> dict[str, Any] | None:
    if image_id is not None:
        found = [im for im in images if im.get("id") == image_id]
        if images and not found:
            raise InputError(f"{path}: no image with id {image_id}")
        return found[0] if found else None
    if image_name is not None and images:
        for compare in (
            lambda im: Path(str(im.get("file_name", ""))).name == image_name,
            lambda im: Path(str(im.get("file_name", ""))).stem == Path(image_name).stem,
        ):
            found = [im for im in images if compare(im)]
            if found:
                return found[0]
        raise InputError(f"{path}: no image entry with file_name {image_name!r}")
    if len(images) > 1:
        raise InputError(f"{path}: holds {len(images)} images; say which one (image file name or id)")
    return images[0] if images else None


def _category_ids(path: Path, categories: Sequence[int | str], names: dict[int, str]) -> set[int]:
    wanted = set()
    by_name = {name: cid for cid, name in names.items()}
    for category in categories:
        if isinstance(category, int) or str(category).isdigit():
            wanted.add(int(category))
        elif category in by_name:
            wanted.add(by_name[category])
        else:
            known = ", ".join(sorted(by_name)) or "none"
            raise InputError(f"{path}: unknown category {category!r} (categories: {known})")
    return wanted


def read_coco_masks(
    path: str | os.PathLike[str],
    *,
    image_name: str | None = None,
    image_id: int | None = None,
    image_size: tuple[int, int] | None = None,
    categories: Sequence[int | str] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Masks of one image's annotations: ``(N×H×W bool, instance names)``.

    Args:
        path: the JSON file.
        image_name: the image's file name, matched against ``images[].file_name`` (base name,
            then stem); not needed when the file describes one image.
        image_id: match ``images[].id`` / ``annotations[].image_id`` instead of the name.
        image_size: ``(height, width)`` of the image; needed for polygons when the JSON has no
            size, and checked against the JSON's sizes.
        categories: keep only annotations of these category IDs or names (default: all).
    """
    path = Path(path)
    images, annotations, names = _load(path)
    # Unnamed annotations are named by their position in the file, before any filtering.
    named = [(str(a.get("id", position)), a) for position, a in enumerate(annotations)]
    image = _pick_image(path, images, image_name, image_id)
    if image is not None and "id" in image:
        image_id = image["id"]
    if image_id is None:
        ids_seen = {a.get("image_id") for _, a in named}
        if len(ids_seen) > 1:
            raise InputError(f"{path}: annotations of {len(ids_seen)} images and none selected (give image_id)")
    else:
        named = [(n, a) for n, a in named if a.get("image_id", image_id) == image_id]
    if categories:
        wanted = _category_ids(path, categories, names)
        named = [(n, a) for n, a in named if a.get("category_id") in wanted]
    size = image_size
    if image is not None and "height" in image and "width" in image:
        size = (int(image["height"]), int(image["width"]))
        if image_size is not None and size != tuple(image_size):
            raise InputError(
                f"{path}: image entry is {size[1]}x{size[0]} but the image is "
                f"{image_size[1]}x{image_size[0]} (width x height)"
            )
    masks, instance_names = [], []
    for name, annotation in named:
        segmentation = annotation.get("segmentation")
        try:
            if isinstance(segmentation, dict):
                mask = decode_rle(segmentation)
            elif isinstance(segmentation, list):
                if size is None:
                    raise ValueError("polygon needs the image size, which the file does not give")
                mask = rasterize_polygons(segmentation, size)
            else:
                raise ValueError("no 'segmentation' (RLE dict or polygon list)")
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{path}: annotation {name}: bad segmentation ({exc})") from exc
        if size is None:
            size = mask.shape
        if mask.shape != tuple(size):
            raise InputError(
                f"{path}: annotation {name} is {mask.shape[1]}x{mask.shape[0]} but the image is "
                f"{size[1]}x{size[0]} (width x height)"
            )
        masks.append(mask)
        instance_names.append(name)
    if not masks:
        raise InputError(f"{path}: no annotations for this image{' in the chosen categories' if categories else ''}")
    return np.stack(masks), tuple(instance_names)
