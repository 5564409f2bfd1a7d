"""Atrous spatial pyramid pooling on the 1/32 bottleneck (plain convolutions, no bias)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ASPP"]


class ASPP(nn.Module):
    """Five branches (1×1; 3×3 at dilation 2, 4, 8; global pooling), each conv → BN → ReLU,
    concatenated and projected back with 1×1 → BN → ReLU.

    Args:
        in_channels: bottleneck channels (also the output channels).
        branch_channels: channels of each branch.
    """

    def __init__(self, *, in_channels: int, branch_channels: int) -> None:
        super().__init__()
        c = branch_channels
        self.aspp1 = nn.Conv2d(in_channels, c, 1, bias=False)
        self.aspp2 = nn.Conv2d(in_channels, c, 3, padding=2, dilation=2, bias=False)
        self.aspp3 = nn.Conv2d(in_channels, c, 3, padding=4, dilation=4, bias=False)
        self.aspp4 = nn.Conv2d(in_channels, c, 3, padding=8, dilation=8, bias=False)
        self.aspp5 = nn.Conv2d(in_channels, c, 1, bias=False)
        self.aspp1_bn = nn.BatchNorm2d(c)
        self.aspp2_bn = nn.BatchNorm2d(c)
        self.aspp3_bn = nn.BatchNorm2d(c)
        self.aspp4_bn = nn.BatchNorm2d(c)
        self.aspp5_bn = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(5 * c, in_channels, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(in_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(F, C, h, w)`` → ``(F, C, h, w)``. In training, BN on the pooled branch needs F ≥ 2."""
        branches = [
            F.relu(self.aspp1_bn(self.aspp1(x))),
            F.relu(self.aspp2_bn(self.aspp2(x))),
            F.relu(self.aspp3_bn(self.aspp3(x))),
            F.relu(self.aspp4_bn(self.aspp4(x))),
        ]
        pooled = F.relu(self.aspp5_bn(self.aspp5(F.adaptive_avg_pool2d(x, 1))))
        branches.append(pooled.expand(-1, -1, x.shape[2], x.shape[3]))
        return F.relu(self.bn2(self.conv2(torch.cat(branches, dim=1))))
