"""The training loop: curriculum, losses, AdamW + OneCycle, checkpoints/resume, DDP and logs.

Single process by default; under ``torchrun`` with ``WORLD_SIZE > 1`` every process trains a
DDP replica on its share of each epoch (gloo on the CPU, NCCL on CUDA). Mixed precision is used
on CUDA only. A checkpoint holds everything needed to continue exactly: resuming gives the
same parameters, bit for bit on the CPU, as a run that was never interrupted.

Typical use::

    from maggie.training import load_train_config, train
    result = train(load_train_config("configs/tiny.yaml"))
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from ..config import to_dict
from ..errors import WeightsError
from ..losses import MattingLoss
from ..types import MatteOutput
from .checkpoint import (
    InitReport,
    capture_rng_state,
    load_checkpoint,
    load_matching_weights,
    restore_rng_state,
)
from .checkpoint import save_checkpoint as write_checkpoint
from .config import TrainConfig
from .data import epoch_loader, steps_per_epoch
from .distributed import setup_distributed
from .logs import RunLogger
from .optim import build_optimizer, build_scheduler, clip_gradients
from .schedule import Curriculum
from .validation import build_datasets, scores_from_sums, validation_sums

__all__ = ["Trainer", "TrainResult", "train"]

logger = logging.getLogger(__name__)

# Like the reference's fp16 GradScaler, a step with non-finite gradients is skipped (the
# model gives NaN for a sample without any guidance mask); this many in a row means divergence.
_MAX_SKIPPED_IN_A_ROW = 20


@dataclass
class TrainResult:
    """Where a run ended: its step, last train terms, and checkpoints."""

    step: int
    last_terms: dict[str, float]
    last_checkpoint: Path | None
    best_checkpoint: Path | None
    best_score: float | None


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Owns the model, optimiser, schedule, data order and random state of one training process.

    Args:
        config: the run's configuration.
        model: a model to train instead of ``build_model(config.model)``.
        train_dataset, val_dataset: datasets to use instead of those built from ``config.data``.
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        model: torch.nn.Module | None = None,
        train_dataset: Dataset[Any] | None = None,
        val_dataset: Dataset[Any] | None = None,
    ) -> None:
        self.config = config
        self.ctx = setup_distributed(config.device)
        self.device = self.ctx.device
        self.output_dir = Path(config.output_dir)
        self._was_deterministic = torch.are_deterministic_algorithms_enabled()
        if config.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=self.device.type == "cuda")
        # Same seed on every rank for the initial weights (DDP also broadcasts rank 0's).
        _seed_all(config.seed)
        if model is None:
            from ..models import build_model

            model = build_model(config.model)
        self.init_report: InitReport | None = None
        if config.init_from is not None:
            self.init_report = load_matching_weights(model, config.init_from)
        model.to(self.device)
        if self.ctx.distributed and config.sync_bn:
            if self.device.type == "cuda":
                model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            else:
                logger.warning("sync_bn needs CUDA (PyTorch's SyncBatchNorm is GPU-only); using per-process BN")
        self.module = model
        self.model: torch.nn.Module = model
        if self.ctx.distributed:
            self.model = DistributedDataParallel(
                model,
                device_ids=[self.device] if self.device.type == "cuda" else None,
                find_unused_parameters=config.find_unused_parameters,
            )
        # From here on each rank draws its own random numbers (data, dilations, curriculum).
        _seed_all(config.seed + self.ctx.rank)
        self.generator = torch.Generator().manual_seed(config.seed + self.ctx.rank)

        self.optimizer = build_optimizer(self.module.parameters(), config.optim)
        self.scheduler = build_scheduler(
            self.optimizer, config.schedule, total_steps=config.max_steps, peak_lr=config.optim.lr
        )
        amp = config.amp if self.device.type == "cuda" else "off"
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
        self.loss_fn = MattingLoss(config=config.loss)
        self.curriculum = Curriculum.from_config(config.curriculum)

        if train_dataset is None:
            train_dataset, val_dataset = build_datasets(config)
        self.train_dataset = train_dataset
        self.val_dataset = val_dataset
        self.steps_per_epoch = steps_per_epoch(
            train_dataset, batch_size=config.batch_size, world_size=self.ctx.world_size
        )
        self.step = 0
        self._skipped_in_a_row = 0
        self.best_score: float | None = None
        self.best_checkpoint: Path | None = None
        self.log = RunLogger(directory=self.output_dir, enabled=self.ctx.is_main, tensorboard=config.tensorboard)
        if self.ctx.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))

    # ------------------------------------------------------------------ one step

    def _forward(self, batch: dict[str, torch.Tensor], band_alpha: torch.Tensor | None) -> MatteOutput:
        autocast = (
            torch.autocast(device_type="cuda", dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            return self.model(batch["image"], batch["masks"], band_alpha=band_alpha, generator=self.generator)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimiser step on a collated batch; returns the (detached) loss terms and stats."""
        self.model.train()
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items() if isinstance(v, torch.Tensor)}
        # A non-finite forward pass would leave NaN in the BatchNorm running statistics, which
        # only evaluation uses; they are restored if the step is skipped.
        buffers = [b.detach().clone() for b in self.module.buffers()]
        alpha = batch["alpha"]
        band = self.curriculum.band_alpha(self.step, alpha, generator=self.generator, masks=batch["masks"])
        out = self._forward(batch, band)
        if band is None and self.curriculum.coarse_alpha_is_empty(out):
            band = alpha
            out = self._forward(batch, band)
        terms = self.loss_fn(out, batch, generator=self.generator, band_from_gt=band is not None)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["total"]).backward()
        self.scaler.unscale_(self.optimizer)
        grad_norm = clip_gradients(self.module.parameters(), self.config.optim.grad_clip_norm)
        # Gradients are already averaged over ranks here, so every rank takes the same decision.
        finite = bool(torch.isfinite(grad_norm))
        self._skipped_in_a_row = 0 if finite else self._skipped_in_a_row + 1
        if not finite:
            with torch.no_grad():
                for saved, buffer in zip(buffers, self.module.buffers(), strict=True):
                    buffer.copy_(saved)
        if not finite and not self.scaler.is_enabled():
            logger.warning("step %d: non-finite loss or gradients, update skipped", self.step)
            if self._skipped_in_a_row >= _MAX_SKIPPED_IN_A_ROW:
                raise FloatingPointError(f"{self._skipped_in_a_row} steps in a row had non-finite gradients")
        lr = self.optimizer.param_groups[0]["lr"]
        if finite or self.scaler.is_enabled():
            self.scaler.step(self.optimizer)  # the fp16 scaler skips non-finite steps itself
        self.scaler.update()
        with warnings.catch_warnings():
            # A skipped update still advances the schedule, as with the reference's GradScaler.
            warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
            self.scheduler.step()
        self.step += 1
        stats = {k: v.detach() for k, v in terms.items()}
        stats["grad_norm"] = grad_norm.detach()
        stats["lr"] = torch.tensor(lr, dtype=torch.float64)
        stats["gt_band"] = torch.tensor(float(band is not None))
        stats["skipped"] = torch.tensor(float(not finite))
        return stats

    # ------------------------------------------------------------------ loop

    def fit(self, *, stop_at: int | None = None) -> TrainResult:
        """Train until ``config.max_steps`` (or ``stop_at``, to simulate an interruption)."""
        cfg = self.config
        target = cfg.max_steps if stop_at is None else min(stop_at, cfg.max_steps)
        last_terms: dict[str, float] = {}
        last_checkpoint: Path | None = None
        tic = time.perf_counter()
        while self.step < target:
            epoch, offset = divmod(self.step, self.steps_per_epoch)
            loader = epoch_loader(
                self.train_dataset,
                epoch=epoch,
                skip_batches=offset,
                batch_size=cfg.batch_size,
                rank=self.ctx.rank,
                world_size=self.ctx.world_size,
                seed=cfg.seed,
                num_workers=cfg.num_workers,
                pin_memory=self.device.type == "cuda",
            )
            for batch in loader:
                stats = self.train_step(batch)
                if cfg.log_every and (self.step % cfg.log_every == 0 or self.step == 1):
                    last_terms = self._log_train(stats, time.perf_counter() - tic)
                    tic = time.perf_counter()
                if cfg.val_every and self.step % cfg.val_every == 0:
                    self.run_validation()
                if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0:
                    last_checkpoint = self.save_checkpoint()
                if self.step >= target:
                    break
        if self.step == cfg.max_steps:
            if cfg.val_every and self.step % cfg.val_every:
                self.run_validation()
            if not cfg.checkpoint_every or self.step % cfg.checkpoint_every:
                last_checkpoint = self.save_checkpoint()
        return TrainResult(
            step=self.step,
            last_terms=last_terms,
            last_checkpoint=last_checkpoint,
            best_checkpoint=self.best_checkpoint,
            best_score=self.best_score,
        )

    def _log_train(self, stats: dict[str, torch.Tensor], seconds: float) -> dict[str, float]:
        names = sorted(stats)
        values = self.ctx.mean(torch.stack([stats[n].double() for n in names]))
        row = dict(zip(names, values.tolist(), strict=True))
        row["sec_per_step"] = seconds / max(min(self.step, self.config.log_every), 1)
        self.log.log("train", self.step, row)
        logger.info(
            "step %d/%d  loss %.4f  lr %.3g  %.2fs/step",
            self.step,
            self.config.max_steps,
            row["total"],
            row["lr"],
            row["sec_per_step"],
        )
        return row

    def run_validation(self) -> dict[str, float] | None:
        """Score the validation set (sharded over ranks); keeps ``best.pt`` by the lowest MAD."""
        if self.val_dataset is None:
            return None
        sums = validation_sums(
            self.module,
            self.val_dataset,
            device=self.device,
            num_workers=self.config.num_workers,
            amp_dtype=self.amp_dtype,
            rank=self.ctx.rank,
            world_size=self.ctx.world_size,
        )
        scores = scores_from_sums(self.ctx.sum(sums))
        self.log.log("val", self.step, scores)
        logger.info("step %d validation: %s", self.step, ", ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        if self.best_score is None or scores["MAD"] < self.best_score:
            self.best_score = scores["MAD"]
            self.best_checkpoint = self.save_checkpoint(name="best.pt", periodic=False)
        return scores

    # ------------------------------------------------------------------ checkpoints

    def state(self, rng: list[dict[str, Any]]) -> dict[str, Any]:
        """The checkpoint payload (``rng``: every rank's random state, in rank order)."""
        return {
            "step": self.step,
            "model": self.module.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
            "world_size": self.ctx.world_size,
            "steps_per_epoch": self.steps_per_epoch,
            "best_score": self.best_score,
            "config": to_dict(self.config),
        }

    def save_checkpoint(self, *, name: str | None = None, periodic: bool = True) -> Path:
        """Write ``checkpoints/step_XXXXXXXX.pt`` (or ``name``) and ``last.pt``; collective under DDP."""
        directory = self.output_dir / "checkpoints"
        path = directory / (name or f"step_{self.step:08d}.pt")
        rng = self.ctx.gather_objects(capture_rng_state(self.generator))
        if self.ctx.is_main:
            write_checkpoint(path, self.state(rng))
            if periodic:
                shutil.copyfile(path, directory / "last.pt")
                self._prune(directory)
        self.ctx.barrier()
        return path

    def _prune(self, directory: Path) -> None:
        for old in sorted(directory.glob("step_*.pt"))[: -self.config.keep_checkpoints]:
            old.unlink()

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by :meth:`save_checkpoint`."""
        payload = load_checkpoint(path)
        try:
            self.module.load_state_dict(payload["model"])
            self.optimizer.load_state_dict(payload["optimizer"])
        except (RuntimeError, ValueError) as exc:
            raise WeightsError(f"{path}: does not fit this model/optimiser ({exc})") from exc
        self.scheduler.load_state_dict(payload["scheduler"])
        self.scaler.load_state_dict(payload["scaler"])
        self.step = int(payload["step"])
        self.best_score = payload["best_score"]
        best = self.output_dir / "checkpoints" / "best.pt"
        self.best_checkpoint = best if self.best_score is not None and best.is_file() else None
        changed = sorted(k for k, v in to_dict(self.config).items() if payload["config"].get(k) != v)
        if changed:
            logger.warning("resuming %s with changed settings: %s", path, ", ".join(changed))
        if payload["steps_per_epoch"] != self.steps_per_epoch:
            logger.warning(
                "steps per epoch changed (%d → %d): the data order differs",
                payload["steps_per_epoch"],
                self.steps_per_epoch,
            )
        rng = payload["rng"]
        if len(rng) == self.ctx.world_size:
            restore_rng_state(rng[self.ctx.rank], self.generator)
        else:
            logger.warning("checkpoint has %d ranks, this run %d: random states restart", len(rng), self.ctx.world_size)
        logger.info("resumed from %s at step %d", path, self.step)

    def close(self) -> None:
        """Release the process group and logs; restore the global determinism setting."""
        self.log.close()
        self.ctx.close()
        torch.use_deterministic_algorithms(self._was_deterministic)


def train(
    config: TrainConfig,
    *,
    resume: str | Path | None = None,
    model: torch.nn.Module | None = None,
    train_dataset: Dataset[Any] | None = None,
    val_dataset: Dataset[Any] | None = None,
) -> TrainResult:
    """Run (or continue, with ``resume``) a training run described by ``config``."""
    trainer = Trainer(config, model=model, train_dataset=train_dataset, val_dataset=val_dataset)
    try:
        if resume is not None:
            trainer.resume(resume)
        return trainer.fit()
    finally:
        trainer.close()
