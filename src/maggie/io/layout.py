"""Where each output file goes, so the CLI, resume detection and the manifest agree.

Image job, one folder per image under the output folder::

    <out>/<image_stem>/alpha_00.png      per-instance alpha (8- or 16-bit)
    <out>/<image_stem>/cutout_00.png     per-instance RGBA cut-out
    <out>/<image_stem>/preview.png       composite preview
    <out>/manifest.json

Video job, one folder per video::

    <out>/alpha_00/000000.png            per-instance alpha PNG sequence, frame index 0-based
    <out>/cutout_00/000000.png           per-instance RGBA cut-out sequence
    <out>/alpha_00.mov | alpha_00.webm   per-instance alpha video
    <out>/preview.mp4                    composite preview video
    <out>/manifest.json

Instance numbers are the 0-based instance indices, zero-padded to at least two digits (three
from 101 instances on), so names sort in instance order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["MANIFEST_NAME", "FRAME_PATTERN", "instance_tag", "ImageOutputs", "VideoOutputs"]

MANIFEST_NAME = "manifest.json"
FRAME_PATTERN = "%06d.png"  # printf style, as FFmpeg and compositing tools name sequences


def instance_tag(index: int, count: int) -> str:
    """``index`` zero-padded to the width of the largest index among ``count`` instances (min. 2)."""
    return str(index).zfill(max(2, len(str(max(count - 1, 0)))))


@dataclass(frozen=True)
class ImageOutputs:
    """Output paths of one image with ``count`` instances, in ``folder``."""

    folder: Path
    count: int

    def alpha(self, instance: int) -> Path:
        return self.folder / f"alpha_{instance_tag(instance, self.count)}.png"

    def cutout(self, instance: int) -> Path:
        return self.folder / f"cutout_{instance_tag(instance, self.count)}.png"

    def preview(self) -> Path:
        return self.folder / "preview.png"


@dataclass(frozen=True)
class VideoOutputs:
    """Output paths of one video with ``count`` instances, in ``folder``."""

    folder: Path
    count: int

    def alpha_sequence(self, instance: int) -> Path:
        """Folder of the alpha PNG sequence of ``instance``."""
        return self.folder / f"alpha_{instance_tag(instance, self.count)}"

    def cutout_sequence(self, instance: int) -> Path:
        return self.folder / f"cutout_{instance_tag(instance, self.count)}"

    def alpha_frame(self, instance: int, frame: int) -> Path:
        return self.alpha_sequence(instance) / (FRAME_PATTERN % frame)

    def cutout_frame(self, instance: int, frame: int) -> Path:
        return self.cutout_sequence(instance) / (FRAME_PATTERN % frame)

    def alpha_video(self, instance: int, suffix: str = ".mov") -> Path:
        return self.folder / f"alpha_{instance_tag(instance, self.count)}{suffix}"

    def preview_video(self) -> Path:
        return self.folder / "preview.mp4"

    def manifest(self) -> Path:
        return self.folder / MANIFEST_NAME
