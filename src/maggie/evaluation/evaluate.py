"""Run a matter over a benchmark folder and score it: :func:`evaluate`.

The protocol follows the reference evaluation loop: predictions are compared with the 8-bit
ground truth at the original resolution; in the reference convention they are first snapped
(``<= 1/255 -> 0``, ``>= 254/255 -> 1``) as the reference loop does; an image whose guidance
masks are all empty is skipped (the reference skips it too) and counted as such. Departure: the
reference also skips a video *window* whose masks are all empty; here every frame is scored.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from ..errors import InputError, MaggieError
from ..metrics import REFERENCE, Convention, MetricAccumulator, VideoScorer, snap
from ..metrics.common import check_convention
from .layouts import (
    LAYOUTS,
    BadSample,
    Group,
    ImageSample,
    VideoSample,
    image_size,
    list_him2k,
    list_vhim,
    read_alpha,
    read_mask,
    read_rgb,
)
from .report import EvaluationResult, GroupResult

__all__ = ["evaluate", "ImageMatterLike", "VideoMatterLike"]

logger = logging.getLogger(__name__)


class ImageMatterLike(Protocol):
    def predict(self, image: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """``H×W×3`` uint8 image + ``N×H×W`` bool masks -> ``N×H×W`` float32 alphas."""


class VideoMatterLike(Protocol):
    def stream(self, frames: Any, masks: Any) -> Iterator[tuple[int, np.ndarray]]:
        """Frames (``H×W×3`` uint8) and per-frame masks (``N×H×W`` bool) -> ``(index, N×H×W alphas)``."""


def evaluate(
    matter: ImageMatterLike | VideoMatterLike,
    root: str | os.PathLike[str],
    *,
    layout: str = "him2k",
    out: str | os.PathLike[str] | None = None,
    convention: Convention = REFERENCE,
    mask_sources: Sequence[str] | None = None,
    subsets: Sequence[str] | None = None,
    max_instances: int = 10,
    strict: bool = False,
    verbose: bool = False,
    progress: bool = True,
) -> EvaluationResult:
    """Evaluate ``matter`` on a benchmark folder and return per-run and per-sample results.

    Args:
        matter: for ``layout="him2k"`` an object with ``predict(image, masks)``; for ``"vhim"`` one
            with ``stream(frames, masks)`` (e.g. :class:`maggie.ImageMatter` / :class:`maggie.VideoMatter`).
        root: the benchmark folder (layouts in :mod:`maggie.evaluation.layouts`).
        layout: ``"him2k"`` (HIM2K + M-HIM2K images) or ``"vhim"`` (V-HIM60 videos).
        out: folder for ``samples.csv`` and ``summary.csv`` (written atomically); ``None`` writes nothing.
        convention: ``"reference"`` (default: numbers comparable with the MaGGIe paper, quirks
            included) or ``"conventional"`` (Composition-1k / DIM definitions); see :mod:`maggie.metrics`.
        mask_sources: HIM2K mask sources to use (``masks_matched_<source>``); default all found.
        subsets: ``comp`` / ``natural`` (HIM2K) or ``comp_easy`` / ``comp_medium`` / ``comp_hard``
            (V-HIM60); default all found.
        max_instances: instances per sample, as the reference (10).
        strict: raise on the first bad sample instead of skipping and counting it.
        verbose: print the summary table (and the bad samples) to stdout.
        progress: show a progress bar on stderr.

    Raises:
        InputError: the folder does not match the layout, or (``strict``) a sample is bad.
        MaggieError: the matter returned alphas of the wrong shape or frames out of order.
    """
    convention = check_convention(convention)
    root = Path(root)
    if layout not in LAYOUTS:
        raise MaggieError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise InputError(f"{root}: no such folder")
    if max_instances < 1:
        raise MaggieError(f"max_instances must be at least 1, got {max_instances}")
    if layout == "him2k":
        _require(matter, "predict", layout)
        runs: list[tuple[Group, list[Any]]] = list(
            list_him2k(root, mask_sources=mask_sources, subsets=subsets, max_instances=max_instances)
        )
    else:
        _require(matter, "stream", layout)
        if mask_sources is not None:
            raise MaggieError("mask_sources selects HIM2K mask folders; V-HIM60 has one source, xmem")
        runs = list(list_vhim(root, subsets=subsets, max_instances=max_instances))
    kind = "image" if layout == "him2k" else "video"
    result = EvaluationResult(layout=layout, convention=convention, kind=kind)
    for group, samples in runs:
        result.groups.append(_run_group(matter, group, samples, kind, convention, strict, progress))
    if out is not None:
        result.write_csv(Path(out))
    if verbose:
        print(result.table())  # noqa: T201 - the table is the requested output
    return result


def _require(matter: object, method: str, layout: str) -> None:
    if not callable(getattr(matter, method, None)):
        raise MaggieError(f"layout {layout!r} needs a matter with a .{method}() method, got {type(matter).__name__}")


def _run_group(
    matter: Any,
    group: Group,
    samples: list[Any],
    kind: str,
    convention: Convention,
    strict: bool,
    progress: bool,
) -> GroupResult:
    acc = MetricAccumulator(convention, kind=kind)  # type: ignore[arg-type]
    result = GroupResult(group=group, accumulator=acc)
    label = f"{group.subset}/{group.mask_source}"
    score = _score_image if kind == "image" else _score_video
    # Warnings go through tqdm so that they do not break the progress bar's line.
    with logging_redirect_tqdm():
        for sample in tqdm(samples, desc=label, unit=kind, disable=not progress, leave=False):
            try:
                status = score(matter, sample, acc, convention)
            except BadSample as exc:
                if strict:
                    raise BadSample(f"{label}/{sample.name}: {exc}") from exc
                logger.warning("skipping bad sample %s/%s: %s", label, sample.name, exc)
                result.add_status(sample.name, "bad", str(exc))
                continue
            result.add_status(sample.name, *status)
    return result


def _score_image(
    matter: Any, sample: ImageSample, acc: MetricAccumulator, convention: Convention
) -> tuple[str, str, dict[str, float] | None]:
    if sample.instances is None:
        raise BadSample(f"missing mask folder {sample.mask_dir}")
    if not sample.instances:
        raise BadSample(f"no instance masks in {sample.mask_dir}")
    image = read_rgb(sample.image)
    size = image.shape[:2]
    masks = np.stack([read_mask(sample.mask_dir / i, size) for i in sample.instances])
    gt = np.stack([read_alpha(sample.alpha_dir / i, size) for i in sample.instances])
    if not masks.any():
        return "skipped", "all guidance masks are empty (the reference skips such images)", None
    pred = _check_alphas(matter.predict(image, masks), gt.shape, sample.name)
    return "ok", "", acc.add_image(_prepare(pred, convention), _to_float(gt), name=sample.name)


def _score_video(
    matter: Any, sample: VideoSample, acc: MetricAccumulator, convention: Convention
) -> tuple[str, str, dict[str, float] | None]:
    if not sample.frames:
        raise BadSample("no frames in the fgr folder")
    if not sample.instances:
        raise BadSample(f"no instance alphas in {sample.alpha_dirs[0]}")
    for folder in (*sample.alpha_dirs, *sample.mask_dirs):
        for instance in sample.instances:
            if not (folder / instance).is_file():
                raise BadSample(f"missing file {folder / instance}")
    size = image_size(sample.frames[0])
    frames = (read_rgb(path, size) for path in sample.frames)
    masks = (np.stack([read_mask(d / i, size) for i in sample.instances]) for d in sample.mask_dirs)
    scorer = VideoScorer(len(sample.frames), convention)
    expected = 0
    for index, alphas in matter.stream(frames, masks):
        if index != expected:
            raise MaggieError(f"{sample.name}: the matter yielded frame {index}, expected frame {expected}")
        gt = np.stack([read_alpha(sample.alpha_dirs[index] / i, size) for i in sample.instances])
        pred = _check_alphas(alphas, gt.shape, f"{sample.name} frame {index}")
        scorer.add_frame(_prepare(pred, convention), _to_float(gt))
        expected += 1
    if expected != len(sample.frames):
        raise MaggieError(f"{sample.name}: the matter yielded {expected} of {len(sample.frames)} frames")
    return "ok", "", acc.add(scorer.tallies(), name=sample.name)


def _check_alphas(alphas: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    pred = np.asarray(alphas)
    if pred.shape != shape:
        raise MaggieError(f"{where}: the matter returned alphas of shape {pred.shape}, expected {shape}")
    return pred


def _prepare(pred: np.ndarray, convention: Convention) -> np.ndarray:
    # Snapping is part of the reference evaluation loop, not of its metrics.
    return snap(pred) if convention == REFERENCE else np.asarray(pred, dtype=np.float32)


def _to_float(gt_u8: np.ndarray) -> np.ndarray:
    """8-bit alphas -> float32 ``u8 / 255`` (correctly rounded), what the reference loader yields."""
    return gt_u8.astype(np.float32) / np.float32(255)
