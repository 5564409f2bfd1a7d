"""Whole-model invariants: every parameter learns, no NaNs, image = video with T = 1."""

from __future__ import annotations

import pytest
import torch

import maggie
from conftest import fixture_model


def _batch(b: int, t: int, n: int, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    image = torch.randn(b, t, 3, size, size, generator=g)
    masks = torch.zeros(b, t, n, size, size)
    for i in range(n):
        masks[:, :, i, 8 + 4 * i : 40 + 4 * i, 10 + 6 * i : 30 + 6 * i] = 1
    return image, masks


@pytest.mark.parametrize(
    "name,t", [("maggie-tiny", 1), ("maggie-tiny-video", 3), ("maggie-image", 1), ("maggie-video", 3)]
)
def test_every_parameter_receives_a_gradient(name: str, t: int) -> None:
    torch.manual_seed(0)
    model = maggie.build_model(name).train()
    image, masks = _batch(2, t, 3)
    out = model(image, masks, generator=torch.Generator().manual_seed(0))
    assert out.uncertainty.any(), "the band must be non-empty for the refinement to train"
    loss = sum(x.mean() for x in (out.alpha, out.alpha_os8, out.alpha_os4, out.alpha_os1))
    loss = loss + sum(a.mean() for a in out.attention)
    if out.sparsity_forward is not None:
        loss = loss + out.sparsity_forward.mean() + out.sparsity_backward.mean()
    loss.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    # Row 0 of the mask embedding is reserved for "no instance" and is never read (as in the
    # released model); all other parameters must learn.
    assert no_grad == [], no_grad
    for p in model.parameters():
        assert torch.isfinite(p.grad).all()


def test_training_step_reduces_a_simple_loss() -> None:
    torch.manual_seed(0)
    model = maggie.build_model("maggie-tiny").train()
    image, masks = _batch(2, 1, 2)
    target = masks
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(8):
        out = model(image, masks, band_alpha=target, generator=torch.Generator().manual_seed(step))
        loss = (out.alpha - target).abs().mean() + (out.alpha_os8 - target).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_dense_and_sparse_refinement_give_the_same_model_output() -> None:
    model = fixture_model("image")
    dense = fixture_model("image")
    dense.dense_refinement = True
    image, masks = _batch(1, 1, 3, size=128)
    with torch.no_grad():
        a, b = model(image, masks), dense(image, masks)
    torch.testing.assert_close(a.alpha, b.alpha, atol=1e-4, rtol=0)
    assert torch.equal(a.uncertainty, b.uncertainty)


def test_image_model_and_video_model_share_the_non_temporal_path() -> None:
    """With the same shared weights and T = 1, the video model's non-temporal features, kernels
    and band inputs equal the image model's; only the Conv-GRU (coarse matte) and the video-only
    post-processing differ, as in the reference."""
    video = fixture_model("video")
    image_model = maggie.build_model("maggie-image").eval()
    shared = {k: v for k, v in video.state_dict().items() if not k.startswith("temporal_")}
    image_model.load_state_dict(shared, strict=True)
    image, masks = _batch(1, 1, 2, size=128)
    with torch.no_grad():
        feats = []
        for m in (image_model, video):
            x = m.mask_embedding(image[:, 0], masks[:, 0])
            enc = m.encoder(x)
            f8 = m.trunk(m.aspp(enc.bottleneck), enc.shortcuts[4], enc.shortcuts[3])
            attended, tokens, _, _ = m.instance_decoder.attend(f8[None], masks, need_attention=False)
            feats.append((attended, m.instance_decoder.kernels(tokens), m.instance_decoder.head(attended[0])))
        out_image, out_video = image_model(image, masks), video(image, masks)
    for a, b in zip(*feats, strict=True):
        assert torch.equal(a, b)
    assert out_video.alpha.shape == out_image.alpha.shape == (1, 1, 2, 128, 128)
    assert not torch.equal(out_video.alpha_os8, out_image.alpha_os8)  # the GRU shapes the coarse matte
