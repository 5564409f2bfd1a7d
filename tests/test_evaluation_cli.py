"""`maggie eval` (a shell over `maggie.evaluate`) with stub models, and the harness with the real matters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import maggie
from maggie import cli
from maggie.weights import save_weights
from test_evaluation import (
    MaskMatter,
    MaskVideoMatter,
    _read_csv,
    make_him2k,
    make_vhim,
)


class _StubModel:
    def __init__(self, name: str) -> None:
        self.name = name


def _install_stubs(monkeypatch: pytest.MonkeyPatch, seen: dict[str, object]) -> None:
    def build_model(name: str) -> _StubModel:
        seen["model"] = name
        return _StubModel(name)

    def load_reference_weights(model: _StubModel, path: str) -> _StubModel:
        seen["weights"] = path
        return model

    def image_matter(model: _StubModel, *, device: str, short_side: int) -> MaskMatter:
        seen["matter"] = ("image", model.name, device, short_side)
        return MaskMatter()

    def video_matter(model: _StubModel, *, device: str, short_side: int) -> MaskVideoMatter:
        seen["matter"] = ("video", model.name, device, short_side)
        return MaskVideoMatter()

    monkeypatch.setattr(maggie, "build_model", build_model, raising=False)
    monkeypatch.setattr(maggie, "load_reference_weights", load_reference_weights, raising=False)
    monkeypatch.setattr(maggie, "ImageMatter", image_matter, raising=False)
    monkeypatch.setattr(maggie, "VideoMatter", video_matter, raising=False)


def test_cli_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    make_him2k(tmp_path / "him")
    seen: dict[str, object] = {}
    _install_stubs(monkeypatch, seen)
    out = tmp_path / "out"
    code = cli.main(
        [
            "eval",
            str(tmp_path / "him"),
            "--weights",
            "w.safetensors",
            "--out",
            str(out),
            "--mask-sources",
            "src_a",
            "--short-side",
            "320",
            "--no-progress",
        ]
    )
    assert code == 0
    assert seen == {
        "model": "maggie-image",
        "weights": "w.safetensors",
        "matter": ("image", "maggie-image", "cpu", 320),
    }
    stdout = capsys.readouterr().out
    assert "maggie eval: layout him2k, reference convention" in stdout and "comp/src_a/c:" in stdout
    assert (out / "summary.csv").is_file() and (out / "samples.csv").is_file()

    code = cli.main(
        [
            "eval",
            str(tmp_path / "him"),
            "--weights",
            "w",
            "--out",
            str(out),
            "--strict",
            "--convention",
            "conventional",
            "--no-progress",
        ]
    )
    assert code == 2
    assert "maggie eval: error: comp/src_a/c: missing file" in capsys.readouterr().err


def test_cli_eval_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("cv2", reason="MESSDdt needs OpenCV's Farneback flow (maggie[eval])")
    make_vhim(tmp_path / "vhim")
    seen: dict[str, object] = {}
    _install_stubs(monkeypatch, seen)
    code = cli.main(
        [
            "eval",
            str(tmp_path / "vhim"),
            "--layout",
            "vhim",
            "--weights",
            "v",
            "--out",
            str(tmp_path / "out"),
            "--subsets",
            "comp_hard",
            "--device",
            "cuda:1",
            "--no-progress",
        ]
    )
    assert code == 0
    assert seen["matter"] == ("video", "maggie-video", "cuda:1", 576)
    assert "comp_hard" in capsys.readouterr().out


@pytest.mark.slow
def test_real_image_matter_through_api_and_cli(tmp_path: Path, image_model: torch.nn.Module) -> None:
    """The released image architecture (fixture weights, untrained) runs through the harness, and
    `maggie eval --weights` (build_model + load_reference_weights + ImageMatter) gives the same numbers."""
    make_him2k(tmp_path / "him")
    selection = {"mask_sources": ["src_a"], "subsets": ["comp"]}
    api = maggie.evaluate(maggie.ImageMatter(image_model, short_side=64), tmp_path / "him", progress=False, **selection)
    values = api.groups[0].values()
    assert api.groups[0].count("ok") == 3 and all(np.isfinite(v) for v in values.values())
    weights = save_weights(image_model, tmp_path / "image.safetensors")
    code = cli.main(
        [
            "eval",
            str(tmp_path / "him"),
            "--weights",
            str(weights),
            "--out",
            str(tmp_path / "out"),
            "--short-side",
            "64",
            "--mask-sources",
            "src_a",
            "--subsets",
            "comp",
            "--no-progress",
        ]
    )
    assert code == 0
    (row,) = _read_csv(tmp_path / "out" / "summary.csv")
    for metric, value in values.items():
        assert float(row[metric]) == pytest.approx(value, rel=1e-9)


@pytest.mark.slow
def test_real_video_matter(tmp_path: Path, video_model: torch.nn.Module) -> None:
    pytest.importorskip("cv2", reason="MESSDdt needs OpenCV's Farneback flow (maggie[eval])")
    make_vhim(tmp_path)
    result = maggie.evaluate(
        maggie.VideoMatter(video_model, short_side=64),
        tmp_path,
        layout="vhim",
        subsets=["comp_hard"],
        progress=False,
    )
    values = result.groups[0].values()
    assert result.groups[0].count("ok") == 1 and all(np.isfinite(v) for v in values.values())
