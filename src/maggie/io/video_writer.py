"""Streaming video writers (alpha-capable and preview) and the alpha video reader.

Formats, chosen by the file suffix:

* ``.mov``: ProRes 4444 (``prores_ks``, ``yuva444p10le``): 10-bit alpha, the editing format
  of Premiere, Final Cut, Resolve and After Effects. Alpha error <= 1/1023 from 16-bit input.
* ``.webm``: VP9 with alpha (``libvpx-vp9``, ``yuva420p``, lossless mode): plays with
  transparency in browsers. The alpha plane is 8-bit and kept to within 1/255. Reading the
  alpha back needs the ``libvpx-vp9`` decoder; FFmpeg's native VP9 decoder drops it.
* ``.mp4``: H.264 (``libx264``, ``yuv420p``, CRF 18, no macroblock tree) without alpha, for
  previews. Odd frame sizes are padded by one edge pixel, since 4:2:0 H.264 needs even sizes.

Writers take one frame at a time (bounded memory), encode into a hidden temporary file next to
the destination and rename it on a successful :meth:`VideoWriter.close`; an exception inside
``with`` deletes the temporary file, so a destination is complete or absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from ..errors import InputError
from ._optional import require
from .atomic import temp_path_for
from .outputs import alpha_to_uint

__all__ = [
    "ALPHA_VIDEO_SUFFIXES",
    "VideoWriter",
    "open_alpha_video",
    "open_preview_video",
    "read_alpha_video",
]

# suffix -> (codec, pixel format, codec options, container format)
_CODECS: dict[str, tuple[str, str, dict[str, str], str]] = {
    ".mov": ("prores_ks", "yuva444p10le", {"profile": "4444"}, "mov"),
    ".webm": ("libvpx-vp9", "yuva420p", {"lossless": "1"}, "webm"),
    # mbtree off: on frames of a few macroblocks x264's macroblock-tree rate control reads memory it
    # never wrote, so identical frames encoded twice in one process gave different previews.
    ".mp4": ("libx264", "yuv420p", {"crf": "18", "preset": "medium", "x264-params": "mbtree=0"}, "mp4"),
}
ALPHA_VIDEO_SUFFIXES = (".mov", ".webm")

_Writer = TypeVar("_Writer", bound="VideoWriter")


class VideoWriter:
    """Encode frames into ``path`` through a temporary file (see module doc).

    Use as a context manager, or call :meth:`close` (success) / :meth:`abort` (failure).
    Subclasses turn their inputs into the ``H×W×4`` array given to :meth:`_encode`.
    """

    def __init__(self, path: str | os.PathLike[str], *, fps: float, size: tuple[int, int]) -> None:
        av = require("av")
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in _CODECS:
            raise InputError(f"{self.path}: unsupported video suffix (use {', '.join(_CODECS)})")
        codec, pix_fmt, options, container_format = _CODECS[suffix]
        self.size = (int(size[0]), int(size[1]))
        self._even = pix_fmt == "yuv420p"
        height, width = self._encoded_size()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._temp = temp_path_for(self.path)
        self.frames_written = 0
        self._container: Any = av.open(str(self._temp), mode="w", format=container_format)
        try:
            self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(10000))
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = pix_fmt
            self._stream.options = dict(options)
        except BaseException:
            self.abort()
            raise
        self._av = av

    def _encoded_size(self) -> tuple[int, int]:
        height, width = self.size
        return (height + height % 2, width + width % 2) if self._even else (height, width)

    def _encode(self, rgba: np.ndarray) -> None:
        if self._even and rgba.shape[:2] != self._encoded_size():
            height, width = self._encoded_size()
            rgba = np.pad(rgba, ((0, height - rgba.shape[0]), (0, width - rgba.shape[1]), (0, 0)), mode="edge")
        fmt = "rgba64le" if rgba.dtype == np.uint16 else "rgba"
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(rgba), format=fmt)
        if self._stream.pix_fmt == "yuva420p":
            # FFmpeg's RGBA -> yuva420p conversion moves half the alpha values by one level;
            # convert here and put the exact 8-bit alpha back, so that lossless VP9 stays lossless.
            frame = frame.reformat(format="yuva420p")
            plane = frame.planes[3]
            exact = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
            exact[:, : rgba.shape[1]] = rgba[..., 3]
            plane.update(exact.tobytes())
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder and move the finished file to ``path``; returns ``path``."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            os.replace(self._temp, self.path)
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop writing and delete the temporary file; ``path`` is not touched."""
        try:
            self._container.close()
        except Exception:  # noqa: BLE001 - the file is deleted anyway; the first error matters
            pass
        self._temp.unlink(missing_ok=True)

    def __enter__(self: _Writer) -> _Writer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _check(self, array: np.ndarray, what: str, channels: int | None) -> None:
        shape = self.size if channels is None else (*self.size, channels)
        if array.shape != shape:
            raise ValueError(f"{self.path.name}: {what} has shape {array.shape}, the video needs {shape}")


