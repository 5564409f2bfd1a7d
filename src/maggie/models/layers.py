"""Convolution helpers shared by the encoder, the decoder trunk and the temporal module."""

from __future__ import annotations

from torch import nn

from ..ops.spectral_norm import SpectralNorm

__all__ = ["sn_conv3x3", "sn_conv1x1"]


def sn_conv3x3(in_channels: int, out_channels: int, *, stride: int = 1) -> SpectralNorm:
    """Spectral-normalised bias-free 3×3 convolution, padding 1."""
    return SpectralNorm(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False))


def sn_conv1x1(in_channels: int, out_channels: int) -> SpectralNorm:
    """Spectral-normalised bias-free 1×1 convolution."""
    return SpectralNorm(nn.Conv2d(in_channels, out_channels, 1, bias=False))
