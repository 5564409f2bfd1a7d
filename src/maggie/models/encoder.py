"""Stage 2: the "ResNet-29" encoder with shortcut branches (reference ``ResShortCut_D``).

Input: the 3 + E channel image-plus-embedding tensor. Every convolution is spectral-normalised
and bias-free. Output: the 1/32 bottleneck feature and five shortcut features at 1, 1/2, 1/4,
1/8 and 1/16 that the decoder and the sparse refinement read.

Layers: conv1 (stride 2) → conv2 → x1 (1/2); conv3 (stride 2) → layer1 → x2 (1/4); layer2 → x3
(1/8); layer3 → x4 (1/16); layer_bottleneck → out (1/32). 3 + 2·(3+4+4+2) = 29 layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import sn_conv1x1, sn_conv3x3

__all__ = ["Encoder", "EncoderFeatures"]


@dataclass
class EncoderFeatures:
    """Encoder outputs for ``F = B·T`` frames.

    Attributes:
        bottleneck: ``(F, C5, H/32, W/32)``.
        shortcuts: ``(fea1, …, fea5)`` at scales 1, 1/2, 1/4, 1/8, 1/16.
    """

    bottleneck: torch.Tensor
    shortcuts: tuple[torch.Tensor, ...]


class _Block(nn.Module):
    """Residual block: conv3×3 (stride) → BN → ReLU → conv3×3 → BN, plus identity → ReLU.

    A strided block's identity path is 2×2 average pooling → 1×1 conv → BN.
    """

    def __init__(self, in_channels: int, channels: int, *, stride: int) -> None:
        super().__init__()
        self.conv1 = sn_conv3x3(in_channels, channels, stride=stride)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = sn_conv3x3(channels, channels)
        self.bn2 = nn.BatchNorm2d(channels)
        self.activation = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(2, stride=2), sn_conv1x1(in_channels, channels), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.activation(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.activation(out + identity)


def _stage(in_channels: int, channels: int, blocks: int, *, stride: int) -> nn.Sequential:
    layers = [_Block(in_channels, channels, stride=stride)]
    layers += [_Block(channels, channels, stride=1) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _shortcut(in_channels: int, channels: int) -> nn.Sequential:
    # The reference puts the activation before the batch norm in these branches.
    return nn.Sequential(
        sn_conv3x3(in_channels, channels),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(channels),
        sn_conv3x3(channels, channels),
        nn.ReLU(inplace=True),
        nn.BatchNorm2d(channels),
    )


class Encoder(nn.Module):
    """ResNet-29 encoder with shortcut branches.

    Args:
        in_channels: input channels (3 + embedding size).
        channels: channels at 1/2, 1/4, 1/8, 1/16 and 1/32.
        blocks: residual blocks per stage (layer1, layer2, layer3, layer_bottleneck).
    """

    def __init__(self, *, in_channels: int, channels: tuple[int, ...], blocks: tuple[int, ...]) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = channels
        self.conv1 = sn_conv3x3(in_channels, c1, stride=2)
        self.bn1 = nn.BatchNorm2d(c1)
        self.conv2 = sn_conv3x3(c1, c1)
        self.bn2 = nn.BatchNorm2d(c1)
        self.conv3 = sn_conv3x3(c1, c2, stride=2)
        self.bn3 = nn.BatchNorm2d(c2)
        self.activation = nn.ReLU(inplace=True)
        self.layer1 = _stage(c2, c2, blocks[0], stride=1)
        self.layer2 = _stage(c2, c3, blocks[1], stride=2)
        self.layer3 = _stage(c3, c4, blocks[2], stride=2)
        self.layer_bottleneck = _stage(c4, c5, blocks[3], stride=2)
        self.shortcut = nn.ModuleList(
            [_shortcut(in_channels, c1), _shortcut(c1, c1), _shortcut(c2, c2), _shortcut(c3, c3), _shortcut(c4, c4)]
        )

    def forward(self, x: torch.Tensor) -> EncoderFeatures:
        """``x (F, 3 + E, H, W)`` → :class:`EncoderFeatures`."""
        out = self.activation(self.bn1(self.conv1(x)))
        x1 = self.activation(self.bn2(self.conv2(out)))
        out = self.activation(self.bn3(self.conv3(x1)))
        x2 = self.layer1(out)
        x3 = self.layer2(x2)
        x4 = self.layer3(x3)
        bottleneck = self.layer_bottleneck(x4)
        inputs = (x, x1, x2, x3, x4)
        shortcuts = tuple(branch(inp) for branch, inp in zip(self.shortcut, inputs, strict=True))
        return EncoderFeatures(bottleneck=bottleneck, shortcuts=shortcuts)
