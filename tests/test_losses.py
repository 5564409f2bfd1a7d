"""Loss functions on hand-made tensors; comments show the arithmetic of every expected value."""

from __future__ import annotations

import math

import pytest
import torch

from maggie.losses import (
    LossConfig,
    MattingLoss,
    attention_loss,
    attention_target,
    choose_refinement_weights,
    dtssd_loss,
    gradient_loss,
    laplacian_loss,
    os8_weight,
    scale_mix,
    temporal_sparsity_loss,
    valid_instances,
    weighted_l1,
)
from maggie.types import MatteOutput


def _clip(values: list[list[float]]) -> torch.Tensor:
    """A 2-D list as a ``(B, T, N, H, W) = (1, 1, 1, H, W)`` tensor."""
    return torch.tensor(values, dtype=torch.float32)[None, None, None]


def test_weighted_l1_hand_values() -> None:
    p = _clip([[0.2, 0.8], [0.5, 1.0]])
    g = _clip([[0.0, 1.0], [0.5, 0.5]])
    w = _clip([[1.0, 2.0], [0.0, 1.0]])
    # |w·p − w·g| = |0.2−0|·1 + |1.6−2.0| + 0 (w = 0) + |1.0−0.5| = 0.2 + 0.4 + 0 + 0.5 = 1.1
    # Σw = 1 + 2 + 0 + 1 = 4  →  1.1 / 4 = 0.275
    assert weighted_l1(p, g, w).item() == pytest.approx(0.275, abs=1e-7)
    # An empty weight map gives 0, not NaN.
    assert weighted_l1(p, g, torch.zeros_like(w)).item() == 0.0


def test_gradient_loss_on_a_step_edge() -> None:
    # Columns 0, 0, 1 in every row; replicate padding repeats the outer columns.
    p = _clip([[0.0, 0.0, 1.0]] * 3)
    g = torch.zeros_like(p)
    w = torch.ones_like(p)
    # Sobel-x/8 at column c is (1+2+1)/8 · (right − left): column 0: (0 − 0) → 0,
    # column 1: (1 − 0) → 0.5, column 2: (1 (replicated) − 0) → 0.5. Sobel-y is 0 (equal rows).
    # |∇p| = sqrt(gx² + 1e-6): 0.001 on column 0 and sqrt(0.250001) on columns 1–2; |∇g| = 0.001.
    # Σ|Δ| = 6 · (sqrt(0.250001) − 0.001) over 9 pixels, / (Σw + 1e-6) = 9.000001.
    expected = 6 * (math.sqrt(0.250001) - 0.001) / 9.000001
    assert gradient_loss(p, g, w).item() == pytest.approx(expected, rel=1e-5)
    # The magnitudes are taken of w·p and w·g but normalised by Σw: p is already 0 on column 1,
    # so zero weight there leaves the numerator unchanged and Σw drops from 9 to 6.
    w_masked = _clip([[1.0, 0.0, 1.0]] * 3)
    assert gradient_loss(p, g, w_masked).item() == pytest.approx(expected * 9.000001 / 6.000001, rel=1e-5)


def test_laplacian_loss_impulse_and_reference_factor() -> None:
    p = torch.zeros(1, 1, 1, 16, 16)
    p[..., 8, 8] = 1.0
    g = torch.zeros_like(p)
    w = torch.zeros_like(p)
    w[..., 8, 8] = 1.0  # look at the impulse pixel only
    # Blur with k = [1,4,6,4,1]/16 per axis, keep even pixels: around (8, 8) the samples at
    # offsets −2, 0, +2 are [1, 6, 1]/16 per axis. Zero insertion puts them back at (6|8|10)²,
    # and the 4×kernel blur reads them at offsets ±2, 0 with taps 1/16, 6/16, 1/16:
    # per axis (1·1 + 6·6 + 1·1)/256 = 38/256, so up(8, 8) = 4 · (38/256)² = 0.088134765625.
    # Level 0 at (8, 8) = 1 − 0.088134765625 = 0.911865234375; weighted by 1 / (1 + 1e-6).
    single = 0.911865234375 / 1.000001
    assert laplacian_loss(p, g, w, levels=1, reference_scale=False).item() == pytest.approx(single, rel=1e-6)
    # The reference's 3-channel kernel triplicates every level: exactly 3×.
    assert laplacian_loss(p, g, w, levels=1).item() == pytest.approx(3 * single, rel=1e-6)
    full_w = torch.ones_like(p)
    one = laplacian_loss(p, g, full_w, reference_scale=False)
    assert laplacian_loss(p, g, full_w).item() == pytest.approx(3 * one.item(), rel=1e-6)


