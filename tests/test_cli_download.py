"""``maggie download`` and the installed-weights lookup, offline: checkpoints served from ``file://`` URLs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import maggie
from maggie import hub
from maggie.cli import main
from maggie.weights import save_weights, synthetic_reference_weights

RELEASES = dict(hub.RELEASES)  # before the fixture below swaps them


@pytest.fixture(autouse=True)
def tiny_release(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the released image/video architectures the tiny ones (same code path, faster checks),
    with unreachable default URLs and an empty weights home."""
    for kind, architecture in (("image", "maggie-tiny"), ("video", "maggie-tiny-video")):
        release = hub.RELEASES[kind]
        monkeypatch.setitem(
            hub.RELEASES,
            kind,
            hub.Release("file:///nonexistent/model.safetensors", release.filename, architecture),
        )
    monkeypatch.setenv("MAGGIE_HOME", str(tmp_path / "home"))


def checkpoint(folder: Path, architecture: str) -> Path:
    """A checkpoint keyed like the released ones, named like them."""
    model = maggie.build_model(architecture)
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=2))
    folder.mkdir(parents=True, exist_ok=True)
    return save_weights(model, folder / "model.safetensors")


def test_download_installs_a_checked_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = checkpoint(tmp_path / "server", "maggie-tiny")
    assert main(["download", "image", "--url", source.as_uri(), "--no-progress"]) == 0
    installed = tmp_path / "home" / "maggie-image.safetensors"
    assert capsys.readouterr().out == f"image weights installed: {installed}\n"
    assert installed.read_bytes() == source.read_bytes()
    assert sorted(p.name for p in installed.parent.iterdir()) == ["maggie-image.safetensors"]


def test_installed_weights_are_the_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = checkpoint(tmp_path / "server", "maggie-tiny")
    assert main(["download", "image", "--url", source.as_uri(), "--no-progress"]) == 0
    Image.fromarray(np.full((48, 64, 3), 128, np.uint8)).save(tmp_path / "a.png")
    label = np.zeros((48, 64), np.uint8)
    label[8:40, 10:30] = 1
    Image.fromarray(label).save(tmp_path / "a_labels.png")
    argv = [
        "image",
        str(tmp_path / "a.png"),
        "--masks",
        str(tmp_path / "a_labels.png"),
        "--out",
        str(tmp_path / "out"),
        "--model",
        "maggie-tiny",
        "--short-side",
        "0",
        "--device",
        "cpu",
        "--no-progress",
    ]
    assert main(argv) == 0
    assert "warning" not in capsys.readouterr().err
    weights = maggie.io.read_manifest(tmp_path / "out")["settings"]["weights"]
    assert weights == {
        "source": "file",
        "path": str(tmp_path / "home" / "maggie-image.safetensors"),
        "installed": True,
    }


def test_download_to_a_folder_and_already_installed(tmp_path: Path) -> None:
    source = checkpoint(tmp_path / "server", "maggie-tiny-video")
    path = maggie.download_weights("video", to=tmp_path / "weights", url=source.as_uri(), progress=False)
    assert path == tmp_path / "weights" / "maggie-video.safetensors" and path.is_file()
    # Installed already: nothing is fetched (the default URL here would fail).
    assert maggie.download_weights("video", to=tmp_path / "weights", progress=False) == path
    with pytest.raises(maggie.errors.MaggieError, match="could not download file:///nonexistent"):
        maggie.download_weights("video", to=tmp_path / "weights", force=True, progress=False)
    assert path.read_bytes() == source.read_bytes()  # a failed forced download keeps the old file


def test_a_file_that_is_no_checkpoint_is_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "server").mkdir()
    (tmp_path / "server" / "model.safetensors").write_text("<html>rate limited</html>")
    url = (tmp_path / "server" / "model.safetensors").as_uri()
    assert main(["download", "image", "--url", url, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"maggie download: error: {url}: the downloaded file is not a readable checkpoint (")
    assert err.endswith("); nothing was installed\n")
    assert list((tmp_path / "home").iterdir()) == []


def test_a_checkpoint_of_the_other_model_is_removed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = checkpoint(tmp_path / "server", "maggie-tiny-video")
    assert main(["download", "image", "--url", source.as_uri(), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"maggie download: error: {source.as_uri()}: unexpected key 'decoder.")
    assert err.endswith("; the downloaded file does not fit the image model, nothing was installed\n")
    assert list((tmp_path / "home").iterdir()) == []


def test_unreachable_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["download", "video", "--no-progress"]) == 2
    assert capsys.readouterr().err == (
        "maggie download: error: could not download file:///nonexistent/model.safetensors ([Errno 2] No "
        "such file or directory: '/nonexistent/model.safetensors'); downloading needs internet access. "
        "Alternatively fetch the file by other means and pass it with --weights PATH\n"
    )
    assert not (tmp_path / "home").exists() or list((tmp_path / "home").iterdir()) == []


def test_release_urls_are_the_hugging_face_checkpoints() -> None:
    assert {kind: (r.url, r.filename, r.architecture) for kind, r in RELEASES.items()} == {
        "image": (
            "https://huggingface.co/chuonghm/maggie-image-him50k-cvpr24/resolve/main/model.safetensors",
            "maggie-image.safetensors",
            "maggie-image",
        ),
        "video": (
            "https://huggingface.co/chuonghm/maggie-video-vim2k5-cvpr24/resolve/main/model.safetensors",
            "maggie-video.safetensors",
            "maggie-video",
        ),
    }


@pytest.mark.parametrize("architecture", [None, "maggie-image"])  # the jobs name it explicitly
def test_untrained_demo_weights_of_the_released_architecture_give_a_thin_band(
    monkeypatch: pytest.MonkeyPatch, architecture: str | None
) -> None:
    """Plain random weights put every pixel in the band, which makes the demo several times slower
    than a real checkpoint; the demo weights of the released architecture must not."""
    monkeypatch.setattr(hub, "RELEASES", RELEASES)
    model = maggie.load_model("image", "untrained", device="cpu", architecture=architecture)
    yy, xx = np.mgrid[:128, :128]
    image = np.stack([yy * 2, xx * 2, (yy + xx) % 256], axis=-1).astype(np.uint8)
    masks = ((yy - 64) ** 2 / 50**2 + (xx - 64) ** 2 / 30**2 < 1)[None]
    bands = []
    model.refiner.register_forward_hook(lambda module, args, output: bands.append(args[3]))
    maggie.ImageMatter(model, short_side=128).predict(image, masks)
    assert 0 < float(bands[0].float().mean()) < 0.5
