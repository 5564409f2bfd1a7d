"""Stage 5: progressive fusion of the coarse, 1/4 and full-resolution mattes (paper Eqs. 8–9).

``R4 = dilate(transition(A8)) ∧ U`` → ``A = A4 on R4, A8 elsewhere``;
``R1 = dilate(transition(A)) ∧ U`` → ``A = A1 on R1``. The released code dilates with kernels
27 and 15 (ellipses 13×13 and 7×7); the paper states 30 and 15. In training the widths are
random per slice, like the band's.
"""

from __future__ import annotations

import torch

from .uncertainty import dilate_slices, transition

__all__ = ["progressive_fuse"]


def progressive_fuse(
    alpha_os8: torch.Tensor,
    alpha_os4: torch.Tensor,
    alpha_os1: torch.Tensor,
    band: torch.Tensor,
    *,
    kernels: tuple[int, int],
    randomize: bool = False,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fuse mattes of shape ``(B, T, N, H, W)``; ``band`` is the bool band ``U``.

    Returns:
        the fused alpha and the bool regions ``R4`` and ``R1``.
    """
    region4 = dilate_slices(transition(alpha_os8), kernels[0], randomize=randomize, generator=generator) & band
    alpha = torch.where(region4, alpha_os4, alpha_os8)
    region1 = dilate_slices(transition(alpha), kernels[1], randomize=randomize, generator=generator) & band
    alpha = torch.where(region1, alpha_os1, alpha)
    return alpha, region4, region1
