"""``--help`` of ``maggie`` and its subcommands: complete, and flags named like the API's parameters."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import maggie
from maggie.cli import build_parser, main
from maggie.io import MASK_FORMATS, OVERLAP_RULES, VIDEO_MASK_FORMATS

# API parameters that are positional arguments or have a differently spelled flag.
_NOT_FLAGS = {"input", "masks", "out", "model", "progress"}


def help_text(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_maggie_help_in_a_real_process() -> None:
    script = Path(sys.executable).with_name("maggie")
    if not script.exists():
        pytest.skip("the maggie console script is not installed next to this interpreter")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stderr == ""
    for command, summary in (
        ("image", "alpha mattes for an image or a folder of images"),
        ("video", "alpha mattes for a video or a folder of frames"),
        ("download", "download the released image or video weights"),
    ):
        assert command in result.stdout and summary in result.stdout


@pytest.mark.parametrize(("command", "api"), [("image", "process_images"), ("video", "process_video")])
def test_job_flags_mirror_the_api(capsys: pytest.CaptureFixture[str], command: str, api: str) -> None:
    text = help_text(capsys, command)
    for name in inspect.signature(getattr(maggie, api)).parameters:
        if name not in _NOT_FLAGS:
            assert f"--{name.replace('_', '-')}" in text, name
    for flag in ("--masks", "--out", "--no-progress"):
        assert flag in text
    assert "--model" not in text  # internal: smaller architectures for tests


def test_image_help_describes_inputs_outputs_weights_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "image")
    for needle in (
        "folder   a folder of mask PNGs",
        "label    one instance-ID PNG",
        "coco     a COCO JSON file",
        "<image stem>/",
        "alpha_00.png",
        "cutout_00.png",
        "preview.png",
        "manifest.json",
        "maggie download image",
        "$MAGGIE_HOME or ~/.cache/maggie",
        "untrained",
        "NOT meaningful",
        "maggie image examples/people.jpg --masks examples/people_masks --weights untrained --out outputs",
        "default: the smaller mask",
    ):
        assert needle in text, needle


def test_video_help_describes_layouts_outputs_resume_and_examples(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "video")
    for needle in (
        "per-frame     MASKS/<frame>/<person>.png",
        "per-instance  MASKS/<person>/<frame>.png",
        "label         MASKS/<frame>.png",
        "--start-number",
        "ProRes 4444",
        "VP9 with alpha",
        "preview.mp4",
        "alpha_00/000000.png",
        "--resume",
        "--carry-state",
        "maggie download video",
        "NOT meaningful",
        "maggie video examples/walk --masks examples/walk_masks --weights untrained --out outputs/walk",
    ):
        assert needle in text, needle


def test_download_help(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys, "download")
    for needle in (
        "{image,video}",
        "--to DIR",
        "--url URL",
        "--force",
        "chuonghm/maggie-image-him50k-cvpr24",
        "chuonghm/maggie-video-vim2k5-cvpr24",
        "maggie-video.safetensors",
        "file://",
        "needs internet",
    ):
        assert needle in text, needle


@pytest.mark.parametrize(
    ("argv", "api", "choices"),
    [
        (["image", "x.png"], "process_images", {"mask_format": MASK_FORMATS, "overlap_rule": OVERLAP_RULES}),
        (
            ["video", "x.mp4"],
            "process_video",
            {"mask_format": VIDEO_MASK_FORMATS, "overlap_rule": OVERLAP_RULES},
        ),
    ],
)
def test_flag_defaults_and_choices_are_the_api_ones(
    capsys: pytest.CaptureFixture[str], argv: list[str], api: str, choices: dict[str, tuple[str, ...]]
) -> None:
    args = build_parser().parse_args([*argv, "--masks", "m", "--out", "o"])
    for name, parameter in inspect.signature(getattr(maggie, api)).parameters.items():
        if parameter.default is inspect.Parameter.empty or name == "model":
            continue
        default = ",".join(parameter.default) if name == "outputs" else parameter.default
        assert getattr(args, name) == default, name
    text = help_text(capsys, argv[0])
    for name, values in choices.items():
        assert f"--{name.replace('_', '-')} {{{','.join(values)}}}" in text
