"""Training: curriculum, optimiser and schedule, checkpoints, DDP, and the loop itself.

The losses live in :mod:`maggie.losses`; the model knows nothing about training beyond taking
``band_alpha`` and a ``generator``. Entry points: :func:`train` (Python) and ``maggie train``
(command line).
"""

from __future__ import annotations

from .checkpoint import InitReport, load_matching_weights
from .config import DataConfig, TrainConfig, load_train_config
from .optim import OneCycleCosine, OptimConfig, ScheduleConfig, WarmupCosine, build_optimizer, build_scheduler
from .schedule import Curriculum, CurriculumConfig
from .trainer import Trainer, TrainResult, train

__all__ = [
    "TrainConfig",
    "DataConfig",
    "OptimConfig",
    "ScheduleConfig",
    "CurriculumConfig",
    "load_train_config",
    "Curriculum",
    "OneCycleCosine",
    "WarmupCosine",
    "build_optimizer",
    "build_scheduler",
    "InitReport",
    "load_matching_weights",
    "Trainer",
    "TrainResult",
    "train",
]
