"""Bad inputs, weights and flags: one ``maggie <cmd>: error: ...`` line, exit status 2, no partial files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import maggie
from maggie.cli import main
from maggie.weights import save_weights, synthetic_reference_weights

H, W = 48, 64
TINY = ["--model", "maggie-tiny", "--short-side", "0", "--device", "cpu", "--no-progress"]
TINY_VIDEO = ["--model", "maggie-tiny-video", "--short-side", "0", "--device", "cpu", "--no-progress"]


def picture(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3), dtype=np.uint8)


def mask(size: tuple[int, int] = (H, W), box: tuple[int, int, int, int] = (8, 40, 10, 30)) -> Image.Image:
    array = np.zeros(size, dtype=np.uint8)
    array[box[0] : box[1], box[2] : box[3]] = 255
    return Image.fromarray(array)


@pytest.fixture
def image_case(tmp_path: Path) -> Path:
    """``a.png`` with two valid masks in ``masks/``."""
    Image.fromarray(picture()).save(tmp_path / "a.png")
    (tmp_path / "masks").mkdir()
    mask().save(tmp_path / "masks" / "0.png")
    mask(box=(10, 44, 34, 60)).save(tmp_path / "masks" / "1.png")
    return tmp_path


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def fails(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run the CLI, expect exit status 2 and one error line, the last on stderr; return it.

    Warnings may come first (``--weights untrained`` announces itself before inputs are read).
    """
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert [": error: " in line for line in lines] == [False] * (len(lines) - 1) + [True], lines
    assert all(": warning: " in line for line in lines[:-1]), lines
    return lines[-1]


def image_argv(case: Path, *extra: str, image: str = "a.png", masks: str = "masks") -> list[str]:
    return ["image", str(case / image), "--masks", str(case / masks), "--out", str(case / "out"), *extra]


def test_unreadable_image(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image_case / "a.png").write_bytes(b"not a picture")
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY))
    assert line == f"maggie image: error: {image_case / 'a.png'}: not an image file Pillow can read"
    assert files(image_case / "out") == []


def test_missing_input(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY, image="nope.jpg"))
    assert line == f"maggie image: error: {image_case / 'nope.jpg'}: no such file or folder"


def test_mask_of_another_size(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask((30, 40)).save(image_case / "masks" / "1.png")
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY))
    assert line == (
        f"maggie image: error: {image_case / 'masks' / '1.png'}: mask is 40x30 but the image a.png is "
        "64x48 (width x height)"
    )
    assert files(image_case / "out") == []


def test_empty_mask(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mask(box=(0, 0, 0, 0)).save(image_case / "masks" / "1.png")
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY))
    assert line == (
        f"maggie image: error: {image_case / 'masks' / '1.png'}: instance mask is empty "
        "(no pixel at half intensity or above)"
    )


def test_masks_eroded_away(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", "--erode", "20", *TINY))
    assert line == (
        f"maggie image: error: {image_case / 'masks'}: every instance mask is empty after erode=20, dilate=0"
    )
    assert files(image_case / "out") == []


def test_batch_with_masks_missing_for_one_image(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "images").mkdir()
    for seed, stem in enumerate("ab"):
        Image.fromarray(picture(seed)).save(tmp_path / "images" / f"{stem}.png")
    (tmp_path / "masks" / "a").mkdir(parents=True)
    mask().save(tmp_path / "masks" / "a" / "0.png")
    line = fails(capsys, image_argv(tmp_path, "--weights", "untrained", *TINY, image="images"))
    root = tmp_path / "masks"
    expected = f"{root / 'b'}/ or {root / 'b.png'}"
    assert line == f"maggie image: error: {root}: no masks for image b.png (expected {expected})"
    assert files(tmp_path / "out") == []  # checked before image a was processed


def test_coco_file_without_the_image(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image_case / "masks.json").write_text('{"images": [{"id": 1, "file_name": "other.png"}], "annotations": []}')
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY, masks="masks.json"))
    assert line == f"maggie image: error: {image_case / 'masks.json'}: no image entry with file_name 'a.png'"


