"""Training curriculum: where the uncertainty band comes from at each step (reference §2.8, §5.2).

Early in training the coarse alpha ``A8`` is poor, so the band ``U`` that the sparse refinement
works on is derived from the ground-truth alpha instead: always for the first
``gt_band_steps`` (3000) steps, with probability 0.5 until ``mixed_band_steps`` (9000), and
whenever the coarse alpha is all zero. The model stays free of training logic: it takes the
alpha to derive the band from as its ``band_alpha`` argument, and :class:`Curriculum` decides
what to pass from the global step and an explicit random generator.

The "coarse alpha all zero" case is handled in two places:

* **before the forward pass**, when the guidance masks of the whole batch are empty: the
  reference zeroes the coarse alpha of slots without a mask during training, so ``A8`` is then
  all zero by construction;
* **after it** (:meth:`Curriculum.coarse_alpha_is_empty`): the trainer checks the returned
  ``alpha_os8`` and, in the rare event that it is all zero while the band came from it, runs the
  forward pass again with the GT band. Only the second forward pass is back-propagated.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ConfigError
from ..types import MatteOutput

__all__ = ["CurriculumConfig", "Curriculum"]


@dataclass(frozen=True)
class CurriculumConfig:
    """When the uncertainty band comes from the ground truth (reference values).

    Attributes:
        gt_band_steps: steps (from 0) that always use the GT band (``warmup_detail_iter``).
        mixed_band_steps: until this step, the GT band is used with ``mixed_band_prob``.
        mixed_band_prob: probability of the GT band between the two step counts.
    """

    gt_band_steps: int = 3000
    mixed_band_steps: int = 9000
    mixed_band_prob: float = 0.5

    def __post_init__(self) -> None:
        if self.mixed_band_steps < self.gt_band_steps:
            raise ConfigError("curriculum.mixed_band_steps must be >= curriculum.gt_band_steps")
        if not 0.0 <= self.mixed_band_prob <= 1.0:
            raise ConfigError(f"curriculum.mixed_band_prob must be in [0, 1], got {self.mixed_band_prob}")


class Curriculum:
    """Decides, per training step, whether the uncertainty band is derived from the GT alpha."""

    def __init__(self, *, gt_band_steps: int = 3000, mixed_band_steps: int = 9000, mixed_band_prob: float = 0.5):
        if mixed_band_steps < gt_band_steps:
            raise ValueError(f"mixed_band_steps ({mixed_band_steps}) must be >= gt_band_steps ({gt_band_steps})")
        if not 0.0 <= mixed_band_prob <= 1.0:
            raise ValueError(f"mixed_band_prob must be in [0, 1], got {mixed_band_prob}")
        self.gt_band_steps = gt_band_steps
        self.mixed_band_steps = mixed_band_steps
        self.mixed_band_prob = mixed_band_prob

    @classmethod
    def from_config(cls, config: CurriculumConfig) -> Curriculum:
        return cls(
            gt_band_steps=config.gt_band_steps,
            mixed_band_steps=config.mixed_band_steps,
            mixed_band_prob=config.mixed_band_prob,
        )

    def use_gt_band(self, step: int, *, generator: torch.Generator | None, masks: torch.Tensor | None = None) -> bool:
        """Whether step ``step`` (0-based global optimiser step) uses the GT band.

        ``generator`` is drawn from (once) only in the mixed phase, so the number of draws is a
        function of the step and the masks alone.

        Args:
            masks: the batch's guidance masks ``(B, T, N, h, w)``; all empty means ``A8 = 0``.
        """
        if step < self.gt_band_steps:
            return True
        if masks is not None and not bool(masks.any()):
            return True
        if step < self.mixed_band_steps:
            return bool(torch.rand((), generator=generator) < self.mixed_band_prob)
        return False

    def band_alpha(
        self,
        step: int,
        alpha: torch.Tensor,
        *,
        generator: torch.Generator | None,
        masks: torch.Tensor | None = None,
    ) -> torch.Tensor | None:
        """The model's ``band_alpha`` argument: the GT ``alpha`` ``(B, T, N, H, W)`` or None (use A8)."""
        return alpha if self.use_gt_band(step, generator=generator, masks=masks) else None

    @staticmethod
    def coarse_alpha_is_empty(output: MatteOutput) -> bool:
        """True when the coarse alpha of the whole batch is exactly zero (the band must come from GT)."""
        return not bool(output.alpha_os8.detach().any())
