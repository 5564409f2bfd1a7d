"""Each paper stage on tiny tensors: shapes for N = 1, 3, 10 and hand-checked behaviour."""

from __future__ import annotations

import pytest
import torch

import maggie
from maggie.models.fusion import progressive_fuse
from maggie.models.mask_embedding import MaskEmbedding
from maggie.models.temporal import ConvGRU, hard_fusion, soft_fusion
from maggie.models.uncertainty import coarse_alpha, crop_to_instance_boxes, snap_coarse, uncertainty_band
from maggie.ops.morphology import ellipse_kernel
from maggie.types import check_shape

H, W = 64, 128


@pytest.fixture(scope="module")
def tiny() -> maggie.models.MaGGIe:
    return maggie.build_model("maggie-tiny").eval()


def _masks(n: int, t: int = 1) -> torch.Tensor:
    masks = torch.zeros(1, t, n, H, W)
    for i in range(n):
        masks[0, :, i, 8:56, 10 * i : 10 * i + 16] = 1  # neighbours overlap by 6 columns
    return masks


def test_mask_embedding_averages_overlapping_instances() -> None:
    emb = MaskEmbedding(max_instances=10, embed_dim=2)
    with torch.no_grad():
        emb.table.weight.copy_(torch.arange(22.0).view(11, 2))
    masks = torch.zeros(1, 3, 1, 3)
    masks[0, 0, 0, :2] = 1  # instance 0 (row 1 = [2, 3]) covers pixels 0, 1
    masks[0, 2, 0, 1:] = 1  # instance 2 (row 3 = [6, 7]) covers pixels 1, 2
    out = emb(torch.zeros(1, 3, 1, 3), masks)
    assert out.shape == (1, 5, 1, 3)
    assert torch.allclose(out[0, 3:, 0].t(), torch.tensor([[2.0, 3.0], [4.0, 5.0], [6.0, 7.0]]), atol=1e-5)


