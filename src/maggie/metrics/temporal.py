"""Temporal coherence errors of video mattes: dtSSD and MESSDdt, and the flow MESSDdt needs.

Inputs are ``(F, N, H, W)`` stacks (F consecutive frames, N instances) in [0, 1]; every
function returns one value per instance, shape ``(N,)``. Flows are integer arrays
``(F-1, N, H, W, 2)``: ``flow[t, n, y, x] = (dx, dy)`` moves pixel ``(y, x)`` of frame ``t`` to
frame ``t + 1`` (Farneback on the ground truth, rounded half to even).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .common import REFERENCE, Convention, as_maps, check_convention, optional_module

__all__ = ["farneback_flow", "pair_flow", "dtssd", "messddt", "dtssd_pair_error", "messddt_pair_error"]

# pyr_scale, levels, winsize, iterations, poly_n, poly_sigma: the reference's Farneback settings.
_FARNEBACK = (0.5, 5, 10, 2, 7, 1.5)


def _gt_u8(gt: np.ndarray, convention: Convention) -> np.ndarray:
    if convention == REFERENCE:
        # float32 product truncated to uint8: the reference's conversion, equal to the PNG value.
        return (np.asarray(gt, dtype=np.float32) * np.float32(255)).astype(np.uint8)
    return np.clip(np.rint(np.asarray(gt, dtype=np.float64) * 255), 0, 255).astype(np.uint8)


def pair_flow(gt_from: np.ndarray, gt_to: np.ndarray, *, convention: Convention = REFERENCE) -> np.ndarray:
    """Integer Farneback flow of each instance from ``gt_from`` to ``gt_to`` (both ``(N, H, W)``).

    Returns int32 ``(N, H, W, 2)`` with ``[..., 0]`` = x (column) and ``[..., 1]`` = y (row)
    displacement. Needs OpenCV (``maggie[eval]``).
    """
    convention = check_convention(convention)
    cv2 = optional_module("cv2")
    src, dst = _gt_u8(gt_from, convention), _gt_u8(gt_to, convention)
    if src.shape != dst.shape or src.ndim != 3:
        raise InputError(f"flow needs two (N, H, W) stacks of one shape, got {src.shape} and {dst.shape}")
    flows = [
        cv2.calcOpticalFlowFarneback(a, b, None, *_FARNEBACK, cv2.OPTFLOW_FARNEBACK_GAUSSIAN)
        for a, b in zip(src, dst, strict=True)
    ]
    return np.rint(np.stack(flows)).astype(np.int32)


def farneback_flow(gt: np.ndarray, *, convention: Convention = REFERENCE) -> np.ndarray:
    """Flows between consecutive frames of a ``(T, N, H, W)`` ground truth: int32 ``(T-1, N, H, W, 2)``."""
    g = np.asarray(gt)
    if g.ndim != 4:
        raise InputError(f"expected a (T, N, H, W) ground truth, got shape {g.shape}")
    if len(g) < 2:
        return np.zeros((0, *g.shape[1:], 2), dtype=np.int32)
    return np.stack([pair_flow(g[t], g[t + 1], convention=convention) for t in range(len(g) - 1)])


def dtssd_pair_error(p0: np.ndarray, g0: np.ndarray, p1: np.ndarray, g1: np.ndarray) -> np.ndarray:
    """``Σ_pixels ((p1 - p0) - (g1 - g0))²`` per instance for one pair of ``(N, H, W)`` frames."""
    diff = (p1.astype(np.float64) - p0) - (g1.astype(np.float64) - g0)
    return np.square(diff).sum((-2, -1))


def dtssd(pred: np.ndarray, gt: np.ndarray, *, convention: Convention = REFERENCE) -> np.ndarray:
    """Temporal SSD of the frame-to-frame change, per instance, for ``F >= 2`` frames.

    reference: ``0.1 · sqrt(Σ_t Σ_pixels ((p_t - p_t-1) - (g_t - g_t-1))²)`` over all pairs of the call;
    conventional: ``1e2 · mean_t sqrt(mean_pixels (...)²)``.
    """
    convention = check_convention(convention)
    p, g = _frames(pred, gt, convention)
    per_pair = np.stack([dtssd_pair_error(p[t - 1], g[t - 1], p[t], g[t]) for t in range(1, len(p))])
    if convention == REFERENCE:
        return 0.1 * np.sqrt(per_pair.sum(0))
    hw = p.shape[-1] * p.shape[-2]
    return 1e2 * np.sqrt(per_pair / hw).mean(0)


def _take(maps: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``maps[n, rows[n, y, x], cols[n, y, x]]`` for ``(N, H, W)`` maps."""
    n, h, w = maps.shape
    index = (rows * w + cols).reshape(n, -1)
    return np.take_along_axis(maps.reshape(n, -1), index, axis=1).reshape(n, h, w)


