"""``process_images``: alpha mattes for one image or a folder of images, written to an output folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..inference.image import ImageMatter
from ..io import (
    ImageOutputs,
    InstanceMasks,
    Manifest,
    batch_mask_source,
    composite_preview,
    list_images,
    read_image,
    read_masks,
    write_alpha_png,
    write_cutout_png,
    write_rgb_png,
)
from ..io._optional import require
from ..models import MaGGIe
from .common import Settings, check_model, get_model, output_folder, parse_outputs, prepare_guidance

__all__ = ["IMAGE_OUTPUTS", "process_images"]

logger = logging.getLogger(__name__)

# alpha: alpha_NN.png per instance; cutout: cutout_NN.png (RGBA); preview: preview.png.
IMAGE_OUTPUTS = ("alpha", "cutout", "preview")


def _mask_sources(input: Path, images: list[Path], masks: Path, mask_format: str) -> list[Path]:
    """Each image's mask file or folder; checked for every image before any work starts."""
    if not input.is_dir():
        return [masks]
    stems: dict[str, Path] = {}
    for image in images:
        if image.stem in stems:
            raise InputError(f"{image}: same name as {stems[image.stem].name}; their outputs and masks would collide")
        stems[image.stem] = image
    return [batch_mask_source(masks, image, mask_format=mask_format) for image in images]


def _guidance(instances: InstanceMasks, settings: Settings) -> np.ndarray:
    """The model's masks; an instance that loses every pixel (duplicate masks) gets a zero alpha."""
    guidance = prepare_guidance(instances.masks, settings)
    present = guidance.any(axis=(1, 2))
    adjusted = f"erode={settings.erode}, dilate={settings.dilate}" if settings.erode or settings.dilate else ""
    if not present.any():
        raise InputError(f"{instances.source}: every instance mask is empty after {adjusted or 'overlap resolution'}")
    for name in np.asarray(instances.ids)[~present]:
        logger.warning(
            "%s: instance %s has no pixels left after %soverlap resolution (overlap_rule=%s); its alpha is all zero",
            instances.source,
            name,
            f"{adjusted} and " if adjusted else "",
            settings.overlap_rule,
        )
    return guidance


def process_images(
    input: str | os.PathLike[str],
    masks: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    mask_format: str = "auto",
    categories: Sequence[int | str] | None = None,
    weights: str | os.PathLike[str] | None = None,
    model: str | MaGGIe | None = None,
    device: str = "auto",
    short_side: int | None = 576,
    band_kernel: int | None = None,
    erode: int = 0,
    dilate: int = 0,
    overlap_rule: str = "smaller",
    outputs: str | Sequence[str] = ("alpha", "preview"),
    bit_depth: int = 8,
    background: str | Sequence[int] | None = None,
    progress: bool = True,
) -> Path:
    """Predict one alpha matte per person for an image or a folder of images and write them.

    Args:
        input: an image file, or a folder of images (processed in natural name order).
        masks: the guidance masks, one binary mask per person. For one image: a folder of mask
            PNGs (one per person, natural name order), an instance-ID label PNG (0 =
            background), or a COCO JSON file (RLE or polygons). For a folder of images: a
            folder holding ``<image stem>/`` mask folders or ``<image stem>.png`` label maps,
            or one COCO JSON file for all images (matched by ``file_name``).
        out: output folder; each image gets ``<out>/<image stem>/``, plus ``<out>/manifest.json``.
        mask_format: ``"auto"`` (from the path), ``"folder"``, ``"label"`` or ``"coco"``.
        categories: COCO category IDs or names to use (default: every annotation).
        weights: None for the installed trained weights (``maggie download image``), a
            checkpoint path, or ``"untrained"`` for random demo weights (meaningless mattes).
        model: None for the released image architecture; a preset name; or a model with its
            weights already loaded (then leave ``weights`` None).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        short_side: network input short side in pixels (576 as in the paper); None keeps the
            image's own size.
        band_kernel: width of the uncertainty band that is refined (default: the model's, 30).
        erode, dilate: shrink, then grow, every mask by this many pixels first.
        overlap_rule: who gets a pixel claimed by several masks: ``"smaller"`` (default: the
            smaller mask, usually the person in front), ``"first"`` or ``"last"`` (mask order).
        outputs: any of ``"alpha"`` (``alpha_NN.png``), ``"cutout"`` (``cutout_NN.png``, RGBA
            with estimated foreground colours; needs ``maggie[cutout]``) and ``"preview"``
            (``preview.png``).
        bit_depth: 8 or 16 bits per alpha PNG.
        background: preview background colour (name or ``#rrggbb``); None tints each person.
        progress: show a progress bar on stderr.

    Returns:
        the path of the manifest (``<out>/manifest.json``), which lists every file written
        with the resolved settings and software versions.

    Raises:
        InputError: unreadable images or masks, sizes that differ, no masks for an image.
        WeightsError: no installed weights, or a checkpoint that does not fit.
        SettingsError: a parameter value that cannot work.
    """
    wanted = parse_outputs(outputs, IMAGE_OUTPUTS)
    check_model("image", model)
    settings = Settings(short_side, band_kernel, erode, dilate, overlap_rule, bit_depth, background)
    if "cutout" in wanted:
        require("pymatting")  # a missing extra should stop the job before the model runs
    folder = output_folder(out)
    input_path = Path(input)
    images = list_images(input_path)
    sources = _mask_sources(input_path, images, Path(masks), mask_format)
    net, model_info = get_model("image", model, weights, device)
    matter = ImageMatter(net, device=device, short_side=short_side, band_kernel=band_kernel)
    manifest = Manifest(
        folder,
        settings={
            **settings.to_dict(),
            "mask_format": mask_format,
            "categories": list(categories) if categories else None,
            "outputs": list(wanted),
            **model_info,
            "device": str(matter.device),
        },
        inputs={"images": []},
    )
    with tqdm(total=len(images), unit="image", desc="maggie image", disable=not progress) as bar:
        for image_path, source in zip(images, sources, strict=True):
            rgb = read_image(image_path)
            instances = read_masks(
                source,
                mask_format=mask_format,
                image_size=rgb.shape[:2],
                image_name=image_path.name,
                categories=categories,
            )
            alphas = matter.predict(rgb, _guidance(instances, settings))
            _write(
                manifest,
                ImageOutputs(folder / image_path.stem, len(alphas)),
                rgb,
                alphas,
                instances,
                wanted,
                settings,
            )
            manifest.inputs["images"].append(
                {
                    "image": str(image_path),
                    "size": list(rgb.shape[:2]),
                    "masks": str(source),
                    "instance_ids": list(instances.ids),
                }
            )
            bar.update()
    return manifest.write()


def _write(
    manifest: Manifest,
    layout: ImageOutputs,
    rgb: np.ndarray,
    alphas: np.ndarray,
    instances: InstanceMasks,
    wanted: tuple[str, ...],
    settings: Settings,
) -> None:
    for i, (alpha, name) in enumerate(zip(alphas, instances.ids, strict=True)):
        if "alpha" in wanted:
            path = write_alpha_png(alpha, layout.alpha(i), bit_depth=settings.bit_depth)
            manifest.add(path, kind="alpha", instance=i, instance_id=name)
        if "cutout" in wanted:
            manifest.add(write_cutout_png(rgb, alpha, layout.cutout(i)), kind="cutout", instance=i, instance_id=name)
    if "preview" in wanted:
        preview = composite_preview(rgb, alphas, background=settings.background)
        manifest.add(write_rgb_png(preview, layout.preview()), kind="preview")
