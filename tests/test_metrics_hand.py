"""Tiny hand-computed cases for every metric; the arithmetic is in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from maggie import metrics
from maggie.errors import InputError, MaggieError
from maggie.metrics import MetricAccumulator, Tally

# 4×4 ground truth: a 2×2 foreground block in the top-left corner.
GT = np.zeros((1, 4, 4), np.float32)
GT[0, :2, :2] = 1
# Prediction: the block with (0, 0) at 0.5, plus a false 0.25 at (3, 3).
PRED = GT.copy()
PRED[0, 0, 0] = 0.5
PRED[0, 3, 3] = 0.25
# |p - g|: 0.5 and 0.25 -> Σ = 0.75;  (p - g)²: 0.25 and 0.0625 -> Σ = 0.3125;  H·W = 16.


def test_sad() -> None:
    # Σ|p - g| / 1e3 = 0.75e-3 in both conventions.
    for convention in metrics.CONVENTIONS:
        assert metrics.sad(PRED, GT, convention=convention) == pytest.approx([0.75e-3], rel=1e-12)


def test_mad_and_mse() -> None:
    # conventional: 1e3 · mean = 1e3 · 0.75 / 16 = 46.875 and 1e3 · 0.3125 / 16 = 19.53125.
    assert metrics.mad(PRED, GT, convention="conventional") == pytest.approx([46.875], rel=1e-12)
    assert metrics.mse(PRED, GT, convention="conventional") == pytest.approx([19.53125], rel=1e-12)
    # reference: 1e10 · Σ / (H·W) / (Σm + 1e-6) with m = 1: 1e10 · 0.75 / 16 / (16 + 1e-6).
    assert metrics.mad(PRED, GT) == pytest.approx([1e10 * 0.75 / 16 / (16 + 1e-6)], rel=1e-12)
    assert metrics.mse(PRED, GT) == pytest.approx([1e10 * 0.3125 / 16 / (16 + 1e-6)], rel=1e-12)
    # i.e. the conventional value times 1e7 / (H·W): 46.875 · 1e7 / 16 = 2.9296875e7 (up to the 1e-6).
    assert metrics.mad(PRED, GT)[0] == pytest.approx(46.875 * 1e7 / 16, rel=1e-6)


def test_region_mads() -> None:
    # Hand-made trimap: rows 0-1 foreground (2), row 2 unknown (1), row 3 background (0).
    tri = np.zeros((1, 4, 4), np.uint8)
    tri[0, :2], tri[0, 2] = 2, 1
    # fg: the 0.5 error over 8 pixels -> 1e3 · 0.5 / 8 = 62.5; bg: the 0.25 over 4 -> 62.5; unk: 0.
    assert metrics.mad(PRED, GT, tri == 2, convention="conventional") == pytest.approx([62.5])
    assert metrics.mad(PRED, GT, tri == 0, convention="conventional") == pytest.approx([62.5])
    assert metrics.mad(PRED, GT, tri == 1, convention="conventional") == [0.0]
    # reference fg: 1e10 · 0.5 / 16 / (8 + 1e-6).
    assert metrics.mad(PRED, GT, tri == 2) == pytest.approx([1e10 * 0.5 / 16 / (8 + 1e-6)], rel=1e-12)
    # An empty region: the reference scores an exact 0, the conventional mean is undefined.
    empty = np.zeros_like(tri, dtype=bool)
    assert metrics.mad(PRED, GT, empty)[0] == 0.0
    assert np.isnan(metrics.mad(PRED, GT, empty, convention="conventional")[0])
    # slice_tallies reads the regions from the trimap it is given; MSE_unk on row 2 is 0 / 4 = 0.
    tallies = metrics.slice_tallies(PRED, GT, tri, "conventional")
    assert tallies["MAD_fg"].value("conventional") == pytest.approx(62.5)
    assert tallies["MSE_unk"].value("conventional") == 0.0


def _hx_by_hand() -> np.ndarray:
    # G(x) = exp(-x²/(2σ²)) / (σ√(2π)), G'(x) = -x·G(x)/σ², σ = 1.4, x = -4 … 4 (half-size
    # ceil(1.4 · sqrt(-2 ln(√(2π) · 1.4 · 0.01))) = ceil(1.4 · 2.83) = 4).
    x = np.arange(-4, 5, dtype=np.float64)
    g = np.exp(-x * x / (2 * 1.4**2)) / (1.4 * math.sqrt(2 * math.pi))
    hx = g[:, None] * (-x * g / 1.4**2)[None, :]
    return hx / math.sqrt((hx**2).sum())


def test_gradient_kernel() -> None:
    np.testing.assert_allclose(metrics.gradient_kernel(), _hx_by_hand(), rtol=1e-14)


def test_grad_of_an_impulse() -> None:
    # gt = 0 (no gradient); pred = a single 1 at (1, 1). With the border rows/columns all zero,
    # replicate padding pads with zeros too, so |∇p|²(y, x) = hx[5-y, 5-x]² + hx[5-x, 5-y]² and
    # Σ over the 4×4 image = 2 · Σ_{a,b ∈ 2..5} hx[a, b]²; Grad = that / 1e3.
    gt = np.zeros((1, 4, 4), np.float32)
    pred = gt.copy()
    pred[0, 1, 1] = 1
    hx = _hx_by_hand()
    by_hand = 2 * (hx[2:6, 2:6] ** 2).sum() / 1e3
    assert metrics.grad(pred, gt, convention="conventional") == pytest.approx([by_hand], rel=1e-12)
    # reference: p̂ = p / (1 + 1e-6) (min 0, max 1), ĝ = 0 / (0 + 1e-6) = 0, zero padding.
    assert metrics.grad(pred, gt) == pytest.approx([by_hand / (1 + 1e-6) ** 2], rel=1e-12)


def test_grad_padding_and_normalisation() -> None:
    # A constant map has no gradient with replicate padding (up to the rounding of Σ G' = 0);
    # zero padding sees an edge at the border, but the reference's min-max normalisation maps a
    # constant to 0 first.
    ones, zeros = np.ones((1, 4, 4), np.float32), np.zeros((1, 4, 4), np.float32)
    assert metrics.grad(ones, zeros, convention="conventional")[0] == pytest.approx(0.0, abs=1e-30)
    assert metrics.grad(ones, zeros)[0] == 0.0
    # Min-max normalisation: p/2 becomes (p/2) / (0.5 + 1e-6) = p / (1 + 2e-6) instead of p / (1 + 1e-6),
    # and only ∇p̂ changes; the conventional Grad uses p/2 as it is.
    scaled = metrics.grad(PRED / 2, GT * 0)[0]
    assert scaled == pytest.approx(metrics.grad(PRED, GT * 0)[0] * ((1 + 1e-6) / (1 + 2e-6)) ** 2, rel=1e-12)
    assert metrics.grad(PRED / 2, GT * 0, convention="conventional")[0] == pytest.approx(
        metrics.grad(PRED, GT * 0, convention="conventional")[0] / 4, rel=1e-12
    )


def test_conn_single_dropout() -> None:
    # Block pixels stay in the largest component up to t = 1.0 except (0, 0) (p = 0.5), which
    # leaves at t = 0.6, so its level is 0.5: φ(g) = 1 - (1 - 0.5) = 0.5 (d = 0.5 >= 0.15),
    # φ(p) = 1 - 0 = 1 (d = 0); every other pixel has φ(p) = φ(g). Conn = 0.5 / 1e3.
    pred = GT.copy()
    pred[0, 0, 0] = 0.5
    for convention in metrics.CONVENTIONS:
        assert metrics.conn(pred, GT, convention=convention) == pytest.approx([0.5e-3], rel=1e-6)


def test_conn_tie_goes_to_the_first_component_in_row_major_order() -> None:
    # g = 1 everywhere; p: block A = (0, 2), (0, 3) at 0.32 (first in row-major order), block B =
    # (3, 0), (3, 1) at 0.88, 0 elsewhere. For t = 0.1 … 0.3 A and B tie (2 pixels each): A wins,
    # so B's pixels leave at t = 0.1 (level 0) and A's at t = 0.4 (level 0.3).
    #   A: φ(g) = 1 - 0.7 = 0.3, φ(p) = 1 (d = 0.02 < 0.15) -> 0.7 each, 1.4
    #   B: φ(g) = 1 - 1 = 0,     φ(p) = 1 - 0.88 = 0.12    -> 0.12 each, 0.24
    #   12 other pixels, level 0: φ(g) = 0, φ(p) = 1        -> 12
    # Conn = (12 + 1.4 + 0.24) / 1e3 = 13.64e-3. (Had B won: (12 + 2·0.2 + 2·0.68) / 1e3 = 13.76e-3.)
    gt = np.ones((1, 4, 4), np.float32)
    pred = np.zeros_like(gt)
    pred[0, 0, 2:] = 0.32
    pred[0, 3, :2] = 0.88
    for convention in metrics.CONVENTIONS:
        assert metrics.conn(pred, gt, convention=convention) == pytest.approx([13.64e-3], rel=1e-6)


def test_conn_float32_decisions() -> None:
    # p = float32(0.7) = 0.69999999 everywhere, g = 1. reference: t_7 = float32(0.7000000000000001)
    # = float32(0.7), so p passes t_7 and leaves at t_8: level 0.7, φ(g) = 0.7, φ(p) = 1 -> 0.3 per
    # pixel, Conn = 16 · 0.3 / 1e3 = 4.8e-3. conventional (float64): p < 0.7 leaves at t_7: level
    # 0.6, φ(g) = 0.6, φ(p) = 1 (d = 0.0999999 < 0.15) -> 0.4 per pixel, Conn = 6.4e-3.
    gt = np.ones((1, 4, 4), np.float32)
    pred = np.full_like(gt, np.float32(0.7))
    assert metrics.conn(pred, gt) == pytest.approx([4.8e-3], rel=1e-6)
    assert metrics.conn(pred, gt, convention="conventional") == pytest.approx([6.4e-3], rel=1e-6)


def test_trimap_band_is_the_25x25_ellipse() -> None:
    # One foreground pixel in a 40×40 map: the unknown band is the ellipse around it, whose rows
    # hold 1+11+15+17+19+21+21+23+23+25·7+23+23+21+21+19+17+15+11+1 = 477 pixels; nothing is 2
    # (the pixel itself is in the band).
    gt = np.zeros((40, 40), np.float32)
    gt[20, 20] = 1
    tri = metrics.trimap(gt)
    assert (tri == 1).sum() == 477 and (tri == 2).sum() == 0
    # Constant plateaus: 0.6 > 0.5 is foreground, 0.4 background, with no band.
    assert (metrics.trimap(np.full((5, 5), 0.6, np.float32)) == 2).all()
    assert (metrics.trimap(np.full((5, 5), 0.4, np.float32)) == 0).all()


# Video: 2 frames, 1 instance; the ground truth is 0, frame 1 of the prediction has 0.5 and 0.25.
VGT = np.zeros((2, 1, 4, 4), np.float32)
VPRED = VGT.copy()
VPRED[1, 0, 0, 0], VPRED[1, 0, 2, 3] = 0.5, 0.25


def test_dtssd() -> None:
    # Σ((p1 - p0) - (g1 - g0))² = 0.25 + 0.0625 = 0.3125.
    # reference: 0.1 · sqrt(0.3125); conventional: 1e2 · sqrt(0.3125 / 16) = 1e2 · 0.13975...
    assert metrics.dtssd(VPRED, VGT) == pytest.approx([0.1 * math.sqrt(0.3125)], rel=1e-12)
    assert metrics.dtssd(VPRED, VGT, convention="conventional") == pytest.approx(
        [1e2 * math.sqrt(0.3125 / 16)], rel=1e-12
    )
    # A third frame back at 0 repeats the change: the reference takes one root over both pairs,
    # 0.1 · sqrt(0.625); the conventional value is the mean of two equal roots, unchanged.
    pred3, gt3 = np.concatenate([VPRED, VPRED[:1]]), np.zeros((3, 1, 4, 4), np.float32)
    assert metrics.dtssd(pred3, gt3) == pytest.approx([0.1 * math.sqrt(0.625)], rel=1e-12)
    assert metrics.dtssd(pred3, gt3, convention="conventional") == pytest.approx(
        [1e2 * math.sqrt(0.3125 / 16)], rel=1e-12
    )


def test_messddt_lookup() -> None:
    # E = (p - g)²: E_0 = 0.25 at (0, 0); E_1 = 0.25 at (0, 1); E_2 = 0. Flow 0->1: dx = 1
    # everywhere; flow 1->2: 0.
    gt = np.zeros((3, 1, 4, 4), np.float32)
    pred = gt.copy()
    pred[0, 0, 0, 0] = pred[1, 0, 0, 1] = 0.5
    flow = np.zeros((2, 1, 4, 4, 2), np.int16)
    flow[0, ..., 0] = 1
    # conventional, pair 0: Ẽ(y, x) = E_1(y, x + 1) equals E_0 everywhere -> 0.
    # pair 1: E_2 = 0, so mean |E_1| = 0.25 / 16. MESSDdt = 1e4 · (0 + 0.25 / 16) / 2 = 78.125.
    assert metrics.messddt(pred, gt, flow, convention="conventional") == pytest.approx([78.125], rel=1e-12)
    # reference, pair 0: Ẽ(y, x) = E_1(clamp(x + 1), y) is 0 everywhere (row x + 1 >= 1, E_1 sits in
    # row 0), so Σ|E_0 - Ẽ| = 0.25. pair 1 reads E_1 again, transposed: Ẽ = E_1(x, y) is 0.25 at
    # (1, 0), so Σ|E_1 - Ẽ| = 0.25 + 0.25. MESSDdt = 1e4 · 0.75 / ((3 - 1) · (16 + 1)).
    assert metrics.messddt(pred, gt, flow) == pytest.approx([1e4 * 0.75 / (2 * 17)], rel=1e-12)
    # Two frames only: 1e4 · 0.25 / (1 · 17) and 0 (the warped error matches exactly).
    assert metrics.messddt(pred[:2], gt[:2], flow[:1]) == pytest.approx([1e4 * 0.25 / 17], rel=1e-12)
    assert metrics.messddt(pred[:2], gt[:2], flow[:1], convention="conventional") == [0.0]


def test_snap() -> None:
    # <= float32(1/255) -> 0, >= float32(254/255) -> 1, the rest unchanged.
    p = np.array([0.0, 1 / 255, 0.004, 0.5, 254 / 255, 0.999], np.float32)
    np.testing.assert_array_equal(metrics.snap(p), np.array([0, 0, 0.004, 0.5, 1, 1], np.float32))


def test_tally_and_accumulator() -> None:
    # reference: Σscore / (count + 1e-6); conventional: mean of the defined values.
    assert Tally(3.0, 2.0).value("reference") == 3.0 / (2.0 + 1e-6)
    assert Tally.of(np.array([1.0, np.nan, 3.0]), "conventional").value("conventional") == 2.0
    assert np.isnan(Tally().value("conventional")) and Tally().value("reference") == 0.0
    # Two images of different sizes: the reference MAD weights the small one by 1e7 / (H·W).
    small, big = np.zeros((1, 2, 2), np.float32), np.zeros((1, 4, 4), np.float32)
    acc = MetricAccumulator("reference")
    acc.add_image(small + 0.5, small, name="small")  # MAD = 1e10 · 2 / 4 / (4 + 1e-6)
    acc.add_image(big + 0.5, big, name="big")  # MAD = 1e10 · 8 / 16 / (16 + 1e-6)
    expected = (1e10 * 2 / 4 / (4 + 1e-6) + 1e10 * 8 / 16 / (16 + 1e-6)) / (2 + 1e-6)
    assert acc.summary()["MAD"] == pytest.approx(expected, rel=1e-12)
    conventional = MetricAccumulator("conventional")
    conventional.add_image(small + 0.5, small)
    conventional.add_image(big + 0.5, big)
    assert conventional.summary()["MAD"] == pytest.approx(500.0)  # both slices 1e3 · 0.5
    assert [row["name"] for row in conventional.rows] == ["0", "1"]


def test_video_scorer_short_videos() -> None:
    # T = 1: no temporal call (reference reports 0, conventional undefined).
    one = metrics.video_metrics(VPRED[:1], VGT[:1], flow=np.zeros((0, 1, 4, 4, 2), np.int16))
    assert one["dtSSD"] == 0.0 and one["MAD"] == 0.0
    conv = metrics.video_metrics(VPRED[:1], VGT[:1], "conventional", flow=np.zeros((0, 1, 4, 4, 2), np.int16))
    assert np.isnan(conv["dtSSD"]) and np.isnan(conv["MESSDdt"])
    # T = 2: one call with both frames, the same as calling the temporal functions directly.
    two = metrics.video_metrics(VPRED, VGT, flow=np.zeros((1, 1, 4, 4, 2), np.int16))
    assert two["dtSSD"] == pytest.approx(0.1 * math.sqrt(0.3125) / (1 + 1e-6), rel=1e-12)
    scorer = metrics.VideoScorer(1)
    scorer.add_frame(VPRED[0], VGT[0])
    with pytest.raises(MaggieError):
        scorer.add_frame(VPRED[1], VGT[1])


def test_errors() -> None:
    with pytest.raises(InputError, match="shape"):
        metrics.mad(PRED, GT[:, :3])
    with pytest.raises(InputError, match="NaN"):
        metrics.image_metrics(np.full_like(PRED, np.nan), GT, "conventional")
    with pytest.raises(MaggieError, match="convention"):
        metrics.mad(PRED, GT, convention="paper")
    with pytest.raises(InputError):
        metrics.image_metrics(VPRED, VGT)
    with pytest.raises(InputError, match="flow"):
        metrics.messddt(VPRED, VGT, np.zeros((2, 1, 4, 4, 2)))
    with pytest.raises(MaggieError, match=r"maggie\[eval\]"):
        metrics.common.optional_module("maggie_no_such_module")
