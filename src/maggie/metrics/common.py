"""Conventions, input checks, prediction snapping and the evaluation trimap.

Two conventions are offered for every metric:

* ``"reference"`` reproduces the numbers of the released MaGGIe evaluation code, quirks included
  (resolution-dependent MAD/MSE scale, zero-padded and min-max normalised Grad, float32 Conn
  decisions, per-window dtSSD square roots, the MESSDdt lookup bugs, ``score / (count + 1e-6)``).
  Use it to compare with the paper's tables.
* ``"conventional"`` follows the Composition-1k / DIM definitions for the image metrics and the
  usual video-matting definitions for dtSSD / MESSDdt, evaluated in float64.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Literal

import numpy as np
import torch

from ..errors import InputError, MaggieError
from ..ops.morphology import dilate, erode

__all__ = [
    "REFERENCE",
    "CONVENTIONAL",
    "CONVENTIONS",
    "Convention",
    "check_convention",
    "snap",
    "trimap",
    "TRIMAP_KERNEL",
]

Convention = Literal["reference", "conventional"]
REFERENCE: Convention = "reference"
CONVENTIONAL: Convention = "conventional"
CONVENTIONS: tuple[str, ...] = (REFERENCE, CONVENTIONAL)

# Side of the elliptical element the reference uses to find the unknown band of the trimap.
TRIMAP_KERNEL = 25


def check_convention(convention: str) -> Convention:
    """Return ``convention`` if it is one of :data:`CONVENTIONS`, else raise :class:`MaggieError`."""
    if convention not in CONVENTIONS:
        raise MaggieError(f"unknown metric convention {convention!r}; choose one of {', '.join(CONVENTIONS)}")
    return convention  # type: ignore[return-value]


def working_dtype(convention: Convention) -> type[np.floating]:
    """The dtype a convention evaluates its maps in (decisions and element-wise arithmetic)."""
    return np.float32 if convention == REFERENCE else np.float64


def as_maps(
    pred: np.ndarray, gt: np.ndarray, convention: Convention, ndim: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Check that ``pred`` and ``gt`` are matching stacks of ``H×W`` maps and cast them.

    The reference convention works on float32 maps (what its data loader yields), the conventional
    one promotes them to float64. Raises :class:`InputError` on a shape mismatch or a non-finite
    value (which would otherwise drop out of conventional means unnoticed).
    """
    p, g = np.asarray(pred), np.asarray(gt)
    if p.shape != g.shape:
        raise InputError(f"prediction shape {p.shape} differs from ground-truth shape {g.shape}")
    if ndim is not None and p.ndim != ndim:
        raise InputError(f"expected {ndim}-D arrays, got shape {p.shape}")
    if p.ndim < 2 or p.shape[-1] == 0 or p.shape[-2] == 0:
        raise InputError(f"expected a stack of non-empty H×W maps, got shape {p.shape}")
    for name, a in (("prediction", p), ("ground truth", g)):
        if not np.isfinite(a).all():
            raise InputError(f"the {name} holds NaN or infinite values")
    dtype = working_dtype(convention)
    return p.astype(dtype, copy=False), g.astype(dtype, copy=False)


def as_region(region: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Check a boolean region mask against the map shape (``None`` means the whole map)."""
    if region is None:
        return None
    r = np.asarray(region, dtype=bool)
    if r.shape != shape:
        raise InputError(f"region shape {r.shape} differs from map shape {shape}")
    return r


def snap(pred: np.ndarray) -> np.ndarray:
    """Set values ``<= 1/255`` to 0 and ``>= 254/255`` to 1, as the reference loop does before scoring.

    Comparisons are made in float32 like the reference (a float32 array against a Python float under
    NumPy < 2). Returns a new float32 array of the same shape.
    """
    p = np.array(pred, dtype=np.float32)
    p[p <= np.float32(1.0 / 255.0)] = 0.0
    p[p >= np.float32(254.0 / 255.0)] = 1.0
    return p


def trimap(gt: np.ndarray) -> np.ndarray:
    """Reference evaluation trimap of a stack of soft ground-truth alphas ``(..., H, W)`` in [0, 1].

    Returns uint8 of the same shape: 1 on the unknown band (grey dilation differs from grey erosion
    with the 25×25 ellipse), 2 where ``gt > 0.5`` outside the band, 0 elsewhere.
    """
    g = torch.from_numpy(np.ascontiguousarray(gt, dtype=np.float32))
    unknown = (dilate(g, TRIMAP_KERNEL) - erode(g, TRIMAP_KERNEL)) > 0
    out = torch.where(g > 0.5, 2, 0).to(torch.uint8)
    out[unknown] = 1
    return out.numpy()


def optional_module(name: str) -> ModuleType:
    """Import an optional evaluation dependency or explain which extra provides it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        package = {"cv2": "opencv-python-headless"}.get(name, name)
        raise MaggieError(
            f"this metric needs {package}, which is not installed; install it with pip install 'maggie[eval]'"
        ) from exc