def test_laplacian_loss_ignores_a_constant_offset() -> None:
    # Band-pass levels of a constant image are 0 (the 4× expansion kernel restores constants,
    # reflect padding included), so a global offset costs nothing.
    g = torch.rand(2, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert laplacian_loss(g + 0.25, g, torch.ones_like(g)).item() == pytest.approx(0.0, abs=1e-5)


def test_attention_target_max_pools_presence() -> None:
    alpha = torch.zeros(1, 1, 2, 16, 16)
    alpha[0, 0, 0, 9, 3] = 0.01  # one faint pixel in cell (row 1, col 0)
    target = attention_target(alpha)
    assert target.shape == (1, 1, 2, 2, 2) and target.dtype == torch.bool
    assert target[0, 0, 0].tolist() == [[False, False], [True, False]]
    assert not target[0, 0, 1].any()


def test_attention_loss_image() -> None:
    target = torch.zeros(1, 1, 2, 2, 2, dtype=torch.bool)  # B=1, T=1, N=2, 2×2 cells
    target[0, 0, 0, 0, :] = True  # instance 0 on cells (0,0), (0,1); instance 1 absent
    a1 = torch.tensor([[[0.5, 0.2, 0.2, 0.1], [0.25] * 4]])
    a2 = torch.tensor([[[0.1, 0.1, 0.4, 0.4], [0.25] * 4]])
    # map 1: instance 0 → 1 − (0.5 + 0.2) = 0.3; instance 1 absent → 0; / (B·T = 1) → 0.3
    # map 2: 1 − (0.1 + 0.1) = 0.8.  Mean over maps: (0.3 + 0.8) / 2 = 0.55
    assert attention_loss([a1, a2], target).item() == pytest.approx(0.55)


def test_attention_loss_ignores_token_rows_beyond_the_instance_slots() -> None:
    # The model returns one row per token slot (max_instances); a batch may use fewer slots.
    target = torch.zeros(1, 1, 1, 1, 2, dtype=torch.bool)
    target[0, 0, 0, 0, 0] = True
    att = torch.tensor([[[0.75, 0.25], [0.0, 1.0], [0.5, 0.5]]])  # S=3 token rows, N=1
    assert attention_loss([att], target).item() == pytest.approx(0.25)
    with pytest.raises(ValueError):
        attention_loss([att[:, :0]], target)


def test_attention_loss_video_key_order() -> None:
    # T=2, one row of 2 cells; keys are ordered (cell·T + t): [c0t0, c0t1, c1t0, c1t1].
    target = torch.zeros(1, 2, 1, 1, 2, dtype=torch.bool)
    target[0, 0, 0, 0, 0] = True  # frame 0, cell 0  → key 0
    target[0, 1, 0, 0, 1] = True  # frame 1, cell 1  → key 3
    att = torch.tensor([[[0.4, 0.3, 0.2, 0.1]]])
    # mass = 0.4 + 0.1 = 0.5 → (1 − 0.5) / (B·T = 2) = 0.25
    assert attention_loss([att], target).item() == pytest.approx(0.25)
    with pytest.raises(ValueError):
        attention_loss([att[..., :3]], target)


def test_os8_weight_or_versus_and() -> None:
    lo, hi = 1 / 255, 254 / 255
    g = torch.tensor([[[[[0.0, 0.5, 1.0, 1.0, lo, hi]], [[0.0] * 6]]]])  # (1,1,2,1,6)
    a8 = torch.tensor([[[[[0.5, 0.0, 1.0, 0.5, 0.0, 0.0]], [[0.5, 0, 0, 0, 0, 0]]]]])
    # instance 0 is present (GT not all zero) → base 1; GT band: [F, T, F, F, T, T] (bounds
    # inclusive); coarse band: [T, F, F, T, F, F].
    # OR : 1 + [1, 1, 0, 1, 1, 1] = [2, 2, 1, 2, 2, 2];  AND: 1 + 0 = [1, 1, 1, 1, 1, 1]
    # instance 1 is absent → base 0; OR adds its coarse band [1, 0, ...]; AND adds nothing.
    w_or = os8_weight(g, a8, mode="or")
    w_and = os8_weight(g, a8, mode="and")
    assert w_or[0, 0, 0, 0].tolist() == [2, 2, 1, 2, 2, 2]
    assert w_and[0, 0, 0, 0].tolist() == [1, 1, 1, 1, 1, 1]
    assert w_or[0, 0, 1, 0].tolist() == [1, 0, 0, 0, 0, 0]
    assert w_and[0, 0, 1, 0].tolist() == [0] * 6
    # Where both are uncertain, AND gives the paper's γ = 2.
    both = os8_weight(torch.full((1, 1, 1, 1, 1), 0.5), torch.full((1, 1, 1, 1, 1), 0.5), mode="and")
    assert both.item() == 2.0
    assert os8_weight(g, a8, mode="none")[0, 0].sum().item() == 6.0
    with pytest.raises(ValueError):
        os8_weight(g, a8, mode="xor")


def test_dtssd_loss_hand_values() -> None:
    p = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.5, 1.0]]).view(1, 3, 1, 1, 2)
    g = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]]).view(1, 3, 1, 1, 2)
    # Δp: t1 [0.5, 0], t2 [0, 1];  Δg: t1 [0, 0], t2 [0, 1];  (Δp − Δg)² sums to 0.25.
    # Denominator Σ_{t≥1}(w + 1e-6) = 4 · 1.000001.
    assert dtssd_loss(p, g, torch.ones_like(p)).item() == pytest.approx(0.25 / 4.000004, rel=1e-6)
    # Only frames t ≥ 1 are weighted: zero weight on frame 1 leaves 0 / (2·1e-6 + 2·1.000001).
    w = torch.ones_like(p)
    w[:, 1] = 0
    assert dtssd_loss(p, g, w).item() == pytest.approx(0.0)
    assert dtssd_loss(p[:, :1], g[:, :1], w[:, :1]).item() == 0.0


