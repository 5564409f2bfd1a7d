"""Training targets computed from the alphas: instance slots, transition band, temporal sparsity.

Shapes: ``T`` frames, ``n`` real instances, ``N`` instance slots (10), ``H×W`` crop size.

The reference builds both bands by applying a small elliptical kernel (size 2–4) 3–14 times
with OpenCV. Iterating a kernel ``n`` times reaches about ``n·(k−1)/2`` pixels on each side of
an edge, so here a band is "within chessboard distance ``radius`` of an edge", computed with one
distance transform per slice instead of up to 28 morphology passes per slice (the reference's
even kernels are also lopsided; a distance band is the symmetric equivalent).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "random_slots",
    "scatter_to_slots",
    "alpha_edges",
    "within_distance",
    "transition_target",
    "sparsity_target",
]


def random_slots(n: int, num_slots: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct slot indices out of ``num_slots``, in random order.

    The model identifies an instance by its slot (its ID embedding), so training on random
    slots keeps it from tying an ID to a position or size rank.
    """
    if n > num_slots:
        raise ValueError(f"{n} instances do not fit into {num_slots} slots")
    return rng.permutation(num_slots)[:n]


def scatter_to_slots(x: torch.Tensor, slots: np.ndarray | list[int], num_slots: int) -> torch.Tensor:
    """Place instance ``k`` of ``x (T, n, H, W)`` at slot ``slots[k]`` of a zero ``(T, N, H, W)``."""
    t, n, h, w = x.shape
    if len(slots) != n:
        raise ValueError(f"got {len(slots)} slots for {n} instances")
    out = x.new_zeros((t, num_slots, h, w))
    if n:
        out[:, torch.as_tensor(np.asarray(slots), dtype=torch.long)] = x
    return out


def alpha_edges(alpha: torch.Tensor) -> torch.Tensor:
    """Bool ``(..., H, W)``: pixels whose 8-bit alpha differs from one of their 4 neighbours."""
    q = (alpha * 255).round()
    edges = torch.zeros(alpha.shape, dtype=torch.bool)
    dx = q[..., :, 1:] != q[..., :, :-1]
    dy = q[..., 1:, :] != q[..., :-1, :]
    edges[..., :, 1:] |= dx
    edges[..., :, :-1] |= dx
    edges[..., 1:, :] |= dy
    edges[..., :-1, :] |= dy
    return edges


def within_distance(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Bool ``(..., H, W)``: pixels within chessboard distance ``radius`` of a set pixel, i.e.
    ``mask`` dilated by a ``(2·radius+1)²`` square."""
    from scipy import ndimage

    h, w = mask.shape[-2:]
    flat = mask.reshape(-1, h, w).numpy()
    out = np.zeros(flat.shape, dtype=bool)
    for i, m in enumerate(flat):
        if m.any():
            out[i] = ndimage.distance_transform_cdt(~m, metric="chessboard") <= radius
    return torch.from_numpy(out).reshape(mask.shape)


def transition_target(alpha: torch.Tensor, *, radius: int) -> torch.Tensor:
    """Transition band ``(T, N, H, W)`` in {0, 1}: pixels within ``radius`` (chessboard) of an
    alpha edge, where a wide enough neighbourhood holds more than one alpha value (the
    reference's ``dilate(α) − erode(α) > 0``)."""
    return within_distance(alpha_edges(alpha), radius).to(alpha.dtype)


def sparsity_target(alpha: torch.Tensor, *, threshold: float, radius: int) -> torch.Tensor:
    """Temporal-sparsity target ``(T, 1, H, W)`` in {0, 1} from alphas ``(T, N, H, W)``.

    Frame ``t >= 1`` marks pixels where any instance's alpha changed by more than ``threshold``
    since frame ``t-1``, grown by ``radius`` (chessboard); frame 0 has no predecessor and is all
    ones (everything must be predicted).
    """
    t, _, h, w = alpha.shape
    out = torch.ones((t, 1, h, w), dtype=alpha.dtype)
    if t > 1:
        changed = ((alpha[1:] - alpha[:-1]).abs() > threshold).any(1, keepdim=True)
        out[1:] = within_distance(changed, radius).to(alpha.dtype)
    return out
