"""Training configuration: typed frozen dataclasses read from YAML, unknown keys rejected.

A training YAML has the sections of :class:`TrainConfig`; ``configs/maggie_image.yaml``,
``configs/maggie_video.yaml`` and ``configs/tiny.yaml`` are complete examples. Dataset sections
hold the fields of :class:`maggie.data.config.ImageDataConfig` or ``VideoDataConfig`` (picked by
``data.kind``) and are checked as strictly as the rest when the file is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import ConfigError, from_dict, load_yaml
from ..losses import LossConfig
from .optim import OptimConfig, ScheduleConfig
from .schedule import CurriculumConfig

__all__ = ["DataConfig", "TrainConfig", "load_train_config", "data_config_class"]


def data_config_class(kind: str) -> type:
    """The ``maggie.data`` config dataclass for ``kind`` (imported lazily)."""
    from ..data.config import ImageDataConfig, VideoDataConfig

    if kind == "image":
        return ImageDataConfig
    if kind == "video":
        return VideoDataConfig
    raise ConfigError(f"data.kind must be 'image' or 'video', got {kind!r}")


@dataclass(frozen=True)
class DataConfig:
    """Training and validation data.

    Attributes:
        kind: ``"image"`` or ``"video"``; selects the dataset class and its config fields.
        train: fields of the training set's data config (``root`` usually comes from the
            command line, e.g. ``data.train.root=data/I-HIM50K``).
        val: fields of the validation set's config (test-mode samples), or None for no
            validation.
    """

    kind: Literal["image", "video"] = "image"
    train: dict[str, Any] = field(default_factory=dict)
    val: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        cls = data_config_class(self.kind)
        from_dict(cls, self.train, prefix="data.train")
        if self.val is not None:
            from_dict(cls, self.val, prefix="data.val")

    def typed(self, split: Literal["train", "val"]) -> Any:
        """The ``train``/``val`` section as its ``maggie.data`` config dataclass."""
        section = self.train if split == "train" else self.val
        return from_dict(data_config_class(self.kind), section or {}, prefix=f"data.{split}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs. Defaults are the reference image recipe.

    Attributes:
        model: :func:`maggie.build_model` preset name.
        init_from: checkpoint whose shared keys initialise the model (video from image).
        output_dir: checkpoints and logs go here (created).
        seed: seeds model initialisation; process ``r`` trains with ``seed + r``.
        max_steps: optimiser steps; also the length of the LR schedule.
        batch_size: samples per process per step (reference 12 image, 4 video clips).
        num_workers: DataLoader worker processes per training process.
        device: ``auto`` uses CUDA when available.
        amp: mixed precision on CUDA (ignored on the CPU).
        sync_bn: convert BatchNorm to SyncBatchNorm under DDP on CUDA (reference: on; PyTorch's
            SyncBatchNorm is GPU-only, so CPU runs keep per-process statistics).
        find_unused_parameters: DDP option; needed when some parameters skip a step.
        log_every, val_every, checkpoint_every: in optimiser steps (0 disables).
        keep_checkpoints: how many periodic checkpoints to keep (``last.pt`` and ``best.pt`` stay too).
        tensorboard: also write TensorBoard scalars if the package is installed.
        deterministic: ``torch.use_deterministic_algorithms`` for the run. On the CPU this makes
            multi-threaded backward passes (index accumulation in the sparse refinement)
            reproducible, so a resumed run matches an uninterrupted one bit for bit; on CUDA
            it only warns about ops without a deterministic kernel.
    """

    model: str = "maggie-image"
    init_from: Path | None = None
    output_dir: Path = Path("runs/maggie-image")
    seed: int = 1234
    max_steps: int = 52000
    batch_size: int = 12
    num_workers: int = 4
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["off", "fp16", "bf16"] = "fp16"
    sync_bn: bool = True
    find_unused_parameters: bool = True
    log_every: int = 20
    val_every: int = 500
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    tensorboard: bool = False
    deterministic: bool = False
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def __post_init__(self) -> None:
        for name in ("max_steps", "batch_size", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("num_workers", "log_every", "val_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.schedule.warmup_steps <= self.max_steps:
            raise ConfigError(
                f"schedule.warmup_steps must be in 0..max_steps ({self.max_steps}), got {self.schedule.warmup_steps}"
            )


def load_train_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read a training YAML (strict) with ``key.path=value`` overrides applied first."""
    return load_yaml(TrainConfig, path, overrides)
