"""``process_video``: per-person alpha mattes for a video, streamed to PNG sequences and videos."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..inference.video import VideoMatter
from ..io import (
    Manifest,
    VideoMasks,
    VideoOutputs,
    VideoSource,
    completed_frames,
    composite_preview,
    open_alpha_video,
    open_preview_video,
    open_video,
    open_video_masks,
    read_alpha_frame,
    resume_from,
    write_alpha_png,
    write_cutout_png,
)
from ..io._optional import require
from ..io.layout import FRAME_PATTERN
from ..io.media import IMAGE_SUFFIXES
from ..io.outputs import alpha_to_uint
from ..models import MaGGIe
from .common import (
    Settings,
    SettingsError,
    check_model,
    get_model,
    output_folder,
    parse_outputs,
    prepare_guidance,
)

__all__ = ["VIDEO_OUTPUTS", "RESUME_CONTEXT", "process_video"]

# alpha-png: alpha_NN/%06d.png; alpha-mov / alpha-webm: alpha_NN.mov (ProRes 4444) / .webm (VP9);
# cutout-png: cutout_NN/%06d.png (RGBA); preview: preview.mp4 (H.264).
VIDEO_OUTPUTS = ("alpha-png", "alpha-mov", "alpha-webm", "cutout-png", "preview")

# A resumed run restarts the network this many frames before the first missing frame; their
# outputs are not rewritten. The reference's hard temporal fusion chains every frame to the fused
# alpha of its predecessor, a state that is not saved, so the restart rebuilds it from a few
# frames of context: the first missing frame is again the middle of a full window with a fused
# predecessor. Three frames made resumed outputs identical to an uninterrupted run for the
# released video architecture with the golden-fixture weights (two did not); where a model's
# fusion chain is longer, the first resumed frames can differ (exactness would need VideoMatter
# to take a saved state). With carry_state the Conv-GRU state is rebuilt the same way.
RESUME_CONTEXT = 3


def _frames(
    source: VideoSource,
    masks: VideoMasks,
    matter: VideoMatter | None,
    layout: VideoOutputs,
    settings: Settings,
    start: int,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, bool]]:
    """Yield ``(index, rgb, alphas, new)`` for every frame in order.

    Frames before ``start`` are done: their alphas are read back from the PNG sequence
    (``new`` False). The network restarts :data:`RESUME_CONTEXT` frames earlier, for context.
    """
    restart = start if matter is None else max(0, start - RESUME_CONTEXT)
    frames = iter(source)
    for index in range(restart):
        rgb = next(frames, None)
        if rgb is None:
            return
        yield index, rgb, read_alpha_frame(layout, index), False
    if matter is None:
        return
    # VideoMatter emits frame k after reading frame k+1: keep the few RGB frames in between.
    pending: dict[int, np.ndarray] = {}

    def feed() -> Iterator[np.ndarray]:
        for index, rgb in enumerate(frames, start=restart):
            pending[index] = rgb
            yield rgb

    guidance = (prepare_guidance(masks.frame(i), settings) for i in itertools.count(restart))
    for offset, alphas in matter.stream(feed(), guidance):
        index = restart + offset
        rgb = pending.pop(index)
        if index < start:
            yield index, rgb, read_alpha_frame(layout, index), False
        else:
            yield index, rgb, alphas, True


def _open_writers(
    stack: ExitStack, layout: VideoOutputs, wanted: tuple[str, ...], fps: float, size: tuple[int, int]
) -> dict[str, list[Any]]:
    """Container writers by output kind; the stack aborts them on error and closes them on success."""
    writers: dict[str, list[Any]] = {}
    for kind, suffix in (("alpha-mov", ".mov"), ("alpha-webm", ".webm")):
        if kind in wanted:
            writers[kind] = [
                stack.enter_context(open_alpha_video(layout.alpha_video(i, suffix), fps=fps, size=size))
                for i in range(layout.count)
            ]
    if "preview" in wanted:
        writers["preview"] = [stack.enter_context(open_preview_video(layout.preview_video(), fps=fps, size=size))]
    return writers


def process_video(
    input: str | os.PathLike[str],
    masks: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    mask_format: str = "auto",
    start_number: int = 0,
    weights: str | os.PathLike[str] | None = None,
    model: str | MaGGIe | None = None,
    device: str = "auto",
    short_side: int | None = 576,
    band_kernel: int | None = None,
    erode: int = 0,
    dilate: int = 0,
    overlap_rule: str = "smaller",
    outputs: str | Sequence[str] = ("alpha-png", "alpha-mov", "preview"),
    bit_depth: int = 8,
    background: str | Sequence[int] | None = None,
    resume: bool = False,
    carry_state: bool = False,
    fps: float | None = None,
    progress: bool = True,
) -> Path:
    """Predict one alpha matte per person for every frame of a video and write them to ``out``.

    Frames are decoded, matted and written one at a time, so videos of any length fit in memory.

    Args:
        input: a video file (anything FFmpeg reads; needs ``maggie[video]``) or a folder of
            frame images (natural name order).
        masks: a folder with one binary mask per person for every frame, in one of three
            layouts: ``<frame>/<person>.png`` (per-frame), ``<person>/<frame>.png``
            (per-instance, as trackers export them) or ``<frame>.png`` instance-ID label maps.
            ``<frame>`` is the frame file's stem, or for a video file the frame number.
            A person missing from a frame gets a zero alpha there.
        out: output folder: ``alpha_NN/000000.png``…, ``alpha_NN.mov``, ``preview.mp4``,
            ``manifest.json`` (see ``outputs``).
        mask_format: ``"auto"``, ``"per-frame"``, ``"per-instance"`` or ``"label"``.
        start_number: number of the first frame in mask names, for video files (e.g. 1).
        weights, model, device, short_side, band_kernel, erode, dilate, overlap_rule,
            bit_depth, background, progress: as for :func:`maggie.process_images` (``weights``
            are the video model's: ``maggie download video``).
        outputs: any of ``"alpha-png"`` (8/16-bit PNG sequence per person), ``"alpha-mov"``
            (ProRes 4444 with alpha), ``"alpha-webm"`` (VP9 with alpha), ``"cutout-png"``
            (RGBA PNG sequence with estimated foreground colours) and ``"preview"`` (H.264
            ``preview.mp4``). The alpha videos carry the frame's own colours, so that an
            editor shows each person cut out.
        resume: continue an interrupted run in ``out``: frames whose PNGs are complete are
            kept, the network restarts :data:`RESUME_CONTEXT` frames before the first missing
            one (for temporal context), and the videos are encoded again from the PNG
            sequence. Needs ``"alpha-png"`` and the same settings as the interrupted run.
        carry_state: carry the Conv-GRU state from window to window (the paper's description;
            the released evaluation restarts it in every window).
        fps: frame rate of a frame-folder input and of the videos made from it (default 25);
            video files keep their own.

    Returns:
        the path of ``<out>/manifest.json``.

    Raises:
        InputError, WeightsError, SettingsError: as for :func:`maggie.process_images`.
    """
    wanted = parse_outputs(outputs, VIDEO_OUTPUTS)
    check_model("video", model)
    settings = Settings(short_side, band_kernel, erode, dilate, overlap_rule, bit_depth, background)
    if resume and "alpha-png" not in wanted:
        raise SettingsError("resume needs the alpha-png output: a resumed run continues its PNG sequence")
    if fps is not None and not fps > 0:
        raise SettingsError(f"fps must be positive, got {fps!r}")
    if "cutout-png" in wanted:
        require("pymatting")  # a missing extra should stop the job before the model runs
    folder = output_folder(out)
    input_path = Path(input)
    if input_path.is_file() and input_path.suffix.lower() in IMAGE_SUFFIXES:
        raise InputError(f"{input_path}: is an image, not a video or frame folder (use `maggie image`)")
    source = open_video(input_path, fps=fps)
    info = source.info
    video_masks = open_video_masks(masks, info, mask_format=mask_format, start_number=start_number)
    layout = VideoOutputs(folder, len(video_masks.ids))
    kinds = ("alpha", "cutout") if "cutout-png" in wanted else ("alpha",)
    start = 0
    if resume:
        start = resume_from(completed_frames(layout, frame_count=info.frame_count, size=info.size, kinds=kinds))
    net, model_info = get_model("video", model, weights, device)
    finished = info.frame_count is not None and start >= info.frame_count
    matter = (
        None
        if finished
        else VideoMatter(net, device=device, short_side=short_side, carry_state=carry_state, band_kernel=band_kernel)
    )
    last = -1
    with ExitStack() as stack:
        writers = _open_writers(stack, layout, wanted, info.fps, info.size)
        bar = stack.enter_context(tqdm(total=info.frame_count, unit="frame", desc="maggie video", disable=not progress))
        for last, rgb, alphas, new in _frames(source, video_masks, matter, layout, settings, start):
            if new:
                alphas = _write_frame(layout, last, rgb, alphas, wanted, settings)
            for kind in ("alpha-mov", "alpha-webm"):
                for alpha, writer in zip(alphas, writers.get(kind, ()), strict=False):
                    writer.write(alpha, rgb)
            for preview in writers.get("preview", ()):
                preview.write(composite_preview(rgb, alphas, background=background))
            bar.update()
        if last < 0:
            raise InputError(f"{input_path}: the video has no frames")
    manifest = Manifest(
        folder,
        settings={
            **settings.to_dict(),
            "mask_format": mask_format,
            "start_number": start_number,
            "outputs": list(wanted),
            **model_info,
            "device": "none (every frame was done)" if matter is None else str(matter.device),
            "carry_state": carry_state,
            "resume": resume,
            "resumed_at_frame": start if resume else None,
        },
        inputs={
            "video": str(input_path),
            "fps": info.fps,
            "size": list(info.size),
            "frame_count": last + 1,
            "masks": str(masks),
            "mask_layout": video_masks.layout,
            "instance_ids": list(video_masks.ids),
        },
    )
    _record(manifest, layout, video_masks.ids, wanted, last)
    return manifest.write()


def _write_frame(
    layout: VideoOutputs,
    index: int,
    rgb: np.ndarray,
    alphas: np.ndarray,
    wanted: tuple[str, ...],
    settings: Settings,
) -> np.ndarray:
    """Write a new frame's PNGs; return the alphas as stored, which the videos then encode.

    Encoding the stored (quantised) alphas keeps every video equal to its PNG sequence, so a
    resumed run, which reads done frames back from the PNGs, writes the same videos.
    """
    for i, alpha in enumerate(alphas):
        if "alpha-png" in wanted:
            write_alpha_png(alpha, layout.alpha_frame(i, index), bit_depth=settings.bit_depth)
        if "cutout-png" in wanted:
            write_cutout_png(rgb, alpha, layout.cutout_frame(i, index))
    if "alpha-png" not in wanted:
        return alphas
    full = 255.0 if settings.bit_depth == 8 else 65535.0
    return alpha_to_uint(alphas, settings.bit_depth).astype(np.float32) / np.float32(full)


def _record(manifest: Manifest, layout: VideoOutputs, ids: tuple[str, ...], wanted: tuple[str, ...], last: int) -> None:
    for i, name in enumerate(ids):
        if "alpha-png" in wanted:
            pattern = layout.alpha_sequence(i) / FRAME_PATTERN
            manifest.add(pattern, kind="alpha_sequence", instance=i, instance_id=name, frames=(0, last))
        if "cutout-png" in wanted:
            pattern = layout.cutout_sequence(i) / FRAME_PATTERN
            manifest.add(pattern, kind="cutout_sequence", instance=i, instance_id=name, frames=(0, last))
        for kind, suffix in (("alpha-mov", ".mov"), ("alpha-webm", ".webm")):
            if kind in wanted:
                manifest.add(layout.alpha_video(i, suffix), kind="alpha_video", instance=i, instance_id=name)
    if "preview" in wanted:
        manifest.add(layout.preview_video(), kind="preview_video")