def test_temporal_sparsity_loss_hand_values() -> None:
    zeros = torch.zeros(1, 3, 1, 1, 1)
    target = torch.tensor([1.0, 1.0, 0.0]).view(1, 3, 1, 1, 1)  # S_0 = 1 (ignored), S_1 = 1, S_2 = 0
    out = temporal_sparsity_loss(zeros, zeros, target)
    # BCE(logit 0, y) = ln 2 for y ∈ {0, 1}: forward mean ln 2 + backward mean ln 2.
    assert out["bce"].item() == pytest.approx(2 * math.log(2), rel=1e-6)
    # σ(0) = 0.5 on both pair maps → Δσ = 0; ΔS = S_2 − S_1 = −1 → (0 + 1)² = 1 per direction,
    # / (1 + 1e-6).
    assert out["dtssd"].item() == pytest.approx(2 / 1.000001, rel=1e-6)
    assert out["total"].item() == pytest.approx(0.25 * (2 * math.log(2) + 2 / 1.000001), rel=1e-6)
    # With T = 2 there is a single pair map, so no temporal derivative: only the BCE terms.
    short = temporal_sparsity_loss(zeros[:, :2], zeros[:, :2], target[:, :2])
    assert short["total"].item() == pytest.approx(0.25 * 2 * math.log(2), rel=1e-6)


def test_scale_mix() -> None:
    one, two, three = torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)
    assert scale_mix(one, two, three).item() == 2 * 1 + 2 + 3