def _flow_grid(flow: np.ndarray, transposed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns a ``(N, H, W, 2)`` flow points to, clamped to the image.

    ``transposed`` reproduces the reference's swapped meshgrid: the row comes from ``x + dx`` and
    the column from ``y + dy``, each clamped against the other axis.
    """
    _, h, w, _ = flow.shape
    ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    moved_x, moved_y = xs + flow[..., 0], ys + flow[..., 1]
    if transposed:
        return np.clip(moved_x, 0, h - 1), np.clip(moved_y, 0, w - 1)
    return np.clip(moved_y, 0, h - 1), np.clip(moved_x, 0, w - 1)


def messddt_pair_error(e0: np.ndarray, e1: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Conventional ``mean_pixels |E_0(y, x) - E_1(y + dy, x + dx)|`` per instance (one frame pair)."""
    rows, cols = _flow_grid(flow, transposed=False)
    return np.abs(e0 - _take(e1, rows, cols)).mean((-2, -1))


def messddt(
    pred: np.ndarray, gt: np.ndarray, flow: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Flow-warped temporal change of the squared error ``E = (p - g)²``, per instance, ``F >= 2``.

    reference: ``1e4 · Σ_t Σ_pixels |E_t - Ẽ_t| / ((F-1)·(H·W + 1))`` where ``Ẽ_t(y, x)`` reads
    ``E_1`` (always the call's *second* frame) at the transposed, cross-clamped position (the two
    indexing bugs of the reference); conventional: ``1e4 · mean_t mean_pixels |E_t(y, x) -
    E_t+1(y + dy, x + dx)|`` with clamping to the image.

    ``flow``: int ``(F-1, N, H, W, 2)``; computed from ``gt`` with Farneback (OpenCV) when ``None``.
    """
    convention = check_convention(convention)
    p, g = _frames(pred, gt, convention)
    if flow is None:
        flow = farneback_flow(g, convention=convention)
    flow = np.asarray(flow)
    if flow.shape != (len(p) - 1, *p.shape[1:], 2):
        raise InputError(f"flow shape {flow.shape} does not fit {p.shape}: expected {(len(p) - 1, *p.shape[1:], 2)}")
    err = np.square(p.astype(np.float64) - g)
    if convention == REFERENCE:
        total = np.zeros(p.shape[1], dtype=np.float64)
        for t in range(len(p) - 1):
            rows, cols = _flow_grid(flow[t], transposed=True)
            total += np.abs(err[t] - _take(err[1], rows, cols)).sum((-2, -1))
        hw = p.shape[-1] * p.shape[-2]
        return 1e4 * total / ((len(p) - 1) * (hw + 1))
    pairs = [messddt_pair_error(err[t], err[t + 1], flow[t]) for t in range(len(p) - 1)]
    return 1e4 * np.mean(pairs, axis=0)


def _frames(pred: np.ndarray, gt: np.ndarray, convention: Convention) -> tuple[np.ndarray, np.ndarray]:
    p, g = as_maps(pred, gt, convention, ndim=4)
    if len(p) < 2:
        raise InputError(f"temporal metrics need at least two frames, got shape {p.shape}")
    return p, g