def test_no_installed_weights(
    image_case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAGGIE_HOME", str(image_case / "empty_home"))
    line = fails(capsys, image_argv(image_case, *TINY))
    assert line == (
        f"maggie image: error: no trained image weights are installed (looked for "
        f"{image_case / 'empty_home' / 'maggie-image.safetensors'}). Download them with "
        "`maggie download image` (needs internet; Python: maggie.download_weights('image')), or pass "
        "--weights PATH to a checkpoint; "
        "--weights untrained runs deterministic random demo weights whose mattes are not meaningful"
    )
    assert files(image_case / "out") == []


def _checkpoint(folder: Path, name: str) -> Path:
    model = maggie.build_model(name)
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=1))
    return save_weights(model, folder / f"{name}.safetensors")


def test_video_weights_for_the_image_model(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _checkpoint(image_case, "maggie-tiny-video")
    line = fails(capsys, image_argv(image_case, "--weights", str(path), *TINY))
    assert line.startswith(f"maggie image: error: {path}: unexpected key 'decoder.")
    assert line.endswith(
        "(this looks like a video checkpoint: build the model with build_model('maggie-video')); "
        "the image model needs image weights (`maggie download image`)"
    )


def test_image_weights_for_the_video_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _checkpoint(tmp_path, "maggie-tiny")
    (tmp_path / "frames").mkdir()
    Image.fromarray(picture()).save(tmp_path / "frames" / "0.png")
    (tmp_path / "masks").mkdir()
    mask().save(tmp_path / "masks" / "0.png")
    line = fails(
        capsys,
        [
            "video",
            str(tmp_path / "frames"),
            "--masks",
            str(tmp_path / "masks"),
            "--out",
            str(tmp_path / "out"),
            "--weights",
            str(path),
            *TINY_VIDEO,
        ],
    )
    assert line.startswith(f"maggie video: error: {path}: missing key 'decoder.")
    assert line.endswith(
        "(an image checkpoint cannot fill a video model); the video model needs video weights (`maggie download video`)"
    )


def test_unreadable_checkpoint(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image_case / "w.safetensors").write_bytes(b"\x00" * 64)
    line = fails(capsys, image_argv(image_case, "--weights", str(image_case / "w.safetensors"), *TINY))
    assert line.startswith(f"maggie image: error: {image_case / 'w.safetensors'}: not a readable checkpoint")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--erode", "-1"], "erode must be a pixel radius >= 0, got -1"),
        (["--band-kernel", "0"], "band_kernel must be a positive number of pixels or None, got 0"),
        (["--outputs", "alpha,matte"], "outputs must be some of alpha, cutout, preview (unknown 'matte')"),
        (["--outputs", ","], "outputs must be some of alpha, cutout, preview (none given)"),
        (["--background", "greenish"], "unknown colour 'greenish' (use a name such as 'green' or '#00ff00')"),
        (["--device", "tpu"], "unknown device 'tpu' (use auto, cpu, cuda or cuda:N)"),
    ],
)
def test_bad_setting_values(
    image_case: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    argv = image_argv(image_case, "--weights", "untrained", *TINY, *flags)
    assert fails(capsys, argv) == f"maggie image: error: {message}"
    assert files(image_case / "out") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY, "--device", "cuda"))
    assert line == (
        "maggie image: error: device 'cuda' was requested but CUDA is not available (use --device cpu or auto)"
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--bit-depth", "12"], "argument --bit-depth: invalid choice: 12 (choose from 8, 16)"),
        (
            ["--overlap-rule", "biggest"],
            "argument --overlap-rule: invalid choice: 'biggest' (choose from smaller, first, last)",
        ),
        (
            ["--short-side", "-3"],
            "argument --short-side: expected a number of pixels >= 0 (0 keeps the size), got '-3'",
        ),
        (
            ["--mask-format", "png"],
            "argument --mask-format: invalid choice: 'png' (choose from auto, folder, label, coco)",
        ),
        (["--erode", "two"], "argument --erode: invalid int value: 'two'"),
    ],
)
def test_bad_flag_syntax(image_case: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(image_argv(image_case, *flags))
    assert exit_info.value.code == 2
    # Python versions differ in quoting argparse choices.
    assert capsys.readouterr().err.splitlines()[-1].replace("'", "") == f"maggie image: error: {message}".replace(
        "'", ""
    )


def test_output_location_is_a_file(image_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (image_case / "out").write_text("")
    line = fails(capsys, image_argv(image_case, "--weights", "untrained", *TINY))
    assert line == f"maggie image: error: {image_case / 'out'}: the output location exists and is not a folder"


@pytest.fixture
def video_case(tmp_path: Path) -> Path:
    """``frames/`` (4 frames) with per-frame masks of one person in ``masks/<frame>/p.png``."""
    (tmp_path / "frames").mkdir()
    for t in range(4):
        Image.fromarray(picture(t)).save(tmp_path / "frames" / f"{t:04d}.png")
        (tmp_path / "masks" / f"{t:04d}").mkdir(parents=True)
        mask(box=(8, 40, 10 + t, 30 + t)).save(tmp_path / "masks" / f"{t:04d}" / "p.png")
    return tmp_path


def video_argv(case: Path, *extra: str, video: str = "frames") -> list[str]:
    return [
        "video",
        str(case / video),
        "--masks",
        str(case / "masks"),
        "--out",
        str(case / "out"),
        "--weights",
        "untrained",
        *TINY_VIDEO,
        *extra,
    ]


def test_unreadable_video_file(video_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("av")
    (video_case / "clip.mp4").write_bytes(b"\x00" * 1000)
    line = fails(capsys, video_argv(video_case, video="clip.mp4"))
    assert line.startswith(f"maggie video: error: {video_case / 'clip.mp4'}: not a video file FFmpeg can read (")
    assert files(video_case / "out") == []


def test_image_given_to_maggie_video(video_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = fails(capsys, video_argv(video_case, video="frames/0000.png"))
    assert line == (
        f"maggie video: error: {video_case / 'frames' / '0000.png'}: is an image, not a video or frame "
        "folder (use `maggie image`)"
    )


def test_frame_without_masks(video_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for file in (video_case / "masks" / "0002").iterdir():
        file.unlink()
    (video_case / "masks" / "0002").rmdir()
    line = fails(capsys, video_argv(video_case))
    assert line == (
        f"maggie video: error: {video_case / 'masks'}: no masks for frame 2 of frames (expected an entry named 0002)"
    )
    assert files(video_case / "out") == []


def test_mask_of_another_size_mid_video(video_case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("av")
    mask((30, 40)).save(video_case / "masks" / "0003" / "p.png")
    line = fails(capsys, video_argv(video_case))
    assert line == (
        f"maggie video: error: {video_case / 'masks' / '0003' / 'p.png'}: mask is 40x30 but the video "
        "frames is 64x48 (width x height)"
    )
    # Frames 0 and 1 were finished before frame 3 was read: complete PNGs (resumable), no videos.
    assert files(video_case / "out") == ["alpha_00/000000.png", "alpha_00/000001.png"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--resume", "--outputs", "alpha-mov"],
            "resume needs the alpha-png output: a resumed run continues its PNG sequence",
        ),
        (["--fps", "0"], "fps must be positive, got 0.0"),
        (
            ["--outputs", "alpha"],
            "outputs must be some of alpha-png, alpha-mov, alpha-webm, cutout-png, preview (unknown 'alpha')",
        ),
    ],
)
def test_bad_video_settings(
    video_case: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    assert fails(capsys, video_argv(video_case, *flags)) == f"maggie video: error: {message}"
    assert files(video_case / "out") == []
