"""Reading input pictures: single images, folders of images, video files and frame folders.

Every reader returns ``H×W×3`` uint8 RGB arrays, whatever the file stores:

* EXIF orientation is applied, so arrays match what image viewers show (and what mask tools
  such as SAM saw when they produced the masks);
* grayscale, palette and CMYK images are converted to RGB; an alpha channel is dropped;
* 16-bit images are scaled to 8 bits (``round(v / 257)``), not clipped.

Folders are read in natural order (``frame2`` before ``frame10``). Videos are decoded one frame
at a time with PyAV (extra ``maggie[video]``), never held in memory as a whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ._optional import require

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "natural_key",
    "list_images",
    "read_image",
    "VideoInfo",
    "VideoSource",
    "open_video",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".mpg", ".mpeg")

# Frame folders carry no frame rate; this is the rate assumed when the caller gives none.
DEFAULT_FOLDER_FPS = 25.0


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders digit runs by value: ``img2`` < ``img10``, ``01`` < ``1a``."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts if p)


def _sorted_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_images(path: str | os.PathLike[str]) -> list[Path]:
    """The image files that ``path`` stands for: itself, or a folder's images in natural order."""
    path = Path(path)
    if path.is_dir():
        files = _sorted_files(path, IMAGE_SUFFIXES)
        if not files:
            raise InputError(f"{path}: folder contains no images ({', '.join(IMAGE_SUFFIXES)})")
        return files
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return [path]


def _to_rgb8(image: Image.Image) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # Pillow keeps 16-bit and float grayscale wide; scale down rather than clip at 255.
        values = np.asarray(image, dtype=np.float64)
        if values.max(initial=0) > 255:
            values = values / 257.0
        gray = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as an ``H×W×3`` uint8 RGB array (EXIF orientation applied).

    Raises:
        InputError: the file is missing, not an image, or truncated.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            return _to_rgb8(ImageOps.exif_transpose(image))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except UnidentifiedImageError as exc:
        raise InputError(f"{path}: not an image file Pillow can read") from exc
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: cannot read image ({exc})") from exc


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video before decoding it.

    Attributes:
        path: the video file or frame folder.
        fps: frames per second (the container's average rate; the given or default rate for a
            frame folder).
        width, height: frame size in pixels.
        frame_count: number of frames, or ``None`` when the container does not store it
            (e.g. WebM); count while iterating instead.
        frame_stems: file names without suffix of a frame folder's frames, in order; ``None``
            for a video file, whose frames are named by their 0-based index.
    """

    path: Path
    fps: float
    width: int
    height: int
    frame_count: int | None
    frame_stems: tuple[str, ...] | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``, the order of array shapes."""
        return self.height, self.width


class VideoSource:
    """A video file or frame folder that yields ``H×W×3`` uint8 RGB frames, one at a time.

    Iterating twice decodes the video twice; nothing is cached. Create with :func:`open_video`.
    """

    def __init__(self, info: VideoInfo, frames: list[Path] | None = None) -> None:
        self.info = info
        self._frames = frames

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._frames is not None:
            return self._iter_folder(self._frames)
        return self._iter_file()

    def _iter_folder(self, files: list[Path]) -> Iterator[np.ndarray]:
        for file in files:
            frame = read_image(file)
            if frame.shape[:2] != self.info.size:
                raise InputError(
                    f"{file}: frame is {frame.shape[1]}x{frame.shape[0]} but the first frame of "
                    f"{self.info.path} is {self.info.width}x{self.info.height} (width x height)"
                )
            yield frame

    def _iter_file(self) -> Iterator[np.ndarray]:
        av = require("av")
        path = self.info.path
        index = 0
        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    yield frame.to_ndarray(format="rgb24")
                    index += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: cannot decode frame {index} ({exc})") from exc


def _open_video_file(path: Path) -> VideoSource:
    av = require("av")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(DEFAULT_FOLDER_FPS)
            info = VideoInfo(
                path=path,
                fps=float(rate),
                width=int(stream.codec_context.width),
                height=int(stream.codec_context.height),
                frame_count=int(stream.frames) or None,
            )
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: not a video file FFmpeg can read ({exc})") from exc
    if info.width <= 0 or info.height <= 0:
        raise InputError(f"{path}: video stream has no frame size")
    return VideoSource(info)


def _open_frame_folder(path: Path, fps: float | None) -> VideoSource:
    files = _sorted_files(path, IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{path}: folder contains no frames ({', '.join(IMAGE_SUFFIXES)})")
    height, width = read_image(files[0]).shape[:2]
    info = VideoInfo(
        path=path,
        fps=float(fps or DEFAULT_FOLDER_FPS),
        width=width,
        height=height,
        frame_count=len(files),
        frame_stems=tuple(f.stem for f in files),
    )
    return VideoSource(info, files)


def open_video(path: str | os.PathLike[str], *, fps: float | None = None) -> VideoSource:
    """Open a video file (via PyAV) or a folder of frame images.

    Args:
        path: a video file or a folder of images (read in natural order).
        fps: frame rate of a frame folder (default 25); ignored for video files, which store it.

    Raises:
        InputError: missing path, unreadable file, no video stream, empty folder.
        MaggieError: a video file was given but PyAV (``maggie[video]``) is not installed.
    """
    path = Path(path)
    if path.is_dir():
        return _open_frame_folder(path, fps)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return _open_video_file(path)
