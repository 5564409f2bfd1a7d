"""Image outputs, read-back, atomic writes and the manifest (maggie.io.outputs/atomic/manifest)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from PIL import Image

import maggie
from maggie.errors import InputError, MaggieError
from maggie.io import (
    ImageOutputs,
    Manifest,
    atomic_path,
    composite_preview,
    instance_colors,
    parse_color,
    read_alpha,
    read_manifest,
    remove_temp_files,
    write_alpha_png,
    write_cutout_png,
    write_rgb_png,
)

H, W = 48, 64


def _alpha(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    alpha = rng.random((H, W), dtype=np.float32)
    alpha[:5], alpha[-5:] = 0.0, 1.0
    return alpha


def _image() -> np.ndarray:
    return np.random.default_rng(9).integers(0, 256, (H, W, 3), dtype=np.uint8)


def test_alpha_png_8_bit_rounds(tmp_path):
    alpha = _alpha()
    path = write_alpha_png(alpha, tmp_path / "a.png")
    assert Image.open(path).mode == "L"
    back = read_alpha(path)
    assert back.dtype == np.float32 and back.shape == (H, W)
    np.testing.assert_array_equal(back * 255, np.rint(alpha * 255))
    assert np.abs(back - alpha).max() <= 0.5 / 255 + 1e-7


def test_alpha_png_16_bit(tmp_path):
    alpha = _alpha()
    path = write_alpha_png(alpha, tmp_path / "a16.png", bit_depth=16)
    assert Image.open(path).mode == "I;16"
    assert np.abs(read_alpha(path) - alpha).max() <= 1 / 65535


def test_alpha_values_outside_unit_range_are_clipped(tmp_path):
    alpha = np.full((4, 4), 1.7, np.float32)
    alpha[0] = -0.3
    back = read_alpha(write_alpha_png(alpha, tmp_path / "c.png"))
    assert back[0].max() == 0.0 and back[1:].min() == 1.0


def test_cutout_rgba_uses_estimated_foreground(tmp_path):
    pytest.importorskip("pymatting")
    # A red person over a blue background; the soft edge mixes both colours.
    alpha = np.zeros((H, W), np.float32)
    alpha[:, 20:40] = 1.0
    alpha[:, 40:48] = np.linspace(1, 0, 8, dtype=np.float32)
    red, blue = np.array([230, 20, 20.0]), np.array([10, 30, 220.0])
    image = np.rint(alpha[..., None] * red + (1 - alpha[..., None]) * blue).astype(np.uint8)
    path = write_cutout_png(image, alpha, tmp_path / "cut.png")
    with Image.open(path) as rgba:
        assert rgba.mode == "RGBA"
        pixels = np.asarray(rgba)
    np.testing.assert_array_equal(read_alpha(path) * 255, np.rint(alpha * 255))
    edge = (alpha > 0.2) & (alpha < 0.8)
    # Foreground colour at the soft edge is the person's red, not the blue-tinted image colour.
    assert np.abs(pixels[edge][:, :3].astype(float) - red).mean() < 25
    assert np.abs(image[edge].astype(float) - red).mean() > 60


def test_cutout_without_pymatting_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymatting", None)  # makes `import pymatting` fail
    with pytest.raises(MaggieError, match=r"pip install 'maggie\[cutout\]'"):
        write_cutout_png(_image(), _alpha(), tmp_path / "x.png")
    assert not list(tmp_path.iterdir())


def test_composite_preview_tint_and_background(tmp_path):
    image = np.full((H, W, 3), 100, np.uint8)
    alphas = np.zeros((2, H, W), np.float32)
    alphas[0, :, :10] = 1.0
    alphas[1, :, 30:40] = 1.0
    tinted = composite_preview(image, alphas)
    assert tinted.dtype == np.uint8 and tinted.shape == (H, W, 3)
    np.testing.assert_array_equal(tinted[:, 50:], image[:, 50:])  # no person: unchanged
    c0, c1 = instance_colors(2)
    np.testing.assert_array_equal(tinted[0, 0], np.rint((np.array(c0) + 100) / 2))
    assert not np.array_equal(tinted[0, 0], tinted[0, 35])
    green = composite_preview(image, alphas, background="#00ff00")
    np.testing.assert_array_equal(green[0, 50], [0, 255, 0])
    np.testing.assert_array_equal(green[0, 5], [100, 100, 100])
    assert np.array_equal(composite_preview(image, alphas, background=(0, 255, 0)), green)
    png = write_rgb_png(green, tmp_path / "preview.png")
    np.testing.assert_array_equal(np.asarray(Image.open(png)), green)


def test_colours():
    colors = instance_colors(12)
    assert len(set(colors)) == 12
    assert parse_color("white") == (255, 255, 255) and parse_color("#102030") == (16, 32, 48)
    with pytest.raises(MaggieError, match=r"unknown colour 'blurple'"):
        parse_color("blurple")
    with pytest.raises(MaggieError, match=r"three values in 0\.\.255"):
        parse_color((1, 2, 300))


def test_read_alpha_errors(tmp_path):
    with pytest.raises(InputError, match=r"none\.png: no such alpha file"):
        read_alpha(tmp_path / "none.png")
    Image.fromarray(_image()).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match=r"rgb\.png: image mode RGB holds no alpha"):
        read_alpha(tmp_path / "rgb.png")
    (tmp_path / "junk.png").write_bytes(b"junk")
    with pytest.raises(InputError, match=r"junk\.png: cannot read alpha"):
        read_alpha(tmp_path / "junk.png")


# ---------------------------------------------------------------- atomicity


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_png_write_leaves_nothing(tmp_path, monkeypatch, failure):
    real_save = Image.Image.save

    def half_save(self, fp, *args, **kwargs):
        real_save(self, fp, *args, **kwargs)
        with open(fp, "r+b") as handle:  # the file is there, truncated, when the failure hits
            handle.truncate(10)
        raise failure

    monkeypatch.setattr(Image.Image, "save", half_save)
    with pytest.raises(type(failure)):
        write_alpha_png(_alpha(), tmp_path / "out" / "a.png")
    assert list((tmp_path / "out").iterdir()) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, monkeypatch):
    path = write_alpha_png(_alpha(1), tmp_path / "a.png")
    before = path.read_bytes()
    monkeypatch.setattr(Image.Image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("boom")))
    with pytest.raises(OSError, match="boom"):
        write_alpha_png(_alpha(2), path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.png"]


def test_atomic_path_and_leftover_cleanup(tmp_path):
    with atomic_path(tmp_path / "x.txt") as temp:
        assert temp.parent == tmp_path and temp.suffix == ".txt" and temp.name.startswith(".")
        temp.write_text("ok")
        assert not (tmp_path / "x.txt").exists()
    assert (tmp_path / "x.txt").read_text() == "ok"
    leftover = tmp_path / "sub" / ".a.1234abcd.maggie-partial.png"
    leftover.parent.mkdir()
    leftover.write_bytes(b"half")
    assert remove_temp_files(tmp_path) == [leftover]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["sub", "x.txt"]


# ---------------------------------------------------------------- layout and manifest


def test_manifest_lists_files_settings_and_versions(tmp_path):
    layout = ImageOutputs(tmp_path / "photo", count=2)
    assert layout.alpha(1).name == "alpha_01.png" and ImageOutputs(tmp_path, 150).alpha(7).name == "alpha_007.png"
    manifest = Manifest(
        tmp_path,
        settings={"bit_depth": 16, "weights": tmp_path / "w.safetensors", "erode": np.int64(2)},
        inputs={"image": "photo.jpg"},
    )
    for i in range(2):
        manifest.add(
            write_alpha_png(_alpha(i), layout.alpha(i), bit_depth=16),
            kind="alpha",
            instance=i,
            instance_id=f"p{i}",
        )
    manifest.add("alpha_00/%06d.png", kind="alpha_sequence", instance=0, frames=(0, 4))
    path = manifest.write()
    assert path == tmp_path / "manifest.json"
    data = json.loads(path.read_text())
    assert data == read_manifest(tmp_path)
    assert data["files"][0] == {
        "path": "photo/alpha_00.png",
        "kind": "alpha",
        "instance": 0,
        "instance_id": "p0",
    }
    assert data["files"][2]["frames"] == [0, 4]
    assert data["settings"] == {"bit_depth": 16, "weights": str(tmp_path / "w.safetensors"), "erode": 2}
    assert data["inputs"] == {"image": "photo.jpg"}
    versions = data["versions"]
    assert versions["maggie"] == maggie.__version__
    assert versions["numpy"] == np.__version__ and versions["Pillow"] == Image.__version__
    assert set(versions) >= {"torch", "av"}
    with pytest.raises(ValueError, match="unknown file kind"):
        manifest.add("x", kind="thumbnail")


def test_read_manifest_errors(tmp_path):
    with pytest.raises(InputError, match=r"manifest\.json: no such manifest"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(InputError, match=r"manifest\.json: not a maggie manifest"):
        read_manifest(tmp_path / "manifest.json")


def test_importing_the_cutout_extra_keeps_torch_threads() -> None:
    # numba (under pymatting) resets torch's thread count when imported after torch has run a
    # model; a fresh process is needed because a second import changes nothing.
    import subprocess
    import sys

    code = (
        "import torch, maggie; torch.set_num_threads(1); "
        "m = maggie.build_model('maggie-tiny').eval(); "
        "m(torch.zeros(1, 1, 3, 64, 64), torch.ones(1, 1, 1, 64, 64)); "
        "from maggie.io._optional import require; require('pymatting'); print(torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
