"""Training and evaluation data: datasets, augmentations, guidance masks and synthesis.

* :class:`ImageMattingDataset` / :class:`VideoMattingDataset` read the I-HIM50K, HIM2K/M-HIM2K
  and V-HIM2K5/V-HIM60 layouts and return dicts of ``(T, ...)`` tensors (see
  :mod:`maggie.data.pipeline` for the keys and shapes).
* :class:`ImageDataConfig` / :class:`VideoDataConfig` hold the reference training recipe.
* :mod:`maggie.data.transforms` has the augmentations and the guidance-mask degradations.
* :mod:`maggie.data.synthesis` writes those layouts from single-person foregrounds.
"""

from .config import AugmentConfig, ImageDataConfig, MaskAugmentConfig, TargetConfig, VideoDataConfig
from .datasets import ImageMattingDataset, VideoMattingDataset

__all__ = [
    "ImageDataConfig",
    "VideoDataConfig",
    "AugmentConfig",
    "MaskAugmentConfig",
    "TargetConfig",
    "ImageMattingDataset",
    "VideoMattingDataset",
]
