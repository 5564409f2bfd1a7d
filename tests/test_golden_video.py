"""The video model and the streaming video matter against the reference implementation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import maggie
from conftest import fixture_model, load_case
from maggie.ops.spectral_norm import SpectralNorm

ATOL = 1e-4
# The hard fusion tests alphas of different frames for exact equality, so float noise can flip
# a few pixels; the fixtures allow at most 0.05 % of them to differ (see their README).
MISMATCH_BUDGET = 5e-4


def _mismatch(ours: np.ndarray, ref: np.ndarray) -> float:
    return float((np.abs(ours - ref) > ATOL).mean())


def test_video_model_one_clip(video_model: maggie.models.MaGGIe) -> None:
    case = load_case("video_b1_t3_n2_128x192")
    with torch.no_grad():
        out = video_model(torch.from_numpy(case["image"]), torch.from_numpy(case["masks"]))
    for name, ours in (
        ("alpha_os8", out.alpha_os8),
        ("alpha_os4", out.alpha_os4),
        ("alpha_os1", out.alpha_os1),
        ("refined_masks_decoder", out.alpha_decoder),
        ("temp_alpha", out.alpha_temporal_soft),
        ("diff_pred_forward", torch.sigmoid(out.sparsity_forward)),
        ("diff_pred_backward", torch.sigmoid(out.sparsity_backward)),
    ):
        np.testing.assert_allclose(ours.numpy(), case[name], atol=ATOL, rtol=0, err_msg=name)
    np.testing.assert_allclose(out.hidden[0].numpy(), case["mem_feat"][0], atol=1e-4 * np.abs(case["mem_feat"]).max())
    assert np.array_equal(out.uncertainty.numpy().astype(np.uint8), case["detail_mask"])
    assert _mismatch(out.alpha.numpy(), case["refined_masks"]) <= MISMATCH_BUDGET
    # The hard fusion really changed the decoder's output on this clip.
    assert not torch.equal(out.alpha, out.alpha_decoder)


@pytest.mark.parametrize("stateful", [False, True], ids=["sn-reset", "sn-stateful"])
def test_video_windowing_matches_reference(stateful: bool) -> None:
    case = load_case("video_seq6_n2_128x192")
    model = fixture_model("video")
    for module in model.modules():
        if isinstance(module, SpectralNorm):
            module.stateful_eval = stateful
    suffix = "" if stateful else "_snreset"
    matter = maggie.VideoMatter(model, short_side=int(case["short_size"]))
    results = list(matter.stream(iter(case["frames_u8"]), iter(case["masks_u8"] > 0)))
    assert [i for i, _ in results] == list(range(6))
    alpha = np.stack([a for _, a in results])
    assert alpha.shape == case["alpha_final"].shape
    assert _mismatch(alpha, case[f"alpha_final{suffix}"]) <= MISMATCH_BUDGET
    assert np.abs(alpha - case[f"alpha_final{suffix}"]).max() < 0.05
    # The two spectral-norm conventions really give different videos with these weights.
    other = "_snreset" if stateful else ""
    assert _mismatch(alpha, case[f"alpha_final{other}"]) > 0.01