@pytest.mark.parametrize("n", [1, 3, 10])
def test_stage_shapes(tiny: maggie.models.MaGGIe, n: int) -> None:
    image = torch.randn(1, 1, 3, H, W)
    masks = _masks(n)
    with torch.no_grad():
        x = tiny.mask_embedding(image[:, 0], masks[:, 0])
        assert x.shape == (1, 6, H, W)
        enc = tiny.encoder(x)
        c = tiny.config.encoder_channels
        assert enc.bottleneck.shape == (1, c[4], H // 32, W // 32)
        assert [tuple(s.shape[1:]) for s in enc.shortcuts] == [
            (c[0], H, W),
            (c[0], H // 2, W // 2),
            (c[1], H // 4, W // 4),
            (c[2], H // 8, W // 8),
            (c[3], H // 16, W // 16),
        ]
        feat = tiny.trunk(tiny.aspp(enc.bottleneck), enc.shortcuts[4], enc.shortcuts[3])
        assert feat.shape == (1, c[2], H // 8, W // 8)
        attended, tokens, maps, present = tiny.instance_decoder.attend(feat[None], masks, need_attention=True)
        assert attended.shape == (1, 1, c[2], H // 8, W // 8) and tokens.shape == (1, 10, c[2])
        assert len(maps) == tiny.config.attention_blocks + 1 and maps[0].shape == (1, 10, H // 8 * W // 8)
        assert present.shape == (1, n) and bool(present.all())
        out = tiny(image, masks)
    for name in ("alpha", "alpha_os8", "alpha_os4", "alpha_os1", "uncertainty", "region_os4", "region_os1"):
        assert getattr(out, name).shape == (1, 1, n, H, W), name
    assert out.logits_os8.shape == (1, 1, n, H // 8, W // 8)
    assert out.uncertainty.dtype == torch.bool
    assert 0 <= float(out.alpha.min()) and float(out.alpha.max()) <= 1


def test_entry_point_checks_shapes(tiny: maggie.models.MaGGIe) -> None:
    with pytest.raises(ValueError, match=r"image must have shape \(B, T, 3, H, W\)"):
        tiny(torch.zeros(1, 3, 64, 64), _masks(1))
    # The encoder's stride is 32: 80 = 5·16 is refused, 96 = 3·32 (not a multiple of 64) runs.
    for h, w in ((60, 64), (80, 64), (64, 80)):
        with pytest.raises(
            ValueError, match=rf"height and width must be multiples of 32 \(the encoder's stride\), got {h}×{w}"
        ):
            tiny(torch.zeros(1, 1, 3, h, w), torch.zeros(1, 1, 1, h, w))
    assert tiny(torch.zeros(1, 1, 3, 96, 160), torch.zeros(1, 1, 1, 96, 160)).alpha.shape == (1, 1, 1, 96, 160)
    with pytest.raises(ValueError, match="1 to 10 instances, got N=11"):
        tiny(torch.zeros(1, 1, 3, H, W), torch.zeros(1, 1, 11, H, W))
    with pytest.raises(ValueError, match=r"with T=1, got \(1, 2, 1, 64, 128\)"):
        tiny(torch.zeros(1, 1, 3, H, W), torch.zeros(1, 2, 1, H, W))
    sizes: dict[str, int] = {}
    check_shape("x", torch.zeros(2, 3), ("B", 3), sizes)
    assert sizes == {"B": 2}


def test_masks_given_at_one_eighth_are_upsampled_nearest(tiny: maggie.models.MaGGIe) -> None:
    image = torch.randn(1, 1, 3, H, W)
    full = torch.zeros(1, 1, 1, H, W)
    full[..., 16:40, 24:64] = 1  # aligned to the 8×8 grid, so 1/8 sampling loses nothing
    small = full[..., ::8, ::8]
    with torch.no_grad():
        assert torch.equal(tiny(image, full).alpha, tiny(image, small).alpha)


def test_coarse_alpha_is_sigmoid_of_twice_the_upsampled_logit() -> None:
    logits = torch.randn(1, 1, 2, 4, 4)
    alpha = coarse_alpha(logits, (32, 32))
    up = torch.nn.functional.interpolate(logits[0], size=(32, 32), mode="bilinear", align_corners=False)
    torch.testing.assert_close(alpha[0], torch.sigmoid(2 * up))


def test_uncertainty_band_dilates_the_transition_with_an_ellipse() -> None:
    alpha = torch.zeros(1, 1, 1, 40, 40)
    alpha[..., 20, 20] = 0.5  # one transition pixel
    alpha[..., 5, 5] = 1.0  # an opaque pixel is not uncertain
    alpha[..., 30, 5] = 1 / 255  # exactly 1/255 is not uncertain either (strict bounds)
    band = uncertainty_band(alpha, 30)
    expected = torch.zeros(40, 40, dtype=torch.bool)
    expected[13:28, 13:28] = torch.from_numpy(ellipse_kernel(15))
    assert torch.equal(band[0, 0, 0], expected)
    g = torch.Generator().manual_seed(0)
    random_band = uncertainty_band(alpha.expand(1, 1, 4, 40, 40), 30, randomize=True, generator=g)
    widths = []
    for slice_ in random_band[0, 0]:
        # Training draws each slice's ellipse width from [1, 29]: find the one that was used.
        for width in range(1, 30):
            kernel = torch.from_numpy(ellipse_kernel(width))
            c = width // 2
            placed = torch.zeros(40, 40, dtype=torch.bool)
            # Dilating a single point stamps the kernel mirrored about its anchor (w // 2).
            placed[21 + c - width : 21 + c, 21 + c - width : 21 + c] = kernel.flip(0, 1)
            if torch.equal(slice_, placed):
                widths.append(width)
                break
    assert len(widths) == 4 and len(set(widths)) > 1


def test_progressive_fusion_only_changes_pixels_inside_the_band() -> None:
    g = torch.Generator().manual_seed(1)
    a8 = (torch.rand(1, 1, 2, 32, 32, generator=g) > 0.5).float()
    a8[..., 10:20, 10:20] = 0.5
    a4 = torch.rand(1, 1, 2, 32, 32, generator=g)
    a1 = torch.rand(1, 1, 2, 32, 32, generator=g)
    band = uncertainty_band(a8, 30)
    band[..., :, :16] = False
    alpha, r4, r1 = progressive_fuse(a8, a4, a1, band, kernels=(27, 15))
    assert torch.equal(alpha[~band], a8[~band])
    assert bool((r4 <= band).all()) and bool((r1 <= band).all())
    assert torch.equal(alpha[r1], a1[r1])
    assert torch.equal(alpha[r4 & ~r1], a4[r4 & ~r1])


def test_video_snap_and_box_crop() -> None:
    alpha = torch.zeros(1, 1, 2, 128, 128)
    alpha[0, 0, 0, 50:60, 60:70] = 0.97
    snapped = snap_coarse(alpha, 0.95)
    assert float(snapped.max()) == 1.0
    band = torch.ones_like(alpha, dtype=torch.bool)
    cropped, cropped_band = crop_to_instance_boxes(snapped, band, margin=30)
    rows = cropped_band[0, 0, 0].any(dim=1).nonzero().flatten()
    cols = cropped_band[0, 0, 0].any(dim=0).nonzero().flatten()
    # The smoothed blob reaches a few pixels beyond the square (rows 50-59, cols 60-69); the box
    # adds 30 on each side.
    assert 14 <= int(rows[0]) <= 20 and 89 <= int(rows[-1]) <= 93
    assert 24 <= int(cols[0]) <= 30 and 99 <= int(cols[-1]) <= 103
    assert not cropped_band[0, 0, 0, :10].any() and not cropped_band[0, 0, 0, :, 110:].any()
    assert bool(cropped_band[0, 0, 1].all()), "an instance without a box is left unchanged"


def test_conv_gru_directions() -> None:
    gru = ConvGRU(channels=4)
    x = torch.randn(2, 3, 4, 5, 6)
    out, forward = gru(x)
    assert out.shape == forward.shape == (2, 3, 4, 5, 6)
    torch.testing.assert_close(out[:, 2], forward[:, 2])  # the last frame is forward-only
    h = forward[:, 2]
    backward1 = gru.step(x[:, 1], h)
    torch.testing.assert_close(out[:, 1], (forward[:, 1] + backward1) / 2)
    single, _ = gru(x[:, :1])
    torch.testing.assert_close(single[:, 0], gru.step(x[:, 0], torch.zeros_like(h)))


def test_soft_and_hard_temporal_fusion_by_hand() -> None:
    alpha = torch.tensor([0.2, 0.6, 0.9]).view(1, 3, 1, 1, 1)
    pf = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1, 1)
    pb = torch.tensor([0.25, 0.0, 0.0]).view(1, 3, 1, 1, 1)
    soft = soft_fusion(alpha, pf, pb).flatten().tolist()
    # forward: f0=.2, f1=.2·.5+.6·.5=.4; backward: b2=.9, b1=.9 (pb=0), b0=.9·.75+.2·.25=.725
    # frame 0 = f0, frame 1 = (f1+b1)/2 = .65, frame 2 = b2
    assert soft == pytest.approx([0.2, 0.65, 0.9])
    changed = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1, 1)
    unchanged = torch.zeros(1, 3, 1, 1, 1)
    # Middle frame unchanged both ways but prev (.3) ≠ next (.9): keep its own prediction .6.
    out = hard_fusion(alpha, unchanged, unchanged, torch.tensor([0.3]).view(1, 1, 1, 1))
    assert out.flatten().tolist() == pytest.approx([0.2, 0.6, 0.6])
    # prev == next == .9 and nothing changed: the middle frame takes .9; frame 2 changed: keeps .9.
    alpha2 = torch.tensor([0.9, 0.6, 0.9]).view(1, 3, 1, 1, 1)
    out = hard_fusion(alpha2, changed, unchanged, None)
    assert out.flatten().tolist() == pytest.approx([0.9, 0.9, 0.9])


def test_no_instance_at_all_stays_finite(tiny: maggie.models.MaGGIe) -> None:
    # The reference returns NaN here (every attention key masked); training batches can hit it.
    image = torch.randn(2, 1, 3, H, W)
    masks = _masks(2).expand(2, -1, -1, -1, -1).clone()
    masks[1] = 0
    out = tiny.train()(image, masks, generator=torch.Generator().manual_seed(0))
    tiny.eval()
    assert torch.isfinite(out.alpha).all()
    # In training, slots without a mask get no coarse matte (and so no band or loss).
    assert not out.alpha_os8[1].any() and not out.uncertainty[1].any()
    assert out.alpha_os8[0].any()


def test_empty_band_skips_refinement(tiny: maggie.models.MaGGIe) -> None:
    # A band alpha with no transition pixel gives an empty band: nothing is refined and the
    # final matte is the coarse one (the reference skips its sparse path the same way).
    image = torch.randn(1, 1, 3, H, W)
    masks = _masks(2)
    with torch.no_grad():
        out = tiny(image, masks, band_alpha=masks.clone())
    assert not out.uncertainty.any()
    assert not out.alpha_os1.any() and not out.alpha_os4.any()
    assert torch.equal(out.alpha, out.alpha_os8)
