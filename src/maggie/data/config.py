"""Data configuration: strict frozen dataclasses (build them with :func:`maggie.config.from_dict`).

Defaults are the reference training recipe (``dataset.train`` of ``configs/maggie_image.yaml``
and ``maggie_video.yaml``, and the constants hard-coded in its data loaders). Dataset roots are
never committed: they default to ``""`` and come from the command line or the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..config import ConfigError

__all__ = ["AugmentConfig", "MaskAugmentConfig", "TargetConfig", "ImageDataConfig", "VideoDataConfig"]


def _check_probabilities(config: object) -> None:
    for f in fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        if f.name.endswith("_p") and not 0.0 <= value <= 1.0:
            raise ConfigError(f"{type(config).__name__}.{f.name} must be in [0, 1], got {value}")


def _check_range(config: object, name: str, low: float) -> None:
    lo, hi = getattr(config, name)
    if not low <= lo <= hi:
        raise ConfigError(f"{type(config).__name__}.{name} must satisfy {low} <= low <= high, got {(lo, hi)}")


@dataclass(frozen=True)
class AugmentConfig:
    """Image and clip augmentations, applied in this order (one draw per clip).

    Attributes:
        crop_size: side of the square training crop, taken around the people (reference 512).
        padding_crop_p: instead of cropping, pad the frame to a square and resize it.
        flip_p: horizontal flip.
        gamma_p: gamma from N(1, 0.2) truncated to [0.5, 1.5].
        noise_p, noise_sigma: Gaussian noise with std ~ U(0, noise_sigma) (fraction of full range).
        jpeg_p, jpeg_quality: JPEG round trip with quality ~ U{low..high}.
        affine_p: rotation ±10°, shear ±5°, zoom 0.95–1.05 per axis and a colour cast of ±0.03.
        affine_masks: also warp the guidance masks. The reference warps image and alpha only,
            which leaves the masks slightly misaligned (a free extra mask perturbation).
        motion_blur_p, motion_blur_size: line blur of odd length ~ U{low..high}, random angle.
        motion_blur_alpha_p: blur the alphas together with the frames (else the frames only,
            as the reference does in 10 % of the blurred clips).
    """

    crop_size: int = 512
    padding_crop_p: float = 0.1
    flip_p: float = 0.5
    gamma_p: float = 0.5
    noise_p: float = 0.3
    noise_sigma: float = 0.03
    jpeg_p: float = 0.1
    jpeg_quality: tuple[int, int] = (20, 80)
    affine_p: float = 0.1
    affine_masks: bool = False
    motion_blur_p: float = 0.0
    motion_blur_size: tuple[int, int] = (3, 49)
    motion_blur_alpha_p: float = 0.9

    def __post_init__(self) -> None:
        _check_probabilities(self)
        _check_range(self, "jpeg_quality", 1)
        _check_range(self, "motion_blur_size", 1)
        if self.crop_size < 8:
            raise ConfigError(f"AugmentConfig.crop_size must be >= 8, got {self.crop_size}")


@dataclass(frozen=True)
class MaskAugmentConfig:
    """How training guidance masks are made from the ground-truth alphas (reference §5.3–5.4).

    Attributes:
        binarize_max_kernel: threshold the alpha at U(threshold) and apply one of dilate→erode,
            erode→dilate, dilate, erode with square kernels of size U{1..max-1}.
        threshold: range of the binarisation threshold (fraction of full range).
        down_up_p, down_up_scale: per mask, bilinear down/up-sampling then > 0.5 (blocky edges).
        cut_p: copy a patch inside a mask (half of the samples) or swap a patch between two
            instances (the other half), each with this probability.
        dropout_p, dropout_min_masks: zero a rectangle (1/16–1/8 of the bounding-box area) in
            U{1..M/2} of the ``M = T·N`` masks; skipped when ``M < dropout_min_masks``.
        block_size: replicate the mask value at ``(b·i, b·j)`` over each ``b×b`` block. The
            reference image pipeline always feeds 1/8-resolution masks that the model upsamples
            with nearest neighbour, which is exactly this with ``b = 8``; 1 disables it.
        min_area: drop instances whose ``alpha > 0.5`` area is below this fraction of the crop.
        instance_drop_p: drop one random instance (the paper's "masks randomly omitted").
    """

    binarize_max_kernel: int = 30
    threshold: tuple[float, float] = (0.1, 0.95)
    down_up_p: float = 0.5
    down_up_scale: float = 0.125
    cut_p: float = 0.5
    dropout_p: float = 0.0
    dropout_min_masks: int = 6
    block_size: int = 8
    min_area: float = 0.001
    instance_drop_p: float = 0.05

    def __post_init__(self) -> None:
        _check_probabilities(self)
        _check_range(self, "threshold", 0.0)
        if self.binarize_max_kernel < 2 or self.block_size < 1 or not 0 < self.down_up_scale <= 1:
            raise ConfigError(
                "MaskAugmentConfig: need binarize_max_kernel >= 2, block_size >= 1, 0 < down_up_scale <= 1"
            )


@dataclass(frozen=True)
class TargetConfig:
    """Training targets derived from the alphas (see :mod:`maggie.data.targets`).

    Attributes:
        alpha_floor: alpha values below this are set to 0 (reference: 5/255).
        transition_radius: the transition band covers pixels within U{low..high} px
            (chessboard) of an alpha edge. The reference's elliptical kernel of size 2–4 applied
            5–14 times reaches about 3–21 px.
        sparsity_threshold, sparsity_radius: video only, the temporal sparsity target marks
            ``|α_t − α_{t−1}| > threshold`` for any instance, grown by U{low..high} px
            (reference: size 2–4 applied 3–6 times, about 2–9 px); frame 0 is all ones.
    """

    alpha_floor: float = 5 / 255
    transition_radius: tuple[int, int] = (3, 21)
    sparsity_threshold: float = 5 / 255
    sparsity_radius: tuple[int, int] = (2, 9)

    def __post_init__(self) -> None:
        _check_range(self, "transition_radius", 0)
        _check_range(self, "sparsity_radius", 0)


@dataclass(frozen=True)
class ImageDataConfig:
    """I-HIM50K-style training set or HIM2K/M-HIM2K-style test set.

    Files are ``<root>/<image_dir>/<subset>/<name>.jpg``, ``<root>/<alpha_dir>/<subset>/<name>/<k>.png``
    and (optional) ``<root>/<mask_dir>/<subset>/<name>/<k>.png``; ``subset`` may be empty.

    Attributes:
        mask_dir: folder of guidance masks. Empty: masks are made from the alphas. In test
            mode the instance list comes from this folder, as in the reference.
        short_side: resize so the short side is this long before cropping; None keeps the size.
        max_instances: number of instance slots ``N`` (the model's 10).
        seed: with the epoch and the index, fixes every random choice of a sample.
    """

    root: str = ""
    subset: str = ""
    image_dir: str = "images"
    alpha_dir: str = "alphas"
    mask_dir: str = ""
    short_side: int | None = 576
    max_instances: int = 10
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    masks: MaskAugmentConfig = field(default_factory=MaskAugmentConfig)
    targets: TargetConfig = field(default_factory=TargetConfig)


@dataclass(frozen=True)
class VideoDataConfig:
    """V-HIM2K5-style training set or V-HIM60-style test set.

    Files are ``<root>/<split>/<frame_dir>/<video>/<frame>.jpg``,
    ``<root>/<split>/<alpha_dir>/<video>/<frame>/<k>.png`` and (optional)
    ``<root>/<split>/<mask_dir>/<video>/<frame>/<k>.png``.

    Attributes:
        clip_length: frames per clip ``T`` (reference: 8 for training, 3 for testing).
        max_step_size: a training clip is ``T`` sorted frames drawn from a span of
            ``T·U{1..max_step_size}`` frames starting at the indexed frame.
        reverse_p: play the training clip backwards.
        clip_stride: test clips start every ``clip_stride`` frames (reference: 1, overlap 2).
    """

    root: str = ""
    split: str = "V-HIM2K5"
    frame_dir: str = "fgr"
    alpha_dir: str = "pha"
    mask_dir: str = ""
    short_side: int | None = 576
    max_instances: int = 10
    clip_length: int = 8
    max_step_size: int = 5
    reverse_p: float = 0.5
    clip_stride: int = 1
    seed: int = 0
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(motion_blur_p=0.3))
    masks: MaskAugmentConfig = field(
        default_factory=lambda: MaskAugmentConfig(dropout_p=0.5, block_size=1, instance_drop_p=0.2)
    )
    targets: TargetConfig = field(default_factory=TargetConfig)

    def __post_init__(self) -> None:
        if self.clip_length < 1 or self.max_step_size < 1 or self.clip_stride < 1:
            raise ConfigError("VideoDataConfig: clip_length, max_step_size and clip_stride must be >= 1")
        if not 0.0 <= self.reverse_p <= 1.0:
            raise ConfigError(f"VideoDataConfig.reverse_p must be in [0, 1], got {self.reverse_p}")
