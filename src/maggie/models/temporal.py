"""Stage 6 (video only): temporal feature propagation and temporal fusion (paper §3.2).

* :class:`ConvGRU` — bidirectional Conv-GRU over the 1/8 attention features. Forward over all
  frames from the given hidden state; backward over frames ``T-2 … 0`` with the same weights,
  starting from the last forward state. Frames ``0 … T-2`` get the mean of both directions,
  the last frame the forward state. Its output feeds the coarse matte only; the refinement
  and the sparsity predictor use the non-temporal features.
* :class:`SparsityPredictor` — from the (detached) features of two consecutive frames,
  logits of where the matte changes. Forward maps use the pair ``(t-1, t)``, backward maps the
  pair ``(t+1, t)`` in that order; they are different predictions.
* :func:`soft_fusion` — the differentiable bidirectional propagation (for inspection).
* :func:`hard_fusion` — the inference-time fusion of a 3-frame window ``(t-1, t, t+1)``
  that rewrites frames ``t`` and ``t+1`` (paper Eq. 14 with a one-step backward term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..ops.spectral_norm import chained_power_iterations
from .layers import sn_conv1x1, sn_conv3x3

__all__ = ["ConvGRU", "SparsityPredictor", "soft_fusion", "hard_fusion"]


class ConvGRU(nn.Module):
    """Convolutional GRU cell with 3×3 gates, applied bidirectionally.

    Args:
        channels: feature and hidden channels.
    """

    def __init__(self, *, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.ih = nn.Sequential(nn.Conv2d(2 * channels, 2 * channels, 3, padding=1), nn.Sigmoid())
        self.hh = nn.Sequential(nn.Conv2d(2 * channels, channels, 3, padding=1), nn.Tanh())

    def step(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        r, z = self.ih(torch.cat((x, h), dim=1)).split(self.channels, dim=1)
        c = self.hh(torch.cat((x, r * h), dim=1))
        return (1 - z) * h + z * c

    def forward(self, x: torch.Tensor, hidden: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x (B, T, C, h, w)``, initial hidden ``(B, C, h, w)`` or None (zeros).

        Returns:
            the bidirectional output ``(B, T, C, h, w)`` and the forward states ``(B, T, C, h, w)``.
        """
        t = x.shape[1]
        h = torch.zeros_like(x[:, 0]) if hidden is None else hidden
        forward_states = []
        for i in range(t):
            h = self.step(x[:, i], h)
            forward_states.append(h)
        outputs = list(forward_states)
        for i in range(t - 2, -1, -1):
            h = self.step(x[:, i], h)
            outputs[i] = (forward_states[i] + h) / 2
        return torch.stack(outputs, dim=1), torch.stack(forward_states, dim=1)


class SparsityPredictor(nn.Module):
    """Temporal-sparsity logits from pairs of consecutive frame features.

    Args:
        feature_dim: channels of F̄8 (the input is a pair, ``2·feature_dim`` channels).
    """

    def __init__(self, *, feature_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            sn_conv1x1(2 * feature_dim, feature_dim),
            nn.BatchNorm2d(feature_dim),
            nn.ReLU(inplace=True),
            sn_conv3x3(feature_dim, feature_dim // 2),
            nn.BatchNorm2d(feature_dim // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(feature_dim // 2, 1, 3, padding=1, bias=False),
        )

    def forward(self, features: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Features ``(B, T, D, h, w)`` → forward and backward logits ``(B, T, 1, H, W)``.

        Forward frame 0 and backward frame ``T-1`` have no pair and hold zero logits.
        """
        b, t = features.shape[:2]
        zeros = features.new_zeros(b, 1, *size)
        forward = [zeros]
        backward: list[torch.Tensor] = []
        # One call per pair, forward pairs first, then backward pairs from the end: the
        # spectral-norm power iteration advances with every call, as in the checkpoints' code.
        with chained_power_iterations(self.layers):
            for i in range(1, t):
                forward.append(self._predict(features[:, i - 1], features[:, i], size))
            for i in range(t - 1, 0, -1):
                backward.insert(0, self._predict(features[:, i], features[:, i - 1], size))
        return torch.stack(forward, dim=1), torch.stack(backward + [zeros], dim=1)

    def _predict(self, first: torch.Tensor, second: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        logits = self.layers(torch.cat((first, second), dim=1))
        return F.interpolate(logits, size=size, mode="bilinear", align_corners=False)


def soft_fusion(alpha: torch.Tensor, forward_prob: torch.Tensor, backward_prob: torch.Tensor) -> torch.Tensor:
    """Bidirectional soft propagation of ``alpha (B, T, N, H, W)`` with change probabilities
    ``(B, T, 1, H, W)``: ``f_t = f_{t-1}(1-p_t) + A_t p_t`` forward, the mirror backward; the
    first frame takes the forward chain, the last the backward one, the others the mean."""
    t = alpha.shape[1]
    fwd = [alpha[:, 0]]
    for i in range(1, t):
        fwd.append(fwd[-1] * (1 - forward_prob[:, i]) + alpha[:, i] * forward_prob[:, i])
    bwd = [alpha[:, t - 1]]
    for i in range(t - 2, -1, -1):
        bwd.insert(0, bwd[0] * (1 - backward_prob[:, i]) + alpha[:, i] * backward_prob[:, i])
    frames = [fwd[0]] + [(fwd[i] + bwd[i]) / 2 for i in range(1, t - 1)] + ([bwd[-1]] if t > 1 else [])
    return torch.stack(frames, dim=1)


def hard_fusion(
    alpha: torch.Tensor,
    forward_prob: torch.Tensor,
    backward_prob: torch.Tensor,
    previous: torch.Tensor | None,
) -> torch.Tensor:
    """Fuse a 3-frame window ``alpha (B, 3, N, H, W)`` where the sparsity says "unchanged".

    ``previous`` is the fused alpha of the frame before the middle one ``(B, N, H, W)`` from the
    preceding window (None: use frame 0). Where the forward and backward propagations of the
    middle frame disagree at all, the middle frame keeps its own prediction. Frame 2 then takes
    the fused middle frame where the forward map says it did not change.
    """
    changed_f = forward_prob > 0.5
    changed_b = backward_prob > 0.5
    prev = alpha[:, 0] if previous is None else previous
    cur, nxt = alpha[:, 1], alpha[:, 2]
    from_prev = torch.where(changed_f[:, 1], cur, prev)
    from_next = torch.where(changed_b[:, 1], cur, nxt)
    middle = torch.where((from_prev - from_next).abs() > 0, cur, from_prev)
    last = torch.where(changed_f[:, 2], nxt, middle)
    return torch.stack((alpha[:, 0], middle, last), dim=1)
