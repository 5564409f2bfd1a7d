"""Augmentations and guidance-mask degradations on tiny tensors: shapes, ranges, clip
consistency, determinism for a fixed generator, and masks that stay close to the alpha."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from maggie.data.config import MaskAugmentConfig
from maggie.data.transforms import geometric as geo
from maggie.data.transforms import masks as mk
from maggie.data.transforms import photometric as photo


def _person(t: int = 1, h: int = 48, w: int = 40) -> torch.Tensor:
    """A soft-edged blob (T, 1, H, W) that moves one pixel right per frame."""
    y, x = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    frames = [((1 - ((x - 15 - f) / 9) ** 2 - ((y - 26) / 16) ** 2) * 8).clamp(0, 1) for f in range(t)]
    return torch.stack(frames)[:, None]


def _iou(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a > 0.5, b > 0.5
    return float((a & b).sum()) / max(1, int((a | b).sum()))


# --- geometric -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(20, 30), (64, 90), (37, 53)])
def test_resample_matches_bilinear_resize(size):
    x = torch.randint(0, 256, (2, 3, 37, 53), dtype=torch.uint8)
    expected = F.interpolate(x.float(), size=size, mode="bilinear", align_corners=False)
    out = geo.resample(x, geo.axis_map(37, size[0], size[0], 0), geo.axis_map(53, size[1], size[1], 0))
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, expected, atol=1e-3, rtol=0)


def test_resample_window_is_crop_of_resize_with_zero_padding():
    x = torch.randint(0, 256, (1, 2, 37, 53), dtype=torch.uint8)
    full = F.interpolate(x.float(), size=(64, 90), mode="bilinear", align_corners=False)
    out = geo.resample(x, geo.axis_map(37, 64, 20, 10), geo.axis_map(53, 90, 30, -5))
    torch.testing.assert_close(out[..., 5:], full[..., 10:30, :25], atol=1e-3, rtol=0)
    assert out[..., :5].abs().max() == 0


def test_random_crop_contains_the_people_and_is_deterministic():
    alpha = torch.zeros(2, 2, 120, 160, dtype=torch.uint8)
    alpha[:, 0, 70:110, 100:130] = 255
    frames = torch.randint(0, 256, (2, 3, 120, 160), dtype=torch.uint8)
    fg = (alpha > 127).flatten(0, 1).any(0)
    for seed in range(5):
        img, al = geo.random_crop([frames, alpha], fg, (120, 160), 48, np.random.default_rng(seed), padding_crop_p=0)
        img2, _ = geo.random_crop([frames, alpha], fg, (120, 160), 48, np.random.default_rng(seed), padding_crop_p=0)
        assert img.shape == (2, 3, 48, 48) and al.shape == (2, 2, 48, 48)
        assert torch.equal(img, img2)
        assert (al[:, 0] > 127).any()
        torch.testing.assert_close(al[0], al[1])  # same window for every frame


def test_padding_crop_keeps_the_whole_frame():
    frames = torch.full((1, 3, 30, 60), 200, dtype=torch.uint8)
    fg = torch.zeros(30, 60, dtype=torch.bool)
    (out,) = geo.random_crop([frames], fg, (30, 60), 32, np.random.default_rng(0), padding_crop_p=1.0)
    assert out.shape == (1, 3, 32, 32)
    assert out[0, 0, 16, :].min() > 199  # middle rows are image
    assert out[0, 0, 0, :].max() == 0 and out[0, 0, -1, :].max() == 0  # pad rows are zero


def test_warp_affine_identity_and_shared_across_frames():
    x = torch.rand(3, 4, 20, 24)
    torch.testing.assert_close(geo.warp_affine(x, np.eye(3)), x, atol=1e-5, rtol=0)
    matrix = geo.random_affine_matrix((20, 24), np.random.default_rng(0))
    same = torch.rand(1, 4, 20, 24).expand(3, -1, -1, -1)
    warped = geo.warp_affine(same, matrix)
    torch.testing.assert_close(warped[0], warped[2])
    shift = geo.warp_affine(x, geo.affine_matrix((20, 24), translate=(2, 0)))
    torch.testing.assert_close(shift[..., 2:], x[..., :-2], atol=1e-5, rtol=0)


# --- photometric -----------------------------------------------------------------------------


def test_gamma_draws_are_truncated_and_reproducible():
    rng = np.random.default_rng(0)
    gammas = [photo.random_gamma(rng) for _ in range(200)]
    assert 0.5 <= min(gammas) and max(gammas) <= 1.5
    assert gammas[:5] == [photo.random_gamma(np.random.default_rng(0))] + gammas[1:5]
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(photo.adjust_gamma(x, 1.0), x)
    assert (photo.adjust_gamma(x, 0.5) >= x - 1e-6).all()


def test_noise_jpeg_and_channel_shift_stay_in_range():
    x = torch.rand(2, 3, 16, 16)
    n1 = photo.add_gaussian_noise(x, 0.05, np.random.default_rng(1))
    n2 = photo.add_gaussian_noise(x, 0.05, np.random.default_rng(1))
    assert torch.equal(n1, n2) and n1.min() >= 0 and n1.max() <= 1
    assert not torch.equal(n1[0], n1[1] - x[1] + x[0])  # independent noise per frame
    j = photo.jpeg_compress(x, 30)
    assert j.shape == x.shape and 0 <= j.min() and j.max() <= 1
    assert (j - x).abs().mean() < 0.25
    c = photo.channel_shift(x, (0.1, 0.0, -0.1))
    assert c.shape == x.shape and 0 <= c.min() and c.max() <= 1


def test_motion_blur_kernel_and_consistency():
    taps = photo.motion_blur_kernel(9, 30.0)
    assert abs(sum(w for _, _, w in taps) - 1) < 1e-9
    assert {(dy, dx) for dy, dx, _ in taps} >= {(-2, -3), (0, 0), (2, 3)}  # a line at 30°
    assert [(dy, dx) for dy, dx, _ in photo.motion_blur_kernel(5, 90.0)] == [(d, 0) for d in range(-2, 3)]
    constant = torch.full((2, 3, 12, 12), 0.3)
    torch.testing.assert_close(photo.motion_blur(constant, taps), constant)
    frame = torch.rand(1, 3, 12, 12)
    blurred = photo.motion_blur(frame.expand(2, -1, -1, -1), taps)
    torch.testing.assert_close(blurred[0], blurred[1])
    horizontal = photo.motion_blur(frame, photo.motion_blur_kernel(3, 0.0))
    expected = (F.pad(frame, (1, 1, 0, 0), mode="replicate").unfold(-1, 3, 1)).mean(-1)
    torch.testing.assert_close(horizontal, expected)


# --- guidance masks --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 6, 7])
def test_square_morphology_matches_brute_force(size):
    m = torch.rand(20, 24) > 0.7
    a, b = size // 2, size - 1 - size // 2  # OpenCV's anchor: the window is [x - a, x + b]
    padded_d = torch.nn.functional.pad(m.float(), (a, b, a, b), value=0)
    padded_e = torch.nn.functional.pad(m.float(), (a, b, a, b), value=1)  # outside never erodes
    windows_d = padded_d.unfold(0, size, 1).unfold(1, size, 1)
    windows_e = padded_e.unfold(0, size, 1).unfold(1, size, 1)
    assert torch.equal(mk.square_dilate(m.float(), size), windows_d.amax((-2, -1)))
    assert torch.equal(mk.square_erode(m.float(), size), windows_e.amin((-2, -1)))


def test_random_binarize_is_deterministic_and_binary():
    alpha = _person(t=2).expand(2, 3, -1, -1)
    a = mk.random_binarize(alpha, np.random.default_rng(3), max_kernel=6)
    b = mk.random_binarize(alpha, np.random.default_rng(3), max_kernel=6)
    assert torch.equal(a, b) and a.shape == alpha.shape
    assert set(a.unique().tolist()) <= {0.0, 1.0}
    assert all(_iou(a[f, k], alpha[f, k]) > 0.5 for f in range(2) for k in range(3))


def test_down_up_cut_dropout_and_blocks():
    person = _person(t=3)
    masks = (torch.cat([person, person.flip(-1)], 1) > 0.5).float()
    rng = np.random.default_rng(0)
    du = mk.down_up(masks, rng, p=1.0, scale=0.25)
    assert du.shape == masks.shape and set(du.unique().tolist()) <= {0.0, 1.0}
    assert _iou(du[0, 0], masks[0, 0]) > 0.7
    cuts = [mk.cut_masks(masks, np.random.default_rng(s), p=1.0) for s in range(6)]
    assert all(c.shape == masks.shape and set(c.unique().tolist()) <= {0.0, 1.0} for c in cuts)
    assert sum(not torch.equal(c, masks) for c in cuts) >= 4
    drop = mk.mask_dropout(masks, np.random.default_rng(2), p=1.0, min_masks=6)
    assert (drop <= masks).all() and drop.sum() < masks.sum()
    assert torch.equal(mk.mask_dropout(masks[:1], np.random.default_rng(2), p=1.0, min_masks=6), masks[:1])
    blocks = mk.block_nearest(masks, 8)
    expected = F.interpolate(masks[..., ::8, ::8], size=masks.shape[-2:], mode="nearest")
    assert torch.equal(blocks, expected)


def test_degrade_masks_mostly_overlaps_alpha():
    alpha = _person(t=2, h=64, w=64).expand(2, 3, -1, -1).contiguous()
    config = MaskAugmentConfig(binarize_max_kernel=6, dropout_p=1.0)
    a = mk.degrade_masks(alpha, np.random.default_rng(5), config)
    assert torch.equal(a, mk.degrade_masks(alpha, np.random.default_rng(5), config))
    assert a.shape == alpha.shape and set(a.unique().tolist()) <= {0.0, 1.0}
    ious = [_iou(a[f, k], alpha[f, k]) for f in range(2) for k in range(3)]
    assert np.mean(ious) > 0.6 and min(ious) > 0.2
    assert any(not torch.equal(a[f, k], (alpha[f, k] > 0.5).float()) for f in range(2) for k in range(3))


def test_small_instances():
    alpha = torch.zeros(2, 3, 50, 50)
    alpha[:, 0, 10:40, 10:40] = 1
    alpha[0, 1, 0:1, 0:1] = 1  # 1 px = 0.04 % < 0.1 %
    alpha[1, 2, 0:5, 0:5] = 1  # present in one frame only: kept
    assert mk.small_instances(alpha, 0.001) == [1]


def test_simulated_predicted_masks_are_exclusive_and_close():
    t, h, w = 4, 64, 64
    alpha = torch.zeros(t, 2, h, w)
    alpha[:, 0, 10:60, 5:35] = 1
    alpha[:, 1, 20:60, 30:60] = 1
    alpha[:, 0, 20:60, 30:35] = 0  # person 1 is in front
    m = mk.simulate_predicted_masks(alpha, np.random.default_rng(0), dropout_p=1.0)
    assert torch.equal(m, mk.simulate_predicted_masks(alpha, np.random.default_rng(0), dropout_p=1.0))
    assert m.shape == alpha.shape and (m.sum(1) <= 1).all()
    assert all(_iou(m[f, k], alpha[f, k]) > 0.6 for f in range(t) for k in range(2))
