"""Model hyper-parameters as one frozen dataclass, with the released configurations as presets."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ModelConfig", "PRESETS"]


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a MaGGIe model. The defaults are the released image model.

    Attributes:
        max_instances: instance slots per forward pass (the checkpoints have 10).
        embed_dim: size of the mask-ID embedding concatenated to the RGB input.
        encoder_channels: channels at 1/2 (stem), 1/4, 1/8, 1/16 and 1/32.
        encoder_blocks: residual blocks of the four encoder stages (ResNet-29: 3, 4, 4, 2).
        aspp_channels: channels of each ASPP branch.
        trunk_blocks: decoder blocks up to 1/16 and up to 1/8.
        attention_blocks, attention_heads: instance-matte-decoder attention depth and heads.
        feature_dim: channels of the coarse instance features F̄8 and of the instance tokens.
        band_kernel: the uncertainty band U is the coarse transition dilated with an ellipse of
            ``band_kernel // 2`` (reference 30 → 15×15).
        fusion_kernels: dilation kernels of the two progressive-fusion regions R4 and R1
            (reference code 27 and 15 → 13×13 and 7×7; the paper states 30 and 15).
        temporal: build the video parts (Conv-GRU, temporal-sparsity predictor, fusion).
        box_margin: video only; pixels added around each instance's box when cropping U.
        snap_threshold: video only; coarse alpha at or above this is set to 1 before U.
    """

    max_instances: int = 10
    embed_dim: int = 3
    encoder_channels: tuple[int, int, int, int, int] = (32, 64, 128, 256, 512)
    encoder_blocks: tuple[int, int, int, int] = (3, 4, 4, 2)
    aspp_channels: int = 256
    trunk_blocks: tuple[int, int] = (2, 3)
    attention_blocks: int = 2
    attention_heads: int = 1
    feature_dim: int = 64
    band_kernel: int = 30
    fusion_kernels: tuple[int, int] = (27, 15)
    temporal: bool = False
    box_margin: int = 30
    snap_threshold: float = 0.95

    def __post_init__(self) -> None:
        if not 1 <= self.max_instances <= 255:
            raise ValueError(f"max_instances must be in 1..255, got {self.max_instances}")
        if self.encoder_channels[2] % self.attention_heads:
            raise ValueError("attention_heads must divide the 1/8 channel count")


PRESETS: dict[str, ModelConfig] = {
    "maggie-image": ModelConfig(),
    "maggie-video": ModelConfig(temporal=True),
    # Narrow variants with the same structure, for CPU tests and smoke training.
    "maggie-tiny": ModelConfig(
        encoder_channels=(8, 16, 32, 32, 64),
        encoder_blocks=(1, 1, 1, 1),
        aspp_channels=16,
        trunk_blocks=(1, 1),
        attention_blocks=1,
        feature_dim=16,
    ),
    "maggie-tiny-video": ModelConfig(
        encoder_channels=(8, 16, 32, 32, 64),
        encoder_blocks=(1, 1, 1, 1),
        aspp_channels=16,
        trunk_blocks=(1, 1),
        attention_blocks=1,
        feature_dim=16,
        temporal=True,
    ),
}
