"""Stage 4: sparse progressive refinement inside the uncertainty band (paper Eqs. 2–3).

Every (frame, instance) slice is one batch entry ``b = frame·N + instance`` of a sparse grid at
full resolution. The band ``U`` is the finest active set; coarser sets are its successive
3×3/stride-2 max-pools (1/2, 1/4, 1/8).

1. 1/8 instance-specific features: F̄8 at each 1/8 site times that instance's kernel (token),
   then a residual FFN with LayerNorm.
2. Up to 1/4 (sparse transposed conv), and instance guidance: ``G = σ(g([F4, X'4]))``,
   ``X4 = F4 ⊙ G`` with F4 the encoder's 1/4 shortcut feature; a 1/4 matte head.
3. Up to 1/2 and 1/1, each time concatenating the encoder shortcut of that scale; a full
   resolution matte head.

Outputs are dense logits with −99 outside the active sets, as the checkpoints expect (the 1/4
logits are then bilinearly up-sampled, so −99 also shapes the band's edge).
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops.sparse import (
    DenseMap,
    FeatureMap,
    MapActivation,
    SparseBatchNorm,
    SparseInverseConv2d,
    SparseMap,
    SubMConv2d,
    build_pyramid,
    concat,
    gather_frames,
    multiply,
    pointwise,
    to_dense,
)
from .instance_decoder import FeedForward

__all__ = ["SparseRefiner", "OUTSIDE_LOGIT"]

OUTSIDE_LOGIT = -99.0


def _leaky() -> MapActivation:
    return MapActivation(nn.LeakyReLU(0.2))


def _up(in_channels: int, channels: int, *, kernel_size: int) -> nn.Sequential:
    return nn.Sequential(
        SparseInverseConv2d(in_channels, channels),
        SparseBatchNorm(channels),
        _leaky(),
        SubMConv2d(channels, channels, kernel_size=kernel_size, bias=False),
    )


def _smooth(in_channels: int, channels: int) -> nn.Sequential:
    # The reference applies ReLU before its batch norm here.
    return nn.Sequential(
        SubMConv2d(in_channels, channels, kernel_size=1, bias=True),
        MapActivation(nn.ReLU()),
        SparseBatchNorm(channels),
    )


def _head(in_channels: int, channels: int) -> nn.Sequential:
    return nn.Sequential(
        SubMConv2d(in_channels, channels, kernel_size=3, bias=False),
        SparseBatchNorm(channels),
        _leaky(),
        SubMConv2d(channels, 1, kernel_size=3, bias=True),
    )


class SparseRefiner(nn.Module):
    """Sparse refinement from 1/8 to 1/1.

    Args:
        feature_dim: channels of F̄8 and of the instance kernels.
        quarter_channels: channels at 1/4 (= the encoder's 1/4 shortcut).
        full_channels: channels at 1/2 and 1/1 (= the encoder's 1/1 and 1/2 shortcuts).
        dropout: dropout of the instance-specific FFN (training only).
    """

    def __init__(self, *, feature_dim: int, quarter_channels: int, full_channels: int, dropout: float = 0.1) -> None:
        super().__init__()
        c4, c1 = quarter_channels, full_channels
        self.inst_spec_layer = FeedForward(feature_dim, feature_dim, dropout=dropout)
        self.layer3 = _up(feature_dim, c4, kernel_size=3)
        self.guidance_layer = nn.Sequential(
            SubMConv2d(2 * c4, c4, kernel_size=1, bias=False),
            SparseBatchNorm(c4),
            _leaky(),
            SubMConv2d(c4, c4, kernel_size=3, bias=True),
            MapActivation(nn.Sigmoid()),
        )
        self.layer3_smooth = _smooth(c4, c4)
        self.refine_OS4 = _head(c4, c1)
        self.layer4 = _up(c4, c1, kernel_size=1)
        self.layer4_smooth = _smooth(2 * c1, c1)
        self.layer5 = _up(c1, c1, kernel_size=3)
        self.layer5_smooth = _smooth(2 * c1, c1)
        self.refine_OS1 = _head(c1, c1)

    def forward(
        self,
        features: torch.Tensor,
        kernels: torch.Tensor,
        shortcuts: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        band: torch.Tensor,
        *,
        dense: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Refine the slices of ``band``.

        Args:
            features: F̄8 ``(B·T, D, H/8, W/8)``.
            kernels: instance kernels ``(B, S, D)``; slot ``i`` belongs to instance ``i``.
            shortcuts: encoder features at 1, 1/2 and 1/4: ``(B·T, C, H/s, W/s)``.
            band: bool ``(B, T, N, H, W)``; refinement is computed only there.
            dense: use the dense masked computation instead of the sparse one.

        Returns:
            logits at 1/4 ``(B, T, N, H/4, W/4)`` and at 1/1 ``(B, T, N, H, W)``, −99 outside.
        """
        b, t, n, h, w = band.shape
        slices = band.reshape(b * t * n, h, w)
        pyramid = build_pyramid(slices, 4, dense=dense)
        if self.training and min(len(level) for level in pyramid) < 2:
            # Batch norm cannot take statistics from fewer than two sites: nothing to refine.
            full = band.new_full((b, t, n, h, w), OUTSIDE_LOGIT, dtype=features.dtype)
            return full[..., ::4, ::4], full
        device = band.device
        frame_of = torch.arange(b * t * n, device=device) // n
        clip_of = frame_of // t
        slot_of = torch.arange(b * t * n, device=device) % n
        slice_kernels = kernels[clip_of, slot_of]  # (B·T·N, D)

        x8 = gather_frames(pyramid[3], features, frame_of)
        x8 = _scale_by_slice(x8, slice_kernels)
        x8 = pointwise(x8, self.inst_spec_layer)
        x4 = self.layer3(x8)
        f4 = gather_frames(pyramid[2], shortcuts[2], frame_of)
        x4 = multiply(f4, self.guidance_layer(concat(f4, x4)))
        x4 = self.layer3_smooth(x4)
        logits4 = self.refine_OS4(x4)
        x2 = self.layer4(x4)
        x2 = self.layer4_smooth(concat(gather_frames(pyramid[1], shortcuts[1], frame_of), x2))
        x1 = self.layer5(x2)
        x1 = self.layer5_smooth(concat(gather_frames(pyramid[0], shortcuts[0], frame_of), x1))
        logits1 = self.refine_OS1(x1)
        out4 = to_dense(logits4, OUTSIDE_LOGIT).view(b, t, n, h // 4, w // 4)
        out1 = to_dense(logits1, OUTSIDE_LOGIT).view(b, t, n, h, w)
        return out4, out1


def _scale_by_slice(x: FeatureMap, per_slice: torch.Tensor) -> FeatureMap:
    """Multiply each site's features by its slice's vector ``per_slice[b]`` ``(slices, C)``."""
    if isinstance(x, SparseMap):
        return SparseMap(x.features * per_slice[x.sites.coords[:, 0]], x.sites)
    return DenseMap(x.features * per_slice[:, :, None, None], x.sites)
