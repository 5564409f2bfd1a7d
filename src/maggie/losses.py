"""Training losses for MaGGIe, as pure functions outside the model.

Every matte tensor is ``(B, T, N, H, W)`` (see :mod:`maggie.types`); images are clips with
``T = 1``. Weight maps have the same shape (or broadcast to it). The functions follow what the
reference implementation computes (``reference-model.md`` §5.1), including its quirks, which
are kept because the published loss weights were tuned with them:

* each scale's loss is normalised by the sum of its weight map, over the whole batch;
* the Laplacian loss is 3× the single-channel value (``reference_scale=True``);
* the 1/8 re-weighting ``W8`` adds 1 where the GT **or** the coarse alpha is uncertain.

:class:`MattingLoss` combines the terms with the reference weights and returns a dict of named
terms plus ``"total"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F

from .models.uncertainty import HIGH, LOW, uncertainty_band
from .types import MatteOutput

__all__ = [
    "LossConfig",
    "MattingLoss",
    "weighted_l1",
    "laplacian_loss",
    "gradient_loss",
    "attention_loss",
    "attention_target",
    "os8_weight",
    "dtssd_loss",
    "temporal_sparsity_loss",
    "scale_mix",
    "choose_refinement_weights",
    "valid_instances",
]

_ScaleLoss = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
_SCALES = ("os1", "os4", "os8")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights and switches. Defaults are the reference image recipe (§1, §5.1).

    Attributes:
        alpha: weight of the L1 reconstruction term.
        laplacian: weight of the Laplacian-pyramid term.
        gradient: weight of the Sobel gradient term.
        attention: weight of the token→feature attention term.
        dtssd: weight of the temporal-derivative term (0 for images, 1 for the video recipe).
        temporal_sparsity: weight of the temporal-sparsity term (video models only).
        scale_weights: weights of the (os1, os4, os8) outputs in every per-scale term.
        os8_reweight: ``"or"`` (reference), ``"and"`` (paper Eq. 11) or ``"none"``.
        laplacian_reference_scale: keep the reference's 3× Laplacian factor.
        region_weight_prob: probability of weighting os4/os1 with ``R4``/``R1`` rather than ``U``.
        gt_region_kernels: dilation kernels of the os4/os1 regions when the band came from GT.
    """

    alpha: float = 1.0
    laplacian: float = 0.05
    gradient: float = 0.05
    attention: float = 5.0
    dtssd: float = 0.0
    temporal_sparsity: float = 1.0
    scale_weights: tuple[float, float, float] = (2.0, 1.0, 1.0)
    os8_reweight: Literal["or", "and", "none"] = "or"
    laplacian_reference_scale: bool = True
    region_weight_prob: float = 0.75
    gt_region_kernels: tuple[int, int] = (30, 15)


