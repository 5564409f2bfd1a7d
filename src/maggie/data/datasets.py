"""Torch datasets for the image (I-HIM50K, HIM2K/M-HIM2K) and video (V-HIM2K5, V-HIM60) layouts.

Every item is a dict described in :mod:`maggie.data.pipeline` (``image``, ``alpha``, ``masks``,
``transition``, ``valid`` and, for video, ``sparsity``); images are clips with ``T = 1``. Video
items add ``frame_indices (T,)``; test items add ``size (2,)``, ``original_size (2,)`` and
``name`` (a string, so batch test items with the default collate or skip it when moving
tensors to a device).

Randomness: item ``index`` of epoch ``e`` uses ``numpy.random.default_rng([seed, e, index])``, so
(seed, epoch, index) fixes a sample whatever the worker or the order. Call :meth:`set_epoch`
before each epoch (with persistent workers, recreate the loader or pass the epoch to the
workers, since they hold copies of the dataset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError
from .config import ImageDataConfig, VideoDataConfig
from .io import list_dirs, list_images, read_gray, read_rgb
from .pipeline import augment_sample, eval_sample

__all__ = ["ImageMattingDataset", "VideoMattingDataset"]


@dataclass(frozen=True)
class _Frame:
    image: Path
    alphas: tuple[Path | None, ...]
    masks: tuple[Path | None, ...] | None


def _read_stack(paths: tuple[Path | None, ...], shape: tuple[int, int]) -> np.ndarray:
    # A missing file is an instance that is absent from this frame (or a guidance mask without
    # ground truth): all zeros.
    out = np.zeros((len(paths), *shape), dtype=np.uint8)
    for k, path in enumerate(paths):
        if path is not None:
            layer = read_gray(path)
            if layer.shape != shape:
                raise InputError(f"{path}: size {layer.shape[::-1]} differs from its image {shape[::-1]}")
            out[k] = layer
    return out


def _instances(alpha_dir: Path, mask_dir: Path | None, train: bool) -> list[str]:
    # Training follows the ground truth; testing follows the guidance masks (as the reference:
    # a person without a mask is background, a mask without ground truth must give zero alpha).
    source = mask_dir if (mask_dir is not None and not train) else alpha_dir
    return [p.name for p in list_images(source)]


class _MattingDataset(Dataset):
    video = False

    def __init__(self, *, seed: int, train: bool, num_slots: int, short_side: int | None) -> None:
        self.train = train
        self.seed = seed
        self.epoch = 0
        self.num_slots = num_slots
        self.short_side = short_side

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of ``epoch`` (augmentations differ between epochs)."""
        self.epoch = int(epoch)

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch if self.train else 0, index])

    def _pick(self, names: list[str], rng: np.random.Generator) -> list[int]:
        if len(names) <= self.num_slots:
            return list(range(len(names)))
        if not self.train:
            return list(range(self.num_slots))
        return sorted(int(i) for i in rng.choice(len(names), size=self.num_slots, replace=False))

    def _load(self, frames: list[_Frame], keep: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        images, alphas, masks = [], [], []
        for frame in frames:
            rgb = read_rgb(frame.image)
            shape = rgb.shape[:2]
            images.append(rgb)
            alphas.append(_read_stack(tuple(frame.alphas[k] for k in keep), shape))
            if frame.masks is not None:
                masks.append(_read_stack(tuple(frame.masks[k] for k in keep), shape))
            if shape != images[0].shape[:2]:
                raise InputError(f"{frame.image}: frame size differs from the first frame of its clip")
        return np.stack(images), np.stack(alphas), (np.stack(masks) if masks else None)

    def _sample(
        self,
        frames: list[_Frame],
        names: list[str],
        rng: np.random.Generator,
        config: ImageDataConfig | VideoDataConfig,
    ) -> dict[str, torch.Tensor]:
        images, alphas, masks = self._load(frames, self._pick(names, rng))
        if self.train:
            return augment_sample(
                torch.from_numpy(images).permute(0, 3, 1, 2),
                torch.from_numpy(alphas),
                rng,
                augment=config.augment,
                masks=config.masks,
                targets=config.targets,
                short_side=self.short_side,
                num_slots=self.num_slots,
                mask_source=None if masks is None else torch.from_numpy(masks),
                video=self.video,
            )
        guidance = masks if masks is not None else np.where(alphas > 127, 255, 0).astype(np.uint8)
        return eval_sample(
            images,
            alphas,
            guidance,
            rng,
            short_side=self.short_side,
            num_slots=self.num_slots,
            block_size=config.masks.block_size,
            targets=config.targets,
            video=self.video,
        )


def _root(root: str | Path | None, config_root: str) -> Path:
    path = Path(root if root is not None else config_root)
    if not str(root if root is not None else config_root):
        raise InputError("no dataset root given (set the config's root or pass root=...)")
    if not path.is_dir():
        raise InputError(f"{path}: dataset root not found")
    return path


class ImageMattingDataset(_MattingDataset):
    """Multi-instance image matting data (I-HIM50K layout for training, HIM2K/M-HIM2K for test).

    Instances are the alpha files of an image (training) or its mask files (test, when
    ``mask_dir`` is set). With more than ``max_instances``, training draws a random subset per
    sample and testing keeps the first ones in file order.

    Args:
        config: layout, augmentation and target settings.
        train: augment (crop, photometric, mask degradation, random slots) or return the
            un-augmented, resized and 64-padded test sample.
        root: dataset folder; overrides ``config.root``.
    """

    def __init__(self, config: ImageDataConfig, *, train: bool = True, root: str | Path | None = None) -> None:
        super().__init__(seed=config.seed, train=train, num_slots=config.max_instances, short_side=config.short_side)
        self.config = config
        base = _root(root, config.root)
        image_dir = base / config.image_dir / config.subset
        images = list_images(image_dir)
        if not images:
            raise InputError(f"{image_dir}: no images found")
        self.items: list[tuple[_Frame, list[str]]] = []
        for image in images:
            alpha_dir = base / config.alpha_dir / config.subset / image.stem
            mask_dir = base / config.mask_dir / config.subset / image.stem if config.mask_dir else None
            names = _instances(alpha_dir, mask_dir, train)
            if not names:
                continue
            alphas = tuple(p if p.is_file() else None for p in (alpha_dir / n for n in names))
            masks = (
                None if mask_dir is None else tuple(p if p.is_file() else None for p in (mask_dir / n for n in names))
            )
            self.items.append((_Frame(image, alphas, masks), names))
        if not self.items:
            raise InputError(f"{base}: no image has any instance in {config.alpha_dir}/ or {config.mask_dir or '-'}/")

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        frame, names = self.items[index]
        sample = self._sample([frame], names, self._rng(index), self.config)
        if not self.train:
            sample["name"] = f"{self.config.subset}/{frame.image.stem}" if self.config.subset else frame.image.stem
        return sample


class VideoMattingDataset(_MattingDataset):
    """Multi-instance video matting clips (V-HIM2K5 layout for training, V-HIM60 for test).

    Training items are indexed by (video, start frame); a clip is ``clip_length`` sorted frames
    from a span of ``clip_length·U{1..max_step_size}`` frames, reversed with ``reverse_p``.
    Test items are the clips starting every ``clip_stride`` frames (the last one ends at the
    last frame). Instances are the alpha files of the first frame (the mask files in test mode
    when ``mask_dir`` is set); a file missing in a later frame means an empty alpha there.

    Args:
        config: layout, clip, augmentation and target settings.
        train: augmented training clips or un-augmented test clips.
        root: dataset folder; overrides ``config.root``.
    """

    video = True

    def __init__(self, config: VideoDataConfig, *, train: bool = True, root: str | Path | None = None) -> None:
        super().__init__(seed=config.seed, train=train, num_slots=config.max_instances, short_side=config.short_side)
        self.config = config
        split = _root(root, config.root) / config.split
        self.videos: list[tuple[str, list[_Frame], list[str]]] = []
        for video_dir in list_dirs(split / config.alpha_dir):
            frames = list_images(split / config.frame_dir / video_dir.name)
            if not frames:
                continue
            mask_root = split / config.mask_dir / video_dir.name if config.mask_dir else None
            first = frames[0].stem
            names = _instances(video_dir / first, None if mask_root is None else mask_root / first, train)
            if not names:
                continue
            entries = []
            for frame in frames:
                alphas = tuple(p if p.is_file() else None for p in (video_dir / frame.stem / n for n in names))
                masks = None
                if mask_root is not None:
                    masks = tuple(p if p.is_file() else None for p in (mask_root / frame.stem / n for n in names))
                entries.append(_Frame(frame, alphas, masks))
            self.videos.append((video_dir.name, entries, names))
        if not self.videos:
            raise InputError(f"{split}: no videos with frames in {config.frame_dir}/ and alphas in {config.alpha_dir}/")
        self.index: list[tuple[int, int]] = []
        length = config.clip_length
        for v, (_, frames, _) in enumerate(self.videos):
            if train:
                self.index.extend((v, s) for s in range(len(frames)))
            else:
                starts = list(range(0, max(len(frames) - length, 0) + 1, config.clip_stride))
                if starts[-1] + length < len(frames):
                    starts.append(len(frames) - length)
                self.index.extend((v, s) for s in starts)

    def __len__(self) -> int:
        return len(self.index)

    def _clip(self, num_frames: int, start: int, rng: np.random.Generator) -> list[int]:
        length = self.config.clip_length
        if not self.train:
            return list(range(start, min(start + length, num_frames)))
        end = min(start + length * int(rng.integers(1, self.config.max_step_size + 1)), num_frames)
        first = max(0, min(start, end - length))
        span = np.arange(first, end)
        chosen = np.sort(rng.choice(span, size=length, replace=span.size < length))
        if rng.random() < self.config.reverse_p:
            chosen = chosen[::-1]
        return [int(i) for i in chosen]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        v, start = self.index[index]
        name, frames, names = self.videos[v]
        rng = self._rng(index)
        indices = self._clip(len(frames), start, rng)
        sample = self._sample([frames[i] for i in indices], names, rng, self.config)
        sample["frame_indices"] = torch.tensor(indices)
        if not self.train:
            sample["name"] = name
        return sample