class AlphaVideoWriter(VideoWriter):
    """ProRes 4444 ``.mov`` or VP9 ``.webm`` writer for one instance's alpha."""

    def write(self, alpha: np.ndarray, rgb: np.ndarray | None = None) -> None:
        """Append one frame: ``alpha`` ``H×W`` float in [0, 1]; ``rgb`` ``H×W×3`` uint8 colours.

        Without ``rgb`` the colour channels repeat the alpha, so a player that ignores alpha
        still shows the matte. Pass the frame, or an estimated foreground, for a cut-out.
        """
        alpha = np.asarray(alpha)
        self._check(alpha, "alpha", None)
        wide = self._stream.pix_fmt.endswith("10le")  # ProRes keeps 10 bits: feed it 16
        bits = 16 if wide else 8
        a = alpha_to_uint(alpha, bits)
        if rgb is None:
            color = np.repeat(a[..., None], 3, axis=2)
        else:
            rgb = np.asarray(rgb, dtype=np.uint8)
            self._check(rgb, "rgb", 3)
            color = rgb.astype(np.uint16) * 257 if wide else rgb
        self._encode(np.dstack([color, a]))


class PreviewVideoWriter(VideoWriter):
    """H.264 ``.mp4`` writer for composite previews."""

    def write(self, rgb: np.ndarray) -> None:
        """Append one ``H×W×3`` uint8 frame."""
        rgb = np.asarray(rgb, dtype=np.uint8)
        self._check(rgb, "frame", 3)
        self._encode(np.dstack([rgb, np.full(self.size, 255, np.uint8)]))


def open_alpha_video(path: str | os.PathLike[str], *, fps: float, size: tuple[int, int]) -> AlphaVideoWriter:
    """Start an alpha video (``.mov`` ProRes 4444 or ``.webm`` VP9) of ``size = (H, W)``."""
    if Path(path).suffix.lower() not in ALPHA_VIDEO_SUFFIXES:
        raise InputError(f"{path}: alpha videos are .mov (ProRes 4444) or .webm (VP9)")
    return AlphaVideoWriter(path, fps=fps, size=size)


def open_preview_video(path: str | os.PathLike[str], *, fps: float, size: tuple[int, int]) -> PreviewVideoWriter:
    """Start an H.264 ``.mp4`` preview of ``size = (H, W)``."""
    if Path(path).suffix.lower() != ".mp4":
        raise InputError(f"{path}: preview videos are .mp4 (H.264)")
    return PreviewVideoWriter(path, fps=fps, size=size)


def read_alpha_video(path: str | os.PathLike[str]) -> Iterator[np.ndarray]:
    """Yield the alpha of each frame of a ``.mov``/``.webm`` video as ``H×W`` float32 in [0, 1].

    Raises:
        InputError: unreadable file, or a video without an alpha channel.
    """
    av = require("av")
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.codec_context.name == "vp9":
                decoder = av.CodecContext.create("libvpx-vp9", "r")
                frames = (f for packet in container.demux(stream) for f in decoder.decode(packet))
            else:
                frames = container.decode(stream)
            for frame in frames:
                bits = [c.bits for c in frame.format.components if c.is_alpha]
                if not bits:
                    raise InputError(f"{path}: video has no alpha channel (pixel format {frame.format.name})")
                # FFmpeg widens an n-bit alpha to 16 bits by shifting (8-bit 255 -> 65280), not by
                # scaling; undo the shift so that full opacity reads as exactly 1.
                raw = frame.to_ndarray(format="rgba64le")[..., 3] >> (16 - bits[0])
                yield raw.astype(np.float32) / float((1 << bits[0]) - 1)
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: cannot read video ({exc})") from exc
