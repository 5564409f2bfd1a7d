"""Shape glossary and the model's input/output types.

Shapes are written with these letters everywhere in maggie:

* ``B`` batch (clips), ``T`` frames per clip (1 for images), ``N`` instances (people) per frame,
* ``H×W`` the network input size (a multiple of 32, the encoder's stride; the inference pipelines
  pad to 64 as the reference evaluation does), ``h×w = H/8×W/8`` the coarse grid,
* ``C`` channels.

Image = video with ``T = 1``: every model entry point takes ``(B, T, ...)`` tensors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

__all__ = ["check_shape", "FrameFeatures", "TemporalState", "MatteOutput"]


def check_shape(name: str, tensor: torch.Tensor, spec: Sequence[str | int], sizes: dict[str, int]) -> None:
    """Check ``tensor`` against a named shape ``spec`` such as ``("B", "T", 3, "H", "W")``.

    Letters are bound in ``sizes`` on first use and must agree afterwards; integers must match
    exactly. Raises ``ValueError`` with a message naming the argument and both shapes.
    """
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    expected = "(" + ", ".join(str(s) for s in spec) + ")"
    if len(shape) != len(spec):
        raise ValueError(f"{name} must have shape {expected}, got {shape}")
    for dim, (want, got) in enumerate(zip(spec, shape, strict=True)):
        if isinstance(want, int):
            if got != want:
                raise ValueError(f"{name} must have shape {expected}, got {shape} (dim {dim} should be {want})")
        elif want in sizes and sizes[want] != got:
            raise ValueError(
                f"{name} must have shape {expected} with {want}={sizes[want]}, got {shape} (dim {dim} is {got})"
            )
        else:
            sizes[want] = got


@dataclass
class FrameFeatures:
    """Per-frame encoder outputs of ``F = B·T`` frames, the input of the clip-level stages.

    Attributes:
        shortcuts: encoder features at 1, 1/2 and 1/4 ``(F, C, H/s, W/s)`` (refinement inputs).
        coarse: the decoder trunk's 1/8 feature ``(F, C, h, w)``.
    """

    shortcuts: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    coarse: torch.Tensor

    @classmethod
    def concat(cls, parts: list[FrameFeatures]) -> FrameFeatures:
        """Join features of consecutive frames along the frame axis."""
        shortcuts = tuple(torch.cat([p.shortcuts[i] for p in parts]) for i in range(3))
        return cls(shortcuts=shortcuts, coarse=torch.cat([p.coarse for p in parts]))


@dataclass
class TemporalState:
    """What the video model takes over from the previous window (passed in explicitly).

    Attributes:
        hidden: Conv-GRU hidden state to start the window from ``(B, C, h, w)``, or None for
            zeros (the released evaluation always starts from zeros).
        prev_alpha: fused alpha of the frame before the window's middle frame ``(B, N, H, W)``,
            used by the hard temporal fusion (the reference's ``prev_pred``), or None.
    """

    hidden: torch.Tensor | None = None
    prev_alpha: torch.Tensor | None = None


@dataclass
class MatteOutput:
    """Everything one forward pass produces. Alphas are ``(B, T, N, H, W)`` in [0, 1].

    Attributes:
        alpha: final matte after progressive fusion (and, for video, temporal fusion).
        alpha_os8: coarse matte from the instance matte decoder, upsampled to ``H×W``.
        alpha_os4: 1/4-scale sparse refinement matte (0 outside the uncertainty band).
        alpha_os1: full-resolution sparse refinement matte (0 outside the uncertainty band).
        uncertainty: bool band ``U`` that the sparse refinement is computed on.
        region_os4, region_os1: bool regions where ``alpha_os4`` / ``alpha_os1`` were fused in
            (``R4``, ``R1``); the training losses weight the 1/4 and 1/1 outputs with them.
        logits_os8: coarse logits ``(B, T, N, h, w)``.
        attention: per cross-attention (tokens → features) the head-averaged attention maps
            ``(B, N_slots, T·h·w)``; filled in training mode only (for the attention loss).
        sparsity_forward, sparsity_backward: video only, temporal-sparsity logits
            ``(B, T, 1, H, W)`` for the pairs (t-1 → t) and (t → t-1); frame 0 (forward) and
            frame T-1 (backward) are zero placeholders.
        alpha_decoder: video only, the progressive-fusion alpha before the temporal fusion.
        alpha_temporal_soft: video only, the soft bidirectional fusion (for inspection).
        hidden: video only, the forward Conv-GRU states of every frame ``(B, T, C, h, w)``, from
            which the caller builds the next window's :class:`TemporalState`.
    """

    alpha: torch.Tensor
    alpha_os8: torch.Tensor
    alpha_os4: torch.Tensor
    alpha_os1: torch.Tensor
    uncertainty: torch.Tensor
    region_os4: torch.Tensor
    region_os1: torch.Tensor
    logits_os8: torch.Tensor
    attention: list[torch.Tensor] = field(default_factory=list)
    sparsity_forward: torch.Tensor | None = None
    sparsity_backward: torch.Tensor | None = None
    alpha_decoder: torch.Tensor | None = None
    alpha_temporal_soft: torch.Tensor | None = None
    hidden: torch.Tensor | None = None
