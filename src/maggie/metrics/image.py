"""Per-slice matting errors: MAD, MSE, SAD, Grad and Conn.

Every function takes a prediction and a ground truth of shape ``(..., H, W)`` with values in
[0, 1] (one ``H×W`` *slice* per leading index, e.g. ``(N, H, W)`` for the instances of an image)
and returns one value per slice, shape ``pred.shape[:-2]``. ``region`` (bool, same shape)
restricts the sum or mean to some pixels, e.g. ``trimap == 1``; gradients and connected
components are always computed on the whole slice.

The ``convention`` argument picks the reference numbers or the conventional ones
(see :mod:`maggie.metrics.common`); the formulas are spelled out in each docstring.
"""

from __future__ import annotations

import math

import numpy as np

from .common import REFERENCE, Convention, as_maps, as_region, check_convention, optional_module

__all__ = ["mad", "mse", "sad", "grad", "conn", "gradient_kernel", "grad_error_map", "conn_error_map"]

_GRAD_SIGMA = 1.4


def diff(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``p - g`` in float64: maps are exact in float64, only decisions keep the convention's dtype."""
    return p.astype(np.float64) - g


def region_sum(err: np.ndarray, region: np.ndarray | None) -> np.ndarray:
    """Per-slice float64 sum of ``err`` ``(..., H, W)`` over a boolean region (``None``: all pixels)."""
    flat = err.reshape(*err.shape[:-2], -1).astype(np.float64)
    if region is not None:
        flat = np.where(region.reshape(flat.shape), flat, 0.0)
    return flat.sum(-1)


def region_mean(err: np.ndarray, region: np.ndarray | None, convention: Convention) -> np.ndarray:
    """Per-slice MAD/MSE normalisation of an error map ``(..., H, W)`` in the given convention."""
    total = region_sum(err, region)
    hw = err.shape[-1] * err.shape[-2]
    if region is None:
        area = np.full(err.shape[:-2], float(hw))
    else:
        area = region.reshape(*err.shape[:-2], -1).sum(-1).astype(np.float64)
    if convention == REFERENCE:
        # The reference divides by the image area as well as by the region area, so its MAD and
        # MSE are the conventional ×1e3 values times 1e7 / (H·W).
        return 1e10 * total / hw / (area + 1e-6)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(area > 0, 1e3 * total / np.maximum(area, 1), np.nan)


def mad(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Mean absolute difference per slice.

    reference: ``1e10 · Σ(|p-g|·m) / (H·W) / (Σm + 1e-6)`` (an empty region gives 0);
    conventional: ``1e3 · mean_R |p-g|`` (NaN for an empty region).
    """
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    return region_mean(np.abs(diff(p, g)), as_region(region, p.shape), convention)


def mse(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Mean squared difference per slice, with the same normalisations as :func:`mad`."""
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    return region_mean(np.square(diff(p, g)), as_region(region, p.shape), convention)


def sad(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Sum of absolute differences per slice, ``Σ_R |p-g| / 1e3`` in both conventions."""
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    return 1e-3 * region_sum(np.abs(diff(p, g)), as_region(region, p.shape))


def _gaussian_taps() -> tuple[np.ndarray, np.ndarray]:
    """1-D Gaussian ``G`` and its derivative ``G'`` (σ = 1.4) sampled at ``-4 … 4``."""
    half = math.ceil(_GRAD_SIGMA * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * _GRAD_SIGMA * 1e-2)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2 * _GRAD_SIGMA**2)) / (_GRAD_SIGMA * math.sqrt(2 * math.pi))
    return gauss, -x * gauss / _GRAD_SIGMA**2


def gradient_kernel() -> np.ndarray:
    """The 9×9 derivative-of-Gaussian filter ``hx`` (σ = 1.4) of the Grad metric, unit L2 norm.

    ``hx[i, j] = G(i-4) · G'(j-4)``: smoothing along rows, derivative along columns; ``hy = hx.T``.
    """
    gauss, dgauss = _gaussian_taps()
    hx = gauss[:, None] * dgauss[None, :]
    return hx / np.sqrt(np.square(hx).sum())


def _correlate(padded: np.ndarray, vertical: np.ndarray, horizontal: np.ndarray) -> np.ndarray:
    """Separable 'valid' cross-correlation of ``(K, H+8, W+8)`` maps with ``vertical ⊗ horizontal``."""
    k = len(vertical)
    h, w = padded.shape[-2] - k + 1, padded.shape[-1] - k + 1
    cols = sum(vertical[i] * padded[:, i : i + h, :] for i in range(k))
    return sum(horizontal[j] * cols[:, :, j : j + w] for j in range(k))


def _gradient_magnitude(maps: np.ndarray, replicate: bool) -> np.ndarray:
    """``sqrt((a ⋆ hx)² + (a ⋆ hy)²)`` for ``(K, H, W)`` float64 maps, output ``(K, H, W)``.

    ``hx`` is separable, so each response is two 9-tap passes instead of 81 taps. Cross-correlation
    instead of convolution only flips the sign of each response, which the magnitude discards.
    """
    gauss, dgauss = _gaussian_taps()
    # ||G ⊗ G'|| = ||G|| · ||G'||: the unit-norm scaling goes on one factor.
    gauss = gauss / (np.linalg.norm(gauss) * np.linalg.norm(dgauss))
    half = len(gauss) // 2
    padded = np.pad(maps, ((0, 0), (half, half), (half, half)), mode="edge" if replicate else "constant")
    gx = _correlate(padded, gauss, dgauss)
    gy = _correlate(padded, dgauss, gauss)
    return np.sqrt(gx * gx + gy * gy)


def _min_max(a: np.ndarray) -> np.ndarray:
    return (a - a.min()) / (a.max() - a.min() + 1e-6)


def grad_error_map(pred: np.ndarray, gt: np.ndarray, *, convention: Convention = REFERENCE) -> np.ndarray:
    """Per-pixel ``(|∇p| - |∇g|)²`` of shape ``pred.shape`` (float64), summed by :func:`grad`.

    reference: both stacks are min-max normalised over *everything passed* (the reference does it
    over all slices of one metric call), zero padding; conventional: alphas as they are, replicate
    padding.
    """
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    p, g = p.astype(np.float64), g.astype(np.float64)
    if convention == REFERENCE:
        p, g = _min_max(p), _min_max(g)
    flat_p, flat_g = p.reshape(-1, *p.shape[-2:]), g.reshape(-1, *g.shape[-2:])
    replicate = convention != REFERENCE
    err = np.square(_gradient_magnitude(flat_p, replicate) - _gradient_magnitude(flat_g, replicate))
    return err.reshape(p.shape)


def grad(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Gradient error per slice, ``Σ_R (|∇p| - |∇g|)² / 1e3`` (see :func:`grad_error_map`)."""
    err = grad_error_map(pred, gt, convention=convention)
    return 1e-3 * region_sum(err, as_region(region, err.shape))


def _largest_component(mask: np.ndarray, label) -> np.ndarray:
    """Largest 4-connected component; ties go to the component met first in row-major order."""
    labels, count = label(mask)
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    # Labels are assigned in raster order and argmax keeps the first maximum.
    return labels == int(np.argmax(sizes))


def _conn_levels(p: np.ndarray, g: np.ndarray, thresholds: np.ndarray, label) -> np.ndarray:
    """Level at which each pixel of one slice leaves the largest common component."""
    level = np.ones_like(g)
    pending = np.ones(g.shape, dtype=bool)
    for k in range(1, len(thresholds)):
        t = thresholds[k]
        omega = _largest_component((p >= t) & (g >= t), label)
        leaving = pending & ~omega
        level[leaving] = thresholds[k - 1]
        pending &= omega
    return level


def conn_error_map(pred: np.ndarray, gt: np.ndarray, *, convention: Convention = REFERENCE) -> np.ndarray:
    """Per-pixel ``|φ(p) - φ(g)|`` (float64) of the connectivity error, summed by :func:`conn`.

    ``φ(a) = 1 - d·[d >= 0.15]``, ``d = a - ℓ``, ``ℓ`` = the threshold before the first step at which
    the pixel is outside the largest 4-connected component of ``(p >= t) & (g >= t)`` (1 if never).
    reference: thresholds ``numpy.arange(0, 1.1, 0.1)`` and every decision in float32;
    conventional: thresholds ``k / 10`` and float64 throughout.
    """
    convention = check_convention(convention)
    p, g = as_maps(pred, gt, convention)
    label = optional_module("scipy.ndimage").label
    dtype = p.dtype.type
    if convention == REFERENCE:
        thresholds = np.arange(0, 1.1, 0.1).astype(np.float32)
    else:
        thresholds = np.arange(11, dtype=np.float64) / 10
    step = dtype(0.15)
    flat_p, flat_g = p.reshape(-1, *p.shape[-2:]), g.reshape(-1, *g.shape[-2:])
    out = np.empty(flat_p.shape, dtype=np.float64)
    for i, (ps, gs) in enumerate(zip(flat_p, flat_g, strict=True)):
        level = _conn_levels(ps, gs, thresholds, label)
        dp, dg = ps - level, gs - level
        phi_p = 1.0 - np.where(dp >= step, dp.astype(np.float64), 0.0)
        phi_g = 1.0 - np.where(dg >= step, dg.astype(np.float64), 0.0)
        out[i] = np.abs(phi_p - phi_g)
    return out.reshape(p.shape)


def conn(
    pred: np.ndarray, gt: np.ndarray, region: np.ndarray | None = None, *, convention: Convention = REFERENCE
) -> np.ndarray:
    """Connectivity error per slice, ``Σ_R |φ(p) - φ(g)| / 1e3`` (see :func:`conn_error_map`)."""
    err = conn_error_map(pred, gt, convention=convention)
    return 1e-3 * region_sum(err, as_region(region, err.shape))
