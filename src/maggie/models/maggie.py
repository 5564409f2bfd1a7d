"""The MaGGIe model: wires the stages in data-flow order. Image = video with ``T = 1``.

masks ─ mask_embedding ─┐
image ──────────────────┴─ encoder ─ aspp ─ trunk ─ instance_decoder ─┬─ (temporal GRU) ─ coarse A8
                                                                     └─ F̄8, kernels ─ refiner (in U) ─ A4, A1
A8, A4, A1 ─ progressive fusion ─ (temporal fusion) ─ alpha
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..types import FrameFeatures, MatteOutput, TemporalState, check_shape
from .aspp import ASPP
from .config import ModelConfig
from .encoder import Encoder
from .fusion import progressive_fuse
from .instance_decoder import InstanceMatteDecoder
from .mask_embedding import MaskEmbedding
from .refinement import SparseRefiner
from .temporal import ConvGRU, SparsityPredictor, hard_fusion, soft_fusion
from .trunk import DecoderTrunk
from .uncertainty import coarse_alpha, crop_to_instance_boxes, snap_coarse, uncertainty_band

__all__ = ["MaGGIe"]


class MaGGIe(nn.Module):
    """Mask-guided instance matting for images (``T = 1``) and videos.

    Args:
        config: the architecture; build with :func:`maggie.build_model` for the presets.
        dense_refinement: run the refinement as dense masked convolutions instead of sparse
            ones (same result, for checking and export).
    """

    def __init__(self, *, config: ModelConfig, dense_refinement: bool = False) -> None:
        super().__init__()
        c = config.encoder_channels
        self.config = config
        self.dense_refinement = dense_refinement
        self.mask_embedding = MaskEmbedding(max_instances=config.max_instances, embed_dim=config.embed_dim)
        self.encoder = Encoder(in_channels=3 + config.embed_dim, channels=c, blocks=config.encoder_blocks)
        self.aspp = ASPP(in_channels=c[4], branch_channels=config.aspp_channels)
        self.trunk = DecoderTrunk(channels=(c[4], c[3], c[2]), blocks=config.trunk_blocks)
        self.instance_decoder = InstanceMatteDecoder(
            dim=c[2],
            feature_dim=config.feature_dim,
            max_instances=config.max_instances,
            blocks=config.attention_blocks,
            heads=config.attention_heads,
        )
        self.refiner = SparseRefiner(feature_dim=config.feature_dim, quarter_channels=c[1], full_channels=c[0])
        self.temporal_gru: ConvGRU | None = None
        self.temporal_sparsity: SparsityPredictor | None = None
        if config.temporal:
            self.temporal_gru = ConvGRU(channels=c[2])
            self.temporal_sparsity = SparsityPredictor(feature_dim=config.feature_dim)

    @property
    def is_video(self) -> bool:
        return self.temporal_gru is not None

    def forward(
        self,
        image: torch.Tensor,
        masks: torch.Tensor,
        *,
        band_alpha: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        state: TemporalState | None = None,
        band_kernel: int | None = None,
    ) -> MatteOutput:
        """Predict one alpha matte per instance.

        Args:
            image: ``(B, T, 3, H, W)`` ImageNet-normalised RGB; ``H``, ``W`` multiples of 32.
            masks: ``(B, T, N, H', W')`` guidance masks in {0, 1}, ``1 ≤ N ≤ max_instances``. At
                another size than the image they are nearest-resized to it (the reference
                evaluates images with masks given at 1/8).
            band_alpha: optional ``(B, T, N, H, W)`` alpha to derive the uncertainty band from
                instead of the coarse prediction (the training curriculum passes ground truth).
            generator: random source for the training-time dilation widths.
            state: video only, what the previous window hands over.
            band_kernel: override the configured uncertainty-band kernel (wider: the matte may
                depart further from the coarse prediction).

        Returns:
            :class:`maggie.types.MatteOutput` with ``(B, T, N, H, W)`` mattes.
        """
        masks = self.prepare_masks(image, masks)
        return self.decode(
            self.encode(image, masks),
            masks,
            band_alpha=band_alpha,
            generator=generator,
            state=state,
            band_kernel=band_kernel,
        )

    def prepare_masks(self, image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Check ``image (B, T, 3, H, W)`` and ``masks (B, T, N, H', W')``; return the masks as
        floats at ``H×W`` (nearest-resized if needed)."""
        sizes: dict[str, int] = {}
        check_shape("image", image, ("B", "T", 3, "H", "W"), sizes)
        check_shape("masks", masks, ("B", "T", "N", "Hm", "Wm"), sizes)
        b, t, n, h, w = sizes["B"], sizes["T"], sizes["N"], sizes["H"], sizes["W"]
        if h % 32 or w % 32:
            raise ValueError(f"image height and width must be multiples of 32 (the encoder's stride), got {h}×{w}")
        if not 1 <= n <= self.config.max_instances:
            raise ValueError(f"masks must hold 1 to {self.config.max_instances} instances, got N={n}")
        masks = masks.to(image.dtype)
        if masks.shape[-2:] != (h, w):
            masks = F.interpolate(masks.flatten(0, 1), size=(h, w), mode="nearest").view(b, t, n, h, w)
        return masks

    def encode(self, image: torch.Tensor, masks: torch.Tensor) -> FrameFeatures:
        """The per-frame stages (embedding, encoder, ASPP, trunk) for ``image (B, T, 3, H, W)`` and
        full-resolution ``masks (B, T, N, H, W)``. Frames are independent here, so a video
        caller can compute each frame once and reuse it in every window that contains it."""
        encoded = self.encoder(self.mask_embedding(image.flatten(0, 1), masks.flatten(0, 1)))
        fea1, fea2, fea3, fea4, fea5 = encoded.shortcuts
        return FrameFeatures(shortcuts=(fea1, fea2, fea3), coarse=self.trunk(self.aspp(encoded.bottleneck), fea5, fea4))

    def decode(
        self,
        frames: FrameFeatures,
        masks: torch.Tensor,
        *,
        band_alpha: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        state: TemporalState | None = None,
        band_kernel: int | None = None,
    ) -> MatteOutput:
        """The clip-level stages on per-frame features of ``B·T`` frames (see :meth:`forward`)."""
        b, t, n, h, w = masks.shape
        if band_alpha is not None:
            check_shape("band_alpha", band_alpha, (b, t, n, h, w), {})
        fea1, fea2, fea3 = frames.shortcuts
        feat8 = frames.coarse
        decoder = self.instance_decoder
        attended, tokens, attention, present = decoder.attend(
            feat8.view(b, t, *feat8.shape[1:]), masks, need_attention=self.training
        )
        kernels = decoder.kernels(tokens)
        features = decoder.head(attended.flatten(0, 1))  # F̄8, non-temporal
        hidden = None
        if self.temporal_gru is not None:
            temporal, hidden = self.temporal_gru(attended, None if state is None else state.hidden)
            coarse_features = decoder.head(temporal.flatten(0, 1))
        else:
            coarse_features = features
        logits8 = decoder.logits(kernels, coarse_features.view(b, t, *coarse_features.shape[1:]))[:, :, :n]
        alpha8 = coarse_alpha(logits8, (h, w))
        if self.training:
            # Padding slots (no mask in the clip) must not produce a matte, a band or a loss.
            alpha8 = alpha8 * present[:, None, :, None, None]

        video_inference = self.is_video and not self.training
        if video_inference:
            alpha8 = snap_coarse(alpha8, self.config.snap_threshold)
        band = uncertainty_band(
            alpha8 if band_alpha is None else band_alpha,
            band_kernel or self.config.band_kernel,
            randomize=self.training,
            generator=generator,
        )
        if video_inference:
            alpha8, band = crop_to_instance_boxes(alpha8, band, margin=self.config.box_margin)

        logits4, logits1 = self.refiner(features, kernels, (fea1, fea2, fea3), band, dense=self.dense_refinement)
        up4 = F.interpolate(logits4.flatten(0, 2).unsqueeze(1), scale_factor=4, mode="bilinear", align_corners=False)
        alpha4 = ((torch.tanh(up4) + 1) / 2).view(b, t, n, h, w)
        alpha1 = (torch.tanh(logits1) + 1) / 2
        alpha, region4, region1 = progressive_fuse(
            alpha8,
            alpha4,
            alpha1,
            band,
            kernels=self.config.fusion_kernels,
            randomize=self.training,
            generator=generator,
        )
        out = MatteOutput(
            alpha=alpha,
            alpha_os8=alpha8,
            alpha_os4=alpha4,
            alpha_os1=alpha1,
            uncertainty=band,
            region_os4=region4,
            region_os1=region1,
            logits_os8=logits8,
            attention=attention,
        )
        if self.temporal_sparsity is not None:
            fwd, bwd = self.temporal_sparsity(features.detach().view(b, t, *features.shape[1:]), (h, w))
            fwd_prob, bwd_prob = torch.sigmoid(fwd), torch.sigmoid(bwd)
            out.sparsity_forward, out.sparsity_backward = fwd, bwd
            out.alpha_decoder = alpha
            out.alpha_temporal_soft = soft_fusion(alpha, fwd_prob, bwd_prob)
            out.hidden = hidden
            if video_inference and t == 3:
                out.alpha = hard_fusion(alpha, fwd_prob, bwd_prob, None if state is None else state.prev_alpha)
        return out