def _as_planes(x: torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` → ``(M, 1, H, W)`` for single-channel convolutions."""
    return x.reshape(-1, 1, *x.shape[-2:])


def weighted_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, eps: float = 1e-8) -> torch.Tensor:
    """``Σ|w·p − w·g| / (Σw + eps)`` over all elements.

    Args:
        pred, target: ``(B, T, N, H, W)`` (any shape works).
        weight: non-negative weights broadcastable to ``pred``.
    """
    weight = weight.expand_as(pred)
    return (pred * weight - target * weight).abs().sum() / (weight.sum() + eps)


def _binomial_kernel(x: torch.Tensor) -> torch.Tensor:
    taps = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device)
    return (torch.outer(taps, taps) / 256.0).view(1, 1, 5, 5)


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel)


def _laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels of ``x`` ``(M, 1, H, W)``; level ``i`` has size ``H/2^i``."""
    kernel = _binomial_kernel(x)
    pyramid = []
    current = x
    for _ in range(levels):
        down = _blur(current, kernel)[..., ::2, ::2]
        # Expand by zero insertion; the 4× kernel restores the mean lost to the zeros.
        up = down.new_zeros(*down.shape[:2], 2 * down.shape[-2], 2 * down.shape[-1])
        up[..., ::2, ::2] = down
        up = _blur(up, 4.0 * kernel)[..., : current.shape[-2], : current.shape[-1]]
        pyramid.append(current - up)
        current = down
    return pyramid


def laplacian_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor,
    *,
    levels: int = 3,
    reference_scale: bool = True,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Weighted L1 between Laplacian pyramids, summed over levels.

    Level ``i`` is weighted by ``weight`` sub-sampled by ``2^i`` and normalised by its sum. The
    pyramid uses the 5×5 binomial kernel (/256) with reflect padding 2, stride-2 decimation and
    zero-insertion expansion. The reference applies a 3-channel kernel to 1-channel mattes, which
    makes every level 3 identical channels: ``reference_scale=True`` keeps that 3× factor, since
    the published weight 0.05 was tuned with it. Each pyramid level needs a side of at least 3.

    Args:
        pred, target: ``(B, T, N, H, W)``.
        weight: broadcastable to ``pred``.
    """
    weight = _as_planes(weight.expand_as(pred))
    pred_pyr = _laplacian_pyramid(_as_planes(pred), levels)
    target_pyr = _laplacian_pyramid(_as_planes(target), levels)
    total = pred.new_zeros(())
    for level, (p, g) in enumerate(zip(pred_pyr, target_pyr, strict=True)):
        w = weight[..., :: 2**level, :: 2**level]
        total = total + ((p - g).abs() * w).sum() / (w.sum() + eps)
    return 3.0 * total if reference_scale else total


def _sobel_magnitude(x: torch.Tensor, eps: float) -> torch.Tensor:
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8.0
    kernels = torch.stack([kx, kx.t()]).unsqueeze(1)
    grad = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernels)
    return torch.sqrt(grad.square().sum(1, keepdim=True) + eps)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """``Σ|‖∇(w·p)‖ − ‖∇(w·g)‖| / (Σw + eps)`` with Sobel/8 and replicate padding.

    The magnitude is ``sqrt(gx² + gy² + eps)``, so flat regions contribute exactly zero.

    Args:
        pred, target: ``(B, T, N, H, W)``.
        weight: broadcastable to ``pred``.
    """
    weight = weight.expand_as(pred)
    mag_p = _sobel_magnitude(_as_planes(pred * weight), eps)
    mag_g = _sobel_magnitude(_as_planes(target * weight), eps)
    return (mag_p - mag_g).abs().sum() / (weight.sum() + eps)


def attention_target(alpha: torch.Tensor, *, stride: int = 8) -> torch.Tensor:
    """Where each instance is present on the coarse grid: ``max_pool_stride(alpha > 0)``.

    Args:
        alpha: ground truth ``(B, T, N, H, W)``.

    Returns:
        bool ``(B, T, N, H/stride, W/stride)``.
    """
    planes = (_as_planes(alpha) > 0).to(alpha.dtype)
    pooled = F.max_pool2d(planes, stride) > 0
    return pooled.view(*alpha.shape[:3], *pooled.shape[-2:])


def attention_loss(attention: Sequence[torch.Tensor], target: torch.Tensor) -> torch.Tensor:
    """Attention-mass loss ``L_att`` (paper Eq. 10, reference normalisation).

    For every token ``i`` whose instance is present, the loss is ``1 − Σ_s Ã_i(s)·a_i(s)``:
    one minus the attention mass on the instance's own cells. Absent instances contribute 0.
    Each map's sum over ``(b, i)`` is divided by ``B·T``, and the maps are averaged.

    Args:
        attention: per cross-attention, head-averaged maps ``(B, S, T·h·w)`` with ``S ≥ N``: the
            model returns one row per token slot (``max_instances``), also when the batch has
            fewer instance slots; rows beyond ``N`` belong to no instance and are ignored. Keys
            are ordered pixel-major, frame-minor (index ``(y·w + x)·T + t``), as the model
            flattens them.
        target: bool ``(B, T, N, h, w)`` from :func:`attention_target`.
    """
    if not attention:
        raise ValueError("attention_loss needs at least one attention map (the model fills them in training mode)")
    b, t, n, h, w = target.shape
    mask = target.permute(0, 2, 3, 4, 1).reshape(b, n, h * w * t)
    present = mask.any(-1)
    losses = []
    for index, att in enumerate(attention):
        if att.dim() != 3 or att.shape[0] != b or att.shape[1] < n or att.shape[2] != mask.shape[2]:
            raise ValueError(f"attention[{index}] has shape {tuple(att.shape)}, expected ({b}, ≥{n}, {mask.shape[2]})")
        mass = (att[:, :n].float() * mask).sum(-1)
        losses.append((present.float() - mass).sum() / (b * t))
    return torch.stack(losses).mean()


def valid_instances(reference: torch.Tensor) -> torch.Tensor:
    """``(B, T, N, 1, 1)`` float: 1 where the ``(frame, instance)`` slice of ``reference`` is non-empty."""
    return (reference.flatten(-2).sum(-1) > 0).to(torch.float32)[..., None, None]


def os8_weight(alpha: torch.Tensor, alpha_os8: torch.Tensor, *, mode: str = "or") -> torch.Tensor:
    """The 1/8-scale weight ``W8`` (paper Eq. 11, reference variant by default).

    ``W8`` is 1 on every pixel of a present ``(frame, instance)`` (GT not all zero), plus 1 where
    the GT is uncertain (``1/255 ≤ g ≤ 254/255``) OR (``mode="or"``, reference) / AND
    (``mode="and"``, paper with γ = 2) the coarse alpha is uncertain. ``mode="none"`` gives
    the presence mask only.

    Args:
        alpha: ground truth ``(B, T, N, H, W)``.
        alpha_os8: coarse prediction ``(B, T, N, H, W)`` (only compared, never differentiated).

    Returns:
        float ``(B, T, N, H, W)`` with values in {0, 1, 2}.
    """
    present = valid_instances(alpha).to(alpha.dtype).expand_as(alpha)
    if mode == "none":
        return present
    # Inclusive bounds here, unlike the band U (strict), as in the reference.
    gt_band = (alpha >= LOW) & (alpha <= HIGH)
    pred_band = (alpha_os8 >= LOW) & (alpha_os8 <= HIGH)
    if mode == "or":
        extra = gt_band | pred_band
    elif mode == "and":
        extra = gt_band & pred_band
    else:
        raise ValueError(f"os8 re-weighting mode must be 'or', 'and' or 'none', got {mode!r}")
    return present + extra.to(alpha.dtype)


def dtssd_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, *, eps: float = 1e-6) -> torch.Tensor:
    """Weighted squared error of temporal derivatives.

    ``Σ_{t≥1} w_t·((p_t − p_{t−1}) − (g_t − g_{t−1}))² / Σ_{t≥1}(w_t + eps)``, with the
    reference's ``eps`` added per element. Returns 0 when ``T < 2`` (no frame pair).

    Args:
        pred, target: ``(B, T, ...)``.
        weight: broadcastable to ``pred``.
    """
    if pred.shape[1] < 2:
        return pred.new_zeros(())
    weight = weight.expand_as(pred)[:, 1:]
    diff = (pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])
    return (diff.square() * weight).sum() / (weight + eps).sum()


def temporal_sparsity_loss(
    forward_logits: torch.Tensor, backward_logits: torch.Tensor, sparsity: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Loss of the temporal-sparsity predictor (reference form of paper §3.2).

    ``S_t`` (``t ≥ 1``) marks pixels that change between frames ``t−1`` and ``t``. The forward
    prediction for that pair sits at frame ``t``, the backward one at frame ``t−1``. The loss is
    ``0.25·[BCE(fwd, S) + BCE(bwd, S) + dtSSD(σ(fwd), S) + dtSSD(σ(bwd), S)]``, where the
    dtSSD terms (unit weight) compare consecutive pair maps and so need ``T ≥ 3``.

    Args:
        forward_logits, backward_logits: ``(B, T, 1, H, W)`` logits; frame 0 of the forward and
            frame ``T−1`` of the backward map are placeholders and ignored.
        sparsity: ``(B, T, 1, H, W)`` in {0, 1}.

    Returns:
        dict with ``"bce"``, ``"dtssd"`` and ``"total"``.
    """
    target = sparsity[:, 1:].float()
    fwd = forward_logits[:, 1:].float()
    bwd = backward_logits[:, :-1].float()
    bce = F.binary_cross_entropy_with_logits(fwd, target) + F.binary_cross_entropy_with_logits(bwd, target)
    ones = torch.ones_like(target)
    dtssd = dtssd_loss(fwd.sigmoid(), target, ones) + dtssd_loss(bwd.sigmoid(), target, ones)
    return {"bce": bce, "dtssd": dtssd, "total": 0.25 * (bce + dtssd)}


def scale_mix(
    os1: torch.Tensor, os4: torch.Tensor, os8: torch.Tensor, weights: Sequence[float] = (2.0, 1.0, 1.0)
) -> torch.Tensor:
    """Combine per-scale losses: ``2·os1 + os4 + os8`` by default."""
    return weights[0] * os1 + weights[1] * os4 + weights[2] * os8


def choose_refinement_weights(
    output: MatteOutput,
    *,
    generator: torch.Generator | None,
    prob: float = 0.75,
    band_alpha: torch.Tensor | None = None,
    gt_region_kernels: tuple[int, int] = (30, 15),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the os4 and os1 losses for one batch.

    With probability ``prob`` (one draw from ``generator`` per batch) the refinement regions are
    used, otherwise the whole uncertainty band ``U`` for both. The regions are the model's PRM
    regions ``R4``, ``R1``; when the band was derived from the ground truth (``band_alpha``
    given), they are instead the GT transition dilated with random widths below
    ``gt_region_kernels`` (30 and 15), intersected with ``U``, as in the reference.

    Returns:
        float ``(w4, w1)``, each ``(B, T, N, H, W)``.
    """
    band = output.uncertainty
    if not bool(torch.rand((), generator=generator) < prob):
        return band.float(), band.float()
    if band_alpha is None:
        return output.region_os4.float(), output.region_os1.float()
    k4, k1 = gt_region_kernels
    w4 = uncertainty_band(band_alpha, k4, randomize=True, generator=generator) & band
    w1 = uncertainty_band(band_alpha, k1, randomize=True, generator=generator) & band
    return w4.float(), w1.float()


class MattingLoss:
    """All MaGGIe training terms, weighted. Call it on a model output and a collated batch.

    The batch needs ``alpha`` and ``transition`` ``(B, T, N, H, W)``, and ``sparsity``
    ``(B, T, 1, H, W)`` when the output carries temporal-sparsity logits. As in the reference,
    predictions of ``(frame, instance)`` slices whose transition GT is empty (padding slots)
    are zeroed before the loss. Terms are computed in float32 even under autocast.
    """

    def __init__(self, *, config: LossConfig | None = None) -> None:
        self.config = config or LossConfig()

    def __call__(
        self,
        output: MatteOutput,
        batch: Mapping[str, torch.Tensor],
        *,
        generator: torch.Generator | None = None,
        band_from_gt: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Return the named terms (each a scalar tensor) and their weighted ``"total"``.

        ``band_from_gt`` says that the forward pass derived its band from ``batch["alpha"]``
        (the curriculum's choice); it changes the os4/os1 weights (see
        :func:`choose_refinement_weights`).
        """
        cfg = self.config
        alpha = batch["alpha"].float()
        valid = valid_instances(batch["transition"]).to(alpha.device)
        preds = {
            "os1": output.alpha_os1.float() * valid,
            "os4": output.alpha_os4.float() * valid,
            "os8": output.alpha_os8.float() * valid,
        }
        w4, w1 = choose_refinement_weights(
            output,
            generator=generator,
            prob=cfg.region_weight_prob,
            band_alpha=alpha if band_from_gt else None,
            gt_region_kernels=cfg.gt_region_kernels,
        )
        weights = {
            "os1": w1,
            "os4": w4,
            "os8": os8_weight(alpha, preds["os8"].detach(), mode=cfg.os8_reweight),
        }

        per_scale: dict[str, tuple[float, _ScaleLoss]] = {
            "rec": (cfg.alpha, weighted_l1),
            "lap": (cfg.laplacian, partial(laplacian_loss, reference_scale=cfg.laplacian_reference_scale)),
            "grad": (cfg.gradient, gradient_loss),
            "dtssd": (cfg.dtssd if alpha.shape[1] > 1 else 0.0, dtssd_loss),
        }
        terms: dict[str, torch.Tensor] = {}
        weighted: list[torch.Tensor] = []
        for name, (weight, fn) in per_scale.items():
            if weight <= 0:
                continue
            for scale in _SCALES:
                terms[f"{name}_{scale}"] = fn(preds[scale], alpha, weights[scale])
            terms[name] = scale_mix(*(terms[f"{name}_{scale}"] for scale in _SCALES), cfg.scale_weights)
            weighted.append(weight * terms[name])
        if cfg.attention > 0:
            terms["att"] = attention_loss(output.attention, attention_target(alpha))
            weighted.append(cfg.attention * terms["att"])
        if cfg.temporal_sparsity > 0 and output.sparsity_forward is not None:
            if "sparsity" not in batch or output.sparsity_backward is None:
                raise KeyError("the temporal-sparsity loss needs batch['sparsity'] and both sparsity logits")
            sparse = temporal_sparsity_loss(output.sparsity_forward, output.sparsity_backward, batch["sparsity"])
            terms["temp_bce"], terms["temp_dtssd"], terms["temp"] = (
                sparse["bce"],
                sparse["dtssd"],
                sparse["total"],
            )
            weighted.append(cfg.temporal_sparsity * terms["temp"])
        terms["total"] = torch.stack(weighted).sum() if weighted else alpha.new_zeros(())
        return terms