def _output(alpha: torch.Tensor, **overrides: torch.Tensor) -> MatteOutput:
    band = torch.ones_like(alpha, dtype=torch.bool)
    fields = dict(
        alpha=alpha,
        alpha_os8=alpha,
        alpha_os4=alpha,
        alpha_os1=alpha,
        uncertainty=band,
        region_os4=band,
        region_os1=band,
        logits_os8=torch.zeros(*alpha.shape[:3], alpha.shape[-2] // 8, alpha.shape[-1] // 8),
        attention=[],
    )
    fields.update(overrides)
    return MatteOutput(**fields)  # type: ignore[arg-type]


def test_choose_refinement_weights_draws_from_the_generator() -> None:
    alpha = torch.zeros(1, 1, 1, 8, 8)
    band = torch.zeros_like(alpha, dtype=torch.bool)
    band[..., :4, :] = True
    regions = torch.zeros_like(band)
    regions[..., 0, :] = True
    out = _output(alpha, uncertainty=band, region_os4=regions, region_os1=regions)
    gen, replay = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    picks = []
    for _ in range(400):
        w4, _ = choose_refinement_weights(out, generator=gen)
        expect_regions = bool(torch.rand((), generator=replay) < 0.75)
        picks.append(expect_regions)
        assert torch.equal(w4.bool(), regions if expect_regions else band)
    assert 0.68 < sum(picks) / len(picks) < 0.82


def test_gt_regions_stay_inside_the_band() -> None:
    gt = torch.zeros(1, 1, 1, 32, 32)
    gt[..., 10:20, 10:20] = 1.0
    gt[..., 10:20, 20] = 0.5
    band = torch.zeros_like(gt, dtype=torch.bool)
    band[..., :, 18:] = True
    out = _output(gt, uncertainty=band)
    w4, w1 = choose_refinement_weights(out, generator=torch.Generator().manual_seed(0), prob=1.0, band_alpha=gt)
    assert w4.bool().any() and not (w4.bool() & ~band).any() and not (w1.bool() & ~band).any()


def test_valid_instances() -> None:
    ref = torch.zeros(1, 2, 3, 4, 4)
    ref[0, 1, 2, 0, 0] = 1
    assert valid_instances(ref).view(2, 3).tolist() == [[0, 0, 0], [0, 0, 1]]


def test_matting_loss_combines_terms() -> None:
    gt = torch.zeros(1, 1, 2, 16, 16)
    gt[0, 0, 0, 4:12, 4:12] = 1.0
    transition = torch.zeros_like(gt)
    transition[0, 0, 0, 3:13, 3:13] = 1.0  # slot 1 is padding: empty transition
    os8 = gt.clone()
    os8[0, 0, 0, 0, 0] = 0.5  # one wrong coarse pixel
    os8[0, 0, 1] = 0.7  # garbage in the padding slot: zeroed by the valid mask, no loss
    target = attention_target(gt).permute(0, 2, 3, 4, 1).reshape(1, 2, 4).float()
    perfect_att = target / target.sum(-1, keepdim=True).clamp(min=1)
    out = _output(gt, alpha_os8=os8, attention=[perfect_att])
    terms = MattingLoss()(out, {"alpha": gt, "transition": transition}, generator=torch.Generator())
    # os1/os4 are exact. W8 of slot 0: base 1 on 256 pixels, +1 where the coarse alpha is
    # uncertain (the 0.5 pixel) → Σw = 257; |w·p − w·g| = 2·0.5 = 1 → rec_os8 = 1/257.
    assert terms["rec_os1"].item() == 0 and terms["rec_os4"].item() == 0
    assert terms["rec_os8"].item() == pytest.approx(1 / 257, rel=1e-6)
    assert terms["rec"].item() == pytest.approx(1 / 257, rel=1e-6)  # 2·0 + 0 + 1/257
    assert terms["att"].item() == pytest.approx(0.0, abs=1e-6)  # all mass on the instance
    expected = terms["rec"] + 0.05 * terms["lap"] + 0.05 * terms["grad"] + 5.0 * terms["att"]
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert "dtssd" not in terms and "temp" not in terms


def test_matting_loss_video_terms_and_weights() -> None:
    gen = torch.Generator().manual_seed(0)
    gt = torch.rand(1, 3, 1, 16, 16, generator=gen)
    pred = torch.rand(1, 3, 1, 16, 16, generator=gen)
    logits = torch.randn(1, 3, 1, 16, 16, generator=gen)
    sparsity = (torch.rand(1, 3, 1, 16, 16, generator=gen) > 0.5).float()
    att = [torch.full((1, 1, 3 * 4), 1 / 12)]
    out = _output(gt, alpha_os8=pred, alpha_os4=pred, alpha_os1=pred, attention=att)
    out.sparsity_forward, out.sparsity_backward = logits, logits
    batch = {"alpha": gt, "transition": torch.ones_like(gt), "sparsity": sparsity}
    cfg = LossConfig(dtssd=1.0)
    terms = MattingLoss(config=cfg)(out, batch, generator=torch.Generator())
    assert {"dtssd", "dtssd_os1", "temp", "temp_bce", "temp_dtssd"} <= set(terms)
    expected = (
        terms["rec"] + 0.05 * terms["lap"] + 0.05 * terms["grad"] + 5 * terms["att"] + terms["dtssd"] + terms["temp"]
    )
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(KeyError):
        MattingLoss(config=cfg)(out, {"alpha": gt, "transition": batch["transition"]})
    with pytest.raises(ValueError):
        MattingLoss()(_output(gt), {"alpha": gt, "transition": batch["transition"]})
