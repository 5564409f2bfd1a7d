"""Optimiser, learning-rate schedules and gradient clipping (reference §5.5).

The reference trains with AdamW (weight decay 0.01 on every parameter, including norms,
embeddings and biases), clips the global gradient norm to 0.01 every step, and uses
``OneCycleLR`` with cosine annealing: ``lr/25`` → ``lr`` over the warm-up, then down to
``lr/25/1e4`` at the last step. The schedules here are small callables for ``LambdaLR`` so that
their values are easy to test and their state is part of the scheduler's ``state_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import torch

__all__ = [
    "OptimConfig",
    "ScheduleConfig",
    "OneCycleCosine",
    "WarmupCosine",
    "build_optimizer",
    "build_scheduler",
    "clip_gradients",
]


@dataclass(frozen=True)
class OptimConfig:
    """AdamW settings. Defaults are the reference image recipe.

    Attributes:
        lr: peak learning rate (1.5e-4 image, 5e-5 video).
        betas, eps: AdamW moments.
        weight_decay: decoupled weight decay, applied to every parameter as in the reference.
        grad_clip_norm: clip the global gradient L2 norm to this value; None disables clipping.
    """

    lr: float = 1.5e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.01
    grad_clip_norm: float | None = 0.01


@dataclass(frozen=True)
class ScheduleConfig:
    """Learning-rate schedule over ``max_steps`` optimiser steps.

    Attributes:
        name: ``"onecycle"`` (reference: PyTorch's ``OneCycleLR`` with cosine annealing and no
            momentum cycling) or ``"warmup_cosine"`` (linear warm-up from 0, cosine to ``min_lr``).
        warmup_steps: steps to reach the peak learning rate.
        div_factor: onecycle only; the first learning rate is ``lr / div_factor``.
        final_div_factor: onecycle only; the last learning rate is ``lr / div_factor / final_div_factor``.
        min_lr: warmup_cosine only; the learning rate at the last step.
    """

    name: Literal["onecycle", "warmup_cosine"] = "onecycle"
    warmup_steps: int = 1000
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    min_lr: float = 0.0


def _cosine(start: float, end: float, pct: float) -> float:
    return end + (start - end) * (1.0 + math.cos(math.pi * pct)) / 2.0


@dataclass
class OneCycleCosine:
    """Multiplier of the peak LR at each step, equal to ``torch.optim.lr_scheduler.OneCycleLR``
    with ``anneal_strategy="cos"``, ``pct_start = warmup_steps / total_steps``.

    Step ``s`` (0-based) ramps with a half cosine from ``1/div_factor`` at 0 to 1 at
    ``warmup_steps − 1``, then decays to ``1/(div_factor·final_div_factor)`` at ``total_steps − 1``.
    """

    total_steps: int
    warmup_steps: int
    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def __call__(self, step: int) -> float:
        first = 1.0 / self.div_factor
        last = first / self.final_div_factor
        peak_step = max(self.warmup_steps - 1, 0)
        if step <= peak_step:
            return _cosine(first, 1.0, step / peak_step) if peak_step else 1.0
        pct = (step - peak_step) / max(self.total_steps - 1 - peak_step, 1)
        return _cosine(1.0, last, min(pct, 1.0))


@dataclass
class WarmupCosine:
    """Linear warm-up from 0 to 1 over ``warmup_steps``, then cosine to ``min_ratio`` at the end."""

    total_steps: int
    warmup_steps: int
    min_ratio: float = 0.0

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        pct = (step - self.warmup_steps) / max(self.total_steps - 1 - self.warmup_steps, 1)
        return _cosine(1.0, self.min_ratio, min(pct, 1.0))


def build_optimizer(params: Iterable[torch.nn.Parameter], config: OptimConfig) -> torch.optim.AdamW:
    """AdamW over every parameter that requires a gradient, with one weight-decay group."""
    trainable = [p for p in params if p.requires_grad]
    return torch.optim.AdamW(
        trainable, lr=config.lr, betas=config.betas, eps=config.eps, weight_decay=config.weight_decay
    )


def build_scheduler(
    optimizer: torch.optim.Optimizer, config: ScheduleConfig, *, total_steps: int, peak_lr: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """The configured schedule as a ``LambdaLR`` (call ``step()`` once per optimiser step)."""
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    if not 0 <= config.warmup_steps <= total_steps:
        raise ValueError(f"warmup_steps must be in 0..{total_steps}, got {config.warmup_steps}")
    if config.name == "onecycle":
        multiplier: OneCycleCosine | WarmupCosine = OneCycleCosine(
            total_steps=total_steps,
            warmup_steps=config.warmup_steps,
            div_factor=config.div_factor,
            final_div_factor=config.final_div_factor,
        )
    else:
        multiplier = WarmupCosine(
            total_steps=total_steps, warmup_steps=config.warmup_steps, min_ratio=config.min_lr / peak_lr
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, multiplier)


def clip_gradients(params: Iterable[torch.nn.Parameter], max_norm: float | None) -> torch.Tensor:
    """Clip the global gradient norm (if ``max_norm`` is set) and return the norm before clipping."""
    grads = [p for p in params if p.grad is not None]
    if max_norm is None:
        norms = [p.grad.detach().norm() for p in grads]  # type: ignore[union-attr]
        return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
    return torch.nn.utils.clip_grad_norm_(grads, max_norm)
