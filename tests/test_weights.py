"""Checkpoint loading: the fixture weight recipe, key mapping, strictness, safe formats."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import maggie
from conftest import OFFICIAL
from maggie.errors import WeightsError
from maggie.weights import FIXTURE_MULTIPLIERS, reference_shapes, save_weights, synthetic_reference_weights


def _fixture_module():
    spec = importlib.util.spec_from_file_location("fixture_weights", OFFICIAL / "fixture_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest(kind: str) -> dict[str, tuple[int, ...]]:
    return {k: s for k, s, _ in _fixture_module().read_manifest(OFFICIAL / f"manifest-{kind}.tsv")}


@pytest.fixture(scope="module")
def tiny() -> maggie.models.MaGGIe:
    return maggie.build_model("maggie-tiny")


@pytest.mark.parametrize("kind", ["image", "video"])
def test_model_keys_and_shapes_equal_the_reference_manifest(kind: str) -> None:
    model = maggie.build_model(f"maggie-{kind}")
    assert reference_shapes(model) == _manifest(kind)


@pytest.mark.parametrize("kind", ["image", "video"])
def test_weight_recipe_is_bit_identical_to_the_fixture_recipe(kind: str) -> None:
    fixture = _fixture_module()
    expected = fixture.make_state_dict(OFFICIAL / f"manifest-{kind}.tsv", 3, fixture.FIXTURE_MULTIPLIERS)
    ours = synthetic_reference_weights(maggie.build_model(f"maggie-{kind}"), seed=3, multipliers=FIXTURE_MULTIPLIERS)
    assert set(ours) == set(expected)
    for key, value in expected.items():
        assert ours[key].dtype == value.dtype and ours[key].shape == value.shape, key
        assert np.array_equal(ours[key], value), key


def test_reference_checkpoint_round_trip(tmp_path: Path, tiny: maggie.models.MaGGIe) -> None:
    weights = synthetic_reference_weights(tiny, seed=11)
    model = maggie.load_reference_weights(maggie.build_model("maggie-tiny"), weights)
    for fmt, reference_names in (("safetensors", True), ("safetensors", False)):
        path = save_weights(model, tmp_path / f"w-{reference_names}.{fmt}", reference_names=reference_names)
        other = maggie.load_reference_weights(maggie.build_model("maggie-tiny"), path)
        for (k, a), b in zip(model.state_dict().items(), other.state_dict().values(), strict=True):
            assert torch.equal(a, b), k
    pth = tmp_path / "w.pth"
    torch.save({"state_dict": {k: torch.from_numpy(v) for k, v in weights.items()}}, pth)
    other = maggie.load_reference_weights(maggie.build_model("maggie-tiny"), pth)
    assert torch.equal(other.mask_embedding.table.weight, torch.from_numpy(weights["encoder.mask_embed_layer.weight"]))


def test_missing_key_is_named(tiny: maggie.models.MaGGIe) -> None:
    weights = synthetic_reference_weights(tiny, seed=1)
    del weights["decoder.refine_OS1.3.bias"]
    with pytest.raises(WeightsError, match=r"missing key 'decoder\.refine_OS1\.3\.bias'"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny"), weights)


def test_unexpected_and_misshaped_keys_are_named(tiny: maggie.models.MaGGIe) -> None:
    weights = synthetic_reference_weights(tiny, seed=1)
    weights["decoder.extra.weight"] = np.zeros(3, np.float32)
    with pytest.raises(WeightsError, match=r"unexpected key 'decoder\.extra\.weight'"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny"), weights)
    weights = synthetic_reference_weights(tiny, seed=1)
    weights["aspp.conv2.weight"] = np.zeros((1, 1, 1, 1), np.float32)
    with pytest.raises(WeightsError, match=r"'aspp\.conv2\.weight' has shape \(1, 1, 1, 1\)"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny"), weights)


def test_wrong_model_kind_is_explained() -> None:
    video = synthetic_reference_weights(maggie.build_model("maggie-tiny-video"), seed=1)
    with pytest.raises(WeightsError, match="video checkpoint"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny"), video)
    image = synthetic_reference_weights(maggie.build_model("maggie-tiny"), seed=1)
    with pytest.raises(WeightsError, match="missing key 'decoder.os8_temp_module"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny-video"), image)


def test_unreadable_and_pickled_checkpoints_are_refused(tmp_path: Path) -> None:
    model = maggie.build_model("maggie-tiny")
    with pytest.raises(WeightsError, match="not found"):
        maggie.load_reference_weights(model, tmp_path / "nope.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="garbage.safetensors: not a readable checkpoint"):
        maggie.load_reference_weights(model, garbage)
    evil = tmp_path / "evil.pth"
    with evil.open("wb") as f:
        pickle.dump({"x": Path("/")}, f)  # an arbitrary object: weights_only refuses it
    with pytest.raises(WeightsError, match="evil.pth"):
        maggie.load_reference_weights(model, evil)


def test_ignored_reference_tensors_must_still_be_present(tiny: maggie.models.MaGGIe) -> None:
    weights = synthetic_reference_weights(tiny, seed=1)
    del weights["decoder.dummy_downscale.2.weight"]
    with pytest.raises(WeightsError, match="dummy_downscale.2.weight"):
        maggie.load_reference_weights(maggie.build_model("maggie-tiny"), weights)
