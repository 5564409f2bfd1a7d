"""Stage 3a: the decoder trunk from the 1/32 ASPP output up to the 1/8 feature.

Two up-sampling stages of residual blocks; after each, the encoder's shortcut feature of the
same scale is added: ``layer1(aspp) + fea5`` at 1/16, ``layer2(·) + fea4`` at 1/8.
"""

from __future__ import annotations

import torch
from torch import nn

from ..ops.spectral_norm import SpectralNorm
from .layers import sn_conv1x1, sn_conv3x3

__all__ = ["DecoderTrunk"]


class _UpBlock(nn.Module):
    """conv1 → BN → LeakyReLU(0.2) → conv3×3 → BN, plus identity → LeakyReLU(0.2).

    In an up-sampling block conv1 is a 4×4 stride-2 transposed convolution and the identity
    path is nearest ×2 → 1×1 conv → BN; otherwise conv1 is a 3×3 convolution.
    """

    def __init__(self, in_channels: int, channels: int, *, upsample: bool) -> None:
        super().__init__()
        if upsample:
            self.conv1 = SpectralNorm(nn.ConvTranspose2d(in_channels, in_channels, 4, stride=2, padding=1, bias=False))
        else:
            self.conv1 = sn_conv3x3(in_channels, in_channels)
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv2 = sn_conv3x3(in_channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.activation = nn.LeakyReLU(0.2, inplace=True)
        self.upsample = None
        if upsample:
            self.upsample = nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"), sn_conv1x1(in_channels, channels), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.upsample is None else self.upsample(x)
        return self.activation(out + identity)


def _stage(in_channels: int, channels: int, blocks: int) -> nn.Sequential:
    layers = [_UpBlock(in_channels, channels, upsample=True)]
    layers += [_UpBlock(channels, channels, upsample=False) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class DecoderTrunk(nn.Module):
    """1/32 → 1/16 → 1/8.

    Args:
        channels: channels at 1/32, 1/16 and 1/8.
        blocks: residual blocks of the two stages.
    """

    def __init__(self, *, channels: tuple[int, int, int], blocks: tuple[int, int]) -> None:
        super().__init__()
        c32, c16, c8 = channels
        self.layer1 = _stage(c32, c16, blocks[0])
        self.layer2 = _stage(c16, c8, blocks[1])

    def forward(self, x: torch.Tensor, fea5: torch.Tensor, fea4: torch.Tensor) -> torch.Tensor:
        """ASPP output ``(F, C32, H/32, W/32)`` → 1/8 feature ``(F, C8, H/8, W/8)``."""
        return self.layer2(self.layer1(x) + fea5) + fea4
