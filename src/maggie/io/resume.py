"""Resuming an interrupted video job from its PNG sequences.

Design: the PNG sequences are the resumable state. Every PNG is written atomically, so a file
that exists is complete; a frame counts as done when the files of *all* instances exist and
pass Pillow's integrity check (chunk CRCs, size). Video containers (``.mov``, ``.webm``,
``.mp4``) are never appended to: each run encodes them in full from frame 0 into a temporary
file, taking the alphas of already-done frames from the PNG sequence (:func:`read_alpha_frame`)
instead of recomputing them. A container therefore always matches its sequence, and an
interrupted run leaves the previous container (or none), never a half-written one. Resuming
needs the alpha PNG sequence; write it whenever ``--resume`` may be used.

Temporal models need context, so a job resumes at the first frame that is not done
(:func:`resume_from`), not at every gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import remove_temp_files
from .layout import VideoOutputs
from .outputs import read_alpha

__all__ = ["completed_frames", "resume_from", "read_alpha_frame"]


def _intact(path: Path, size: tuple[int, int] | None) -> bool:
    try:
        with Image.open(path) as image:
            if size is not None and image.size != (size[1], size[0]):
                return False
            image.verify()
    except (OSError, SyntaxError, ValueError):
        return False
    return True


def completed_frames(
    outputs: VideoOutputs,
    *,
    frame_count: int | None = None,
    size: tuple[int, int] | None = None,
    kinds: Iterable[str] = ("alpha",),
) -> frozenset[int]:
    """Frame indices whose PNGs are complete for every instance and every kind.

    Args:
        outputs: the job's output layout (its ``count`` is the number of instances).
        frame_count: ignore files of frames at or beyond it (e.g. from a longer earlier input).
        size: expected ``(height, width)``; files of another size are not done.
        kinds: sequences that must all be present: ``"alpha"`` and/or ``"cutout"``.

    Leftover temporary files of a killed run are deleted on the way.
    """
    kinds = tuple(kinds)
    if outputs.folder.is_dir():
        remove_temp_files(outputs.folder)
    folders = {"alpha": outputs.alpha_sequence, "cutout": outputs.cutout_sequence}
    done: set[int] | None = None
    for kind in kinds:
        for instance in range(outputs.count):
            folder = folders[kind](instance)
            found = set()
            if folder.is_dir():
                for file in folder.glob("*.png"):
                    if file.stem.isdigit() and (frame_count is None or int(file.stem) < frame_count):
                        found.add(int(file.stem))
            done = found if done is None else done & found
    frame_file = {"alpha": outputs.alpha_frame, "cutout": outputs.cutout_frame}
    return frozenset(
        frame
        for frame in (done or ())
        if all(_intact(frame_file[k](i, frame), size) for k in kinds for i in range(outputs.count))
    )


def resume_from(done: Iterable[int]) -> int:
    """The first frame index that is not in ``done`` (where a resumed run restarts the model)."""
    done = set(done)
    frame = 0
    while frame in done:
        frame += 1
    return frame


def read_alpha_frame(outputs: VideoOutputs, frame: int) -> np.ndarray:
    """Alphas of a done frame, read back from the sequence: ``N×H×W`` float32 in [0, 1]."""
    return np.stack([read_alpha(outputs.alpha_frame(i, frame)) for i in range(outputs.count)])
