"""Matting metrics in two conventions: the reference MaGGIe evaluation's and the conventional one.

Quick use::

    from maggie import metrics
    metrics.image_metrics(pred, gt)                       # (N, H, W) -> {"MAD": ..., "Grad": ..., ...}
    metrics.video_metrics(pred, gt, "conventional")       # (T, N, H, W), adds dtSSD and MESSDdt
    acc = metrics.MetricAccumulator("reference", kind="image")
    for pred, gt in samples:
        acc.add_image(pred, gt)
    acc.summary()

``convention="reference"`` reproduces the released MaGGIe evaluation code (use it to compare with
the paper); ``"conventional"`` follows Composition-1k / DIM and the usual video-matting
definitions. Conn needs SciPy and the automatic MESSDdt flow needs OpenCV (``maggie[eval]``).
"""

from .aggregate import (
    MetricAccumulator,
    Tally,
    VideoScorer,
    image_metrics,
    metric_names,
    reference_calls,
    slice_tallies,
    video_metrics,
)
from .common import CONVENTIONAL, CONVENTIONS, REFERENCE, Convention, snap, trimap
from .image import conn, conn_error_map, grad, grad_error_map, gradient_kernel, mad, mse, sad
from .temporal import dtssd, farneback_flow, messddt, pair_flow

__all__ = [
    "REFERENCE",
    "CONVENTIONAL",
    "CONVENTIONS",
    "Convention",
    "image_metrics",
    "video_metrics",
    "metric_names",
    "MetricAccumulator",
    "VideoScorer",
    "Tally",
    "slice_tallies",
    "reference_calls",
    "snap",
    "trimap",
    "mad",
    "mse",
    "sad",
    "grad",
    "conn",
    "grad_error_map",
    "conn_error_map",
    "gradient_kernel",
    "dtssd",
    "messddt",
    "farneback_flow",
    "pair_flow",
]
