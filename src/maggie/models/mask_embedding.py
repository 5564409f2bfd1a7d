"""Stage 1: instance masks → mask-ID embedding concatenated to the image (paper Eq. 4).

Slot ``k`` (0-based) owns embedding row ``k + 1``; row 0 is never read. Where several
instances cover a pixel the embedding is the **mean** of their rows, which is what the released
model computes (the paper's product form agrees only for non-overlapping masks); uncovered
pixels get zeros.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MaskEmbedding"]


class MaskEmbedding(nn.Module):
    """Mask-ID embedding.

    Args:
        max_instances: number of mask slots (rows ``1..max_instances`` are used).
        embed_dim: embedding size.
    """

    def __init__(self, *, max_instances: int, embed_dim: int) -> None:
        super().__init__()
        self.max_instances = max_instances
        self.table = nn.Embedding(max_instances + 1, embed_dim)

    def forward(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """``image (F, 3, H, W)`` and binary ``masks (F, N, H, W)``, ``N ≤ max_instances``
        → ``(F, 3 + embed_dim, H, W)``."""
        n = masks.shape[1]
        rows = self.table.weight[1 : n + 1]  # (N, E)
        # Masks are truncated to {0, 1} like the reference's integer cast.
        on = (masks >= 1).to(rows.dtype)
        total = torch.einsum("fnhw,ne->fehw", on, rows)
        count = on.sum(dim=1, keepdim=True)
        return torch.cat((image, total / (count + 1e-6)), dim=1)
