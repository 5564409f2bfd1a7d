"""Per-frame guidance masks of a video, with instance identities fixed for the whole video.

Layouts (``mask_format``) under one folder:

* ``"per-frame"``: ``<dir>/<frame>/<instance>.png``, a folder of binary masks per frame;
* ``"per-instance"``: ``<dir>/<instance>/<frame>.png``, a folder of frames per instance
  (the layout SAM 2 / XMem style trackers export per object);
* ``"label"``: ``<dir>/<frame>.png``, one instance-ID label map per frame;
* ``"auto"``: label maps if the folder holds images, otherwise per-frame or per-instance,
  decided by which side's names are the frames' names.

``<frame>`` is the frame file's stem for a frame folder. For a video file it is the frame
number, ``index + start_number`` with any zero padding (``start_number=1`` for sequences
numbered from 1, as ``ffmpeg -i x.mp4 %05d.png`` writes them).

The instance set is the union over the video, in natural name order (label IDs in numeric
order); instance ``i`` is the same person in every frame. An instance missing from a frame
gets an all-zero mask there, and whole frames where nobody is visible are allowed. Per-frame
and label layouts need an entry (possibly empty) for every frame, so that a mis-numbered
sequence fails loudly instead of shifting masks by one frame.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError
from .mask_files import read_binary_mask, read_label_map
from .media import IMAGE_SUFFIXES, VideoInfo, natural_key

__all__ = ["VIDEO_MASK_FORMATS", "VideoMasks", "open_video_masks"]

VIDEO_MASK_FORMATS = ("auto", "per-frame", "per-instance", "label")


def _images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(files, key=lambda p: natural_key(p.name))


def _subdirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))


class _FrameKeys:
    """Maps mask entry names (stems) to 0-based frame indices of one video."""

    def __init__(self, info: VideoInfo, start_number: int) -> None:
        self.info = info
        self.start_number = start_number
        self._by_stem = {s: i for i, s in enumerate(info.frame_stems or ())}

    def matches_stems(self, stems: Iterable[str]) -> int:
        return sum(s in self._by_stem for s in stems)

    def index(self, entry: Path) -> int:
        stem = entry.stem if entry.is_file() else entry.name
        if self._by_stem and stem in self._by_stem:
            return self._by_stem[stem]
        count = self.info.frame_count
        number = int(stem) - self.start_number if stem.isdigit() else -1
        if number < 0 or (count is not None and number >= count):
            numbering = f", frame numbers start at start_number={self.start_number}" if stem.isdigit() else ""
            total = f"{count} frames" if count is not None else "frames"
            raise InputError(f"{entry}: matches no frame of {self.info.path.name} ({total}{numbering})")
        return number

    def entries(self, paths: Iterable[Path]) -> dict[int, Path]:
        """``{frame index: path}``; two entries for one frame (``1.png``, ``01.png``) raise."""
        found: dict[int, Path] = {}
        for path in paths:
            index = self.index(path)
            if index in found:
                raise InputError(f"{path}: frame {index} already has masks in {found[index].name}")
            found[index] = path
        return found

    def expected(self, index: int) -> str:
        """How the entry of frame ``index`` should be named, for error messages."""
        if self.info.frame_stems is not None:
            return f"named {self.info.frame_stems[index]}"
        return f"numbered {index + self.start_number}"


class VideoMasks:
    """The masks of every frame of one video; build with :func:`open_video_masks`.

    Attributes:
        ids: name of each instance (folder/file stem or label ID); index = identity.
        layout: ``"per-frame"``, ``"per-instance"`` or ``"label"``.
        source: the mask folder.
    """

    def __init__(
        self,
        source: Path,
        layout: str,
        ids: tuple[str, ...],
        keys: _FrameKeys,
        *,
        frames: dict[int, Path] | None = None,
        instances: dict[int, dict[int, Path]] | None = None,
    ) -> None:
        self.source = source
        self.layout = layout
        self.ids = ids
        self._keys = keys
        self._frames = frames or {}  # frame index -> folder or label map (per-frame, label)
        self._instances = instances or {}  # instance -> frame index -> mask file (per-instance)
        self._index = {name: i for i, name in enumerate(ids)}

    def frame(self, index: int) -> np.ndarray:
        """Masks of frame ``index`` (0-based): ``N×H×W`` bool, ``N = len(ids)``."""
        info = self._keys.info
        masks = np.zeros((len(self.ids), *info.size), dtype=bool)
        against = f"the video {info.path.name}"
        if self.layout == "per-instance":
            for instance, files in self._instances.items():
                if index in files:
                    masks[instance] = read_binary_mask(files[index], size=info.size, against=against)
            return masks
        entry = self._frames.get(index)
        if entry is None:
            raise InputError(
                f"{self.source}: no masks for frame {index} of {info.path.name} "
                f"(expected an entry {self._keys.expected(index)})"
            )
        if self.layout == "label":
            labels = read_label_map(entry, size=info.size, against=against)
            for name, instance in self._index.items():
                masks[instance] = labels == int(name)
            return masks
        for file in _images(entry):
            masks[self._index[file.stem]] = read_binary_mask(file, size=info.size, against=against)
        return masks

    def __iter__(self) -> Iterator[np.ndarray]:
        """Masks of frames 0, 1, ...; endless when the frame count is unknown (zip it after the frames)."""
        count = self._keys.info.frame_count
        indices = range(count) if count is not None else itertools.count()
        return (self.frame(i) for i in indices)


def _detect(source: Path, keys: _FrameKeys) -> str:
    files, dirs = _images(source), _subdirs(source)
    if files and not dirs:
        return "label"
    if dirs and not files:
        inner = {f.stem for d in dirs for f in _images(d)}
        outer = [d.name for d in dirs]
        by_outer, by_inner = keys.matches_stems(outer), keys.matches_stems(inner)
        if by_outer != by_inner:
            return "per-frame" if by_outer > by_inner else "per-instance"
        # Numbered frames of a video file: frames outnumber people in a clip.
        if len(outer) != len(inner):
            return "per-frame" if len(outer) > len(inner) else "per-instance"
    raise InputError(
        f"{source}: cannot tell the mask layout; set mask_format to 'per-frame', 'per-instance' or 'label'"
    )


def _check_complete(source: Path, entries: dict[int, Path], keys: _FrameKeys) -> None:
    count = keys.info.frame_count
    for index in range(count or 0):
        if index not in entries:
            raise InputError(
                f"{source}: no masks for frame {index} of {keys.info.path.name} "
                f"(expected an entry {keys.expected(index)})"
            )


def open_video_masks(
    source: str | os.PathLike[str],
    video: VideoInfo,
    *,
    mask_format: str = "auto",
    start_number: int = 0,
) -> VideoMasks:
    """Index a video's mask folder (layouts: module doc) without reading every mask yet.

    Label maps are read once here to collect the instance IDs of the whole video.

    Raises:
        InputError: missing folder, unknown or ambiguous layout, entries that match no frame,
            frames without entries (per-frame/label layouts), no instances at all.
    """
    source = Path(source)
    if mask_format not in VIDEO_MASK_FORMATS:
        raise InputError(
            f"{source}: unknown mask_format {mask_format!r} for a video (choose from {', '.join(VIDEO_MASK_FORMATS)})"
        )
    if not source.is_dir():
        raise InputError(f"{source}: video masks must be a folder (per-frame, per-instance or label layout)")
    keys = _FrameKeys(video, start_number)
    layout = _detect(source, keys) if mask_format == "auto" else mask_format
    instances: dict[int, dict[int, Path]] = {}
    frames: dict[int, Path] = {}
    if layout == "per-instance":
        dirs = _subdirs(source)
        instances = {i: keys.entries(_images(d)) for i, d in enumerate(dirs)}
        ids = tuple(d.name for d in dirs)
    elif layout == "per-frame":
        dirs = _subdirs(source)
        frames = keys.entries(dirs)
        _check_complete(source, frames, keys)
        ids = tuple(sorted({f.stem for d in dirs for f in _images(d)}, key=natural_key))
    else:
        frames = keys.entries(_images(source))
        _check_complete(source, frames, keys)
        found: set[int] = set()
        against = f"the video {video.path.name}"
        for file in frames.values():
            found.update(int(v) for v in np.unique(read_label_map(file, size=video.size, against=against)))
        ids = tuple(str(v) for v in sorted(found - {0}))
    if not ids:
        raise InputError(f"{source}: no instance masks found ({layout} layout)")
    return VideoMasks(source, layout, ids, keys, frames=frames, instances=instances)
