"""``maggie video`` end to end: mask layouts, every video output, resuming, and error paths."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import maggie
import maggie.jobs.video as video_job
from maggie.cli import main
from maggie.io import (
    composite_preview,
    open_preview_video,
    open_video,
    read_alpha,
    read_alpha_video,
    read_manifest,
    resolve_overlaps,
)
from maggie.weights import FIXTURE_MULTIPLIERS, save_weights, synthetic_reference_weights

av = pytest.importorskip("av")

H, W = 48, 64
CUTOUT = importlib.util.find_spec("pymatting") is not None
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FAST = [
    "--weights",
    "untrained",
    "--model",
    "maggie-tiny-video",
    "--short-side",
    "0",
    "--device",
    "cpu",
    "--no-progress",
]


def clip(frames: int, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Two overlapping elliptical people moving apart over a still textured background.

    Returns the frames and the ``(T, 2, H, W)`` masks.
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    background = np.stack([xx * 3, yy * 4, (xx + yy) * 2], axis=-1) + rng.normal(0, 20, (H, W, 3))
    pictures, masks = [], np.zeros((frames, 2, H, W), dtype=bool)
    for t in range(frames):
        picture = background.copy()
        for i, cx in enumerate((24 - 2 * t, 38 + 2 * t)):
            masks[t, i] = ((xx - cx) / 10) ** 2 + ((yy - 24) / 16) ** 2 <= 1
            picture[masks[t, i]] = picture[masks[t, i]] * 0.5 + (120 + 80 * i)
        pictures.append(np.clip(picture, 0, 255).astype(np.uint8))
    return pictures, masks


def save_frames(folder: Path, pictures: list[np.ndarray]) -> None:
    folder.mkdir(parents=True)
    for t, picture in enumerate(pictures):
        Image.fromarray(picture).save(folder / f"{t:04d}.png")


def save_per_frame(folder: Path, masks: np.ndarray, names: tuple[str, ...] = ("anna", "ben")) -> None:
    for t, frame in enumerate(masks):
        (folder / f"{t:04d}").mkdir(parents=True)
        for name, mask in zip(names, frame, strict=True):
            Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{t:04d}" / f"{name}.png")


@pytest.fixture(scope="module")
def matter() -> maggie.VideoMatter:
    model = maggie.load_model("video", "untrained", device="cpu", architecture="maggie-tiny-video")
    return maggie.VideoMatter(model, device="cpu", short_side=None)


def predict(matter: maggie.VideoMatter, pictures: list[np.ndarray], guidance: np.ndarray) -> np.ndarray:
    return np.stack([alphas for _, alphas in matter.stream(pictures, list(guidance))])


def blocks(picture: np.ndarray) -> np.ndarray:
    return picture.astype(np.float32).reshape(H // 8, 8, W // 8, 8, 3).mean(axis=(1, 3))


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def per_frame(tmp_path_factory: pytest.TempPathFactory, matter: maggie.VideoMatter) -> dict:
    """A 4-frame folder with per-frame masks, written in every output format."""
    root = tmp_path_factory.mktemp("per_frame")
    pictures, masks = clip(4)
    save_frames(root / "frames", pictures)
    save_per_frame(root / "masks", masks)
    code = main(
        [
            "video",
            str(root / "frames"),
            "--masks",
            str(root / "masks"),
            "--out",
            str(root / "out"),
            "--outputs",
            "alpha-png,alpha-mov,alpha-webm,preview" + (",cutout-png" if CUTOUT else ""),
            "--fps",
            "12",
            *FAST,
        ]
    )
    guidance = np.stack([resolve_overlaps(m, "smaller") for m in masks])
    return {
        "out": root / "out",
        "code": code,
        "pictures": pictures,
        "expected": predict(matter, pictures, guidance),
    }


def test_alpha_png_sequence_equals_the_api(per_frame: dict) -> None:
    assert per_frame["code"] == 0
    expected = per_frame["expected"]
    assert expected.std() > 0.01
    for t in range(4):
        for i in range(2):
            written = read_alpha(per_frame["out"] / f"alpha_{i:02d}" / f"{t:06d}.png")
            np.testing.assert_allclose(written, expected[t, i], atol=0.5 / 255 + 1e-6)


@pytest.mark.parametrize(("suffix", "tolerance"), [(".mov", 2 / 1023), (".webm", 1e-6)])
def test_alpha_videos_equal_the_png_sequence(per_frame: dict, suffix: str, tolerance: float) -> None:
    for i in range(2):
        decoded = list(read_alpha_video(per_frame["out"] / f"alpha_{i:02d}{suffix}"))
        stored = [read_alpha(per_frame["out"] / f"alpha_{i:02d}" / f"{t:06d}.png") for t in range(4)]
        assert len(decoded) == 4
        np.testing.assert_allclose(np.stack(decoded), np.stack(stored), atol=tolerance)


def test_preview_video(per_frame: dict) -> None:
    out = per_frame["out"]
    source = open_video(out / "preview.mp4")
    assert source.info.fps == pytest.approx(12) and source.info.size == (H, W)
    for t, frame in enumerate(source):
        stored = np.stack([read_alpha(out / f"alpha_{i:02d}" / f"{t:06d}.png") for i in range(2)])
        wanted = composite_preview(per_frame["pictures"][t], stored)
        # H.264 4:2:0 smooths the noisy test frames: compare 8×8 block means, and check that the
        # preview is much nearer to the composite than to the untinted frame.
        error = np.abs(blocks(frame) - blocks(wanted)).mean()
        assert error < 3 and error < 0.5 * np.abs(blocks(frame) - blocks(per_frame["pictures"][t])).mean()


@pytest.mark.skipif(not CUTOUT, reason="cut-outs need pymatting (maggie[cutout])")
def test_cutout_sequence(per_frame: dict) -> None:
    for i in range(2):
        for t in range(4):
            cutout = per_frame["out"] / f"cutout_{i:02d}" / f"{t:06d}.png"
            with Image.open(cutout) as png:
                assert png.mode == "RGBA"
            np.testing.assert_array_equal(
                read_alpha(cutout), read_alpha(per_frame["out"] / f"alpha_{i:02d}" / f"{t:06d}.png")
            )


def test_manifest_of_a_video_job(per_frame: dict) -> None:
    manifest = read_manifest(per_frame["out"])
    kinds = sorted(entry["kind"] for entry in manifest["files"])
    cutouts = ["cutout_sequence"] * 2 if CUTOUT else []
    assert kinds == sorted(["alpha_sequence"] * 2 + cutouts + ["alpha_video"] * 4 + ["preview_video"])
    assert manifest["inputs"]["mask_layout"] == "per-frame" and manifest["inputs"]["instance_ids"] == [
        "anna",
        "ben",
    ]
    assert manifest["inputs"]["frame_count"] == 4 and manifest["inputs"]["fps"] == 12
    assert {
        "path": "alpha_00/%06d.png",
        "kind": "alpha_sequence",
        "instance": 0,
        "instance_id": "anna",
        "frames": [0, 3],
    } in manifest["files"]
    assert not [f for f in files(per_frame["out"]) if "partial" in f]


def test_video_file_with_per_instance_masks_16_bit(tmp_path: Path, matter: maggie.VideoMatter) -> None:
    pictures, masks = clip(3, seed=1)
    with open_preview_video(tmp_path / "clip.mp4", fps=10, size=(H, W)) as writer:
        for picture in pictures:
            writer.write(picture)
    masks[1, 0] = False  # person 0 is absent from frame 1 (no file there)
    for i, name in enumerate(("p1", "p2")):
        (tmp_path / "masks" / name).mkdir(parents=True)
        for t in range(3):
            if masks[t, i].any():
                Image.fromarray(masks[t, i].astype(np.uint8) * 255).save(tmp_path / "masks" / name / f"{t + 1:03d}.png")
    code = main(
        [
            "video",
            str(tmp_path / "clip.mp4"),
            "--masks",
            str(tmp_path / "masks"),
            "--mask-format",
            "per-instance",
            "--start-number",
            "1",
            "--out",
            str(tmp_path / "out"),
            "--outputs",
            "alpha-png",
            "--bit-depth",
            "16",
            *FAST,
        ]
    )
    assert code == 0
    decoded = list(open_video(tmp_path / "clip.mp4"))
    expected = predict(matter, decoded, np.stack([resolve_overlaps(m, "smaller") for m in masks]))
    for t in range(3):
        for i in range(2):
            written = read_alpha(tmp_path / "out" / f"alpha_{i:02d}" / f"{t:06d}.png")
            np.testing.assert_allclose(written, expected[t, i], atol=0.5 / 65535 + 1e-6)
    assert not read_alpha(tmp_path / "out" / "alpha_00" / "000001.png").any()
    assert files(tmp_path / "out") == [f"alpha_{i:02d}/{t:06d}.png" for i in range(2) for t in range(3)] + [
        "manifest.json"
    ]


def test_label_map_per_frame(tmp_path: Path, matter: maggie.VideoMatter) -> None:
    pictures, masks = clip(3, seed=2)
    save_frames(tmp_path / "frames", pictures)
    (tmp_path / "labels").mkdir()
    held = np.zeros_like(masks)
    for t in range(3):
        labels = np.zeros((H, W), dtype=np.uint8)
        labels[masks[t, 0]], labels[masks[t, 1]] = 3, 7  # any IDs; person 7 painted on top
        Image.fromarray(labels).save(tmp_path / "labels" / f"{t:04d}.png")
        held[t] = labels[None] == np.array([3, 7])[:, None, None]
    code = main(
        [
            "video",
            str(tmp_path / "frames"),
            "--masks",
            str(tmp_path / "labels"),
            "--out",
            str(tmp_path / "out"),
            "--outputs",
            "alpha-png",
            *FAST,
        ]
    )
    assert code == 0
    expected = predict(matter, pictures, held)
    for t in range(3):
        for i in range(2):
            written = read_alpha(tmp_path / "out" / f"alpha_{i:02d}" / f"{t:06d}.png")
            np.testing.assert_allclose(written, expected[t, i], atol=0.5 / 255 + 1e-6)
    assert read_manifest(tmp_path / "out")["inputs"]["instance_ids"] == ["3", "7"]


def test_resume_after_an_interruption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pictures, masks = clip(7)
    save_frames(tmp_path / "frames", pictures)
    save_per_frame(tmp_path / "masks", masks)
    # Weights whose temporal fusion chain matters: restarting the network right at the first
    # missing frame, without context, would change that frame (checked below).
    model = maggie.build_model("maggie-tiny-video")
    gains = {k: v for k, v in FIXTURE_MULTIPLIERS.items() if "refine_OS8" in k}
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=0, multipliers=gains))
    save_weights(model, tmp_path / "tiny-video.safetensors")
    weights = ["--weights", str(tmp_path / "tiny-video.safetensors")]

    def run(out: str, *extra: str) -> int:
        return main(
            [
                "video",
                str(tmp_path / "frames"),
                "--masks",
                str(tmp_path / "masks"),
                "--out",
                str(tmp_path / out),
                "--outputs",
                "alpha-png,alpha-mov,preview",
                *FAST,
                *weights,
                *extra,
            ]
        )

    assert run("full") == 0
    real_write = video_job.write_alpha_png
    written: list[Path] = []

    def ctrl_c_after_four_frames(alpha: np.ndarray, path: Path, **kwargs: int) -> Path:
        if len(written) == 4 * 2:
            raise KeyboardInterrupt
        written.append(Path(path))
        return real_write(alpha, path, **kwargs)

    monkeypatch.setattr(video_job, "write_alpha_png", ctrl_c_after_four_frames)
    capsys.readouterr()
    assert run("part") == 130
    assert capsys.readouterr().err.endswith("maggie video: interrupted\n")
    assert files(tmp_path / "part") == [f"alpha_{i:02d}/{t:06d}.png" for i in range(2) for t in range(4)]

    written.clear()
    fed: list[int] = []
    real_stream = maggie.VideoMatter.stream

    def counting_stream(
        self: maggie.VideoMatter, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray]
    ) -> Iterator:
        def tap() -> Iterator[np.ndarray]:
            for frame in frames:
                fed.append(1)
                yield frame

        return real_stream(self, tap(), masks)

    def recording_write(alpha: np.ndarray, path: Path, **kwargs: int) -> Path:
        written.append(Path(path))
        return real_write(alpha, path, **kwargs)

    monkeypatch.setattr(video_job, "write_alpha_png", recording_write)
    monkeypatch.setattr(maggie.VideoMatter, "stream", counting_stream)
    assert run("part", "--resume") == 0
    # Only frames 4-6 are written; the network restarts RESUME_CONTEXT frames earlier.
    assert sorted(p.name for p in written) == [f"{t:06d}.png" for t in (4, 5, 6) for _ in range(2)]
    assert len(fed) == 7 - (4 - video_job.RESUME_CONTEXT)
    assert files(tmp_path / "part") == files(tmp_path / "full")
    for i in range(2):
        for t in range(7):
            name = f"alpha_{i:02d}/{t:06d}.png"
            np.testing.assert_array_equal(read_alpha(tmp_path / "part" / name), read_alpha(tmp_path / "full" / name))
        np.testing.assert_array_equal(
            np.stack(list(read_alpha_video(tmp_path / "part" / f"alpha_{i:02d}.mov"))),
            np.stack(list(read_alpha_video(tmp_path / "full" / f"alpha_{i:02d}.mov"))),
        )
    np.testing.assert_array_equal(
        np.stack(list(open_video(tmp_path / "part" / "preview.mp4"))),
        np.stack(list(open_video(tmp_path / "full" / "preview.mp4"))),
    )
    assert read_manifest(tmp_path / "part")["settings"]["resumed_at_frame"] == 4

    # The context is needed: a restart at frame 4 itself gives a different frame 4.
    monkeypatch.undo()
    guidance = [resolve_overlaps(m, "smaller") for m in masks]
    _, no_context = next(
        iter(maggie.VideoMatter(model, device="cpu", short_side=None).stream(pictures[4:], guidance[4:]))
    )
    full = np.stack([read_alpha(tmp_path / "full" / f"alpha_{i:02d}" / "000004.png") for i in range(2)])
    assert full.std() > 0.05 and np.abs(no_context - full).max() > 0.1

    # Resuming a finished run only encodes the videos again, from the PNGs.
    written.clear()
    fed.clear()
    monkeypatch.setattr(video_job, "write_alpha_png", recording_write)
    monkeypatch.setattr(maggie.VideoMatter, "stream", counting_stream)
    assert run("part", "--resume") == 0
    assert written == [] and fed == []


def test_readme_command_on_the_bundled_example(tmp_path: Path) -> None:
    code = main(
        [
            "video",
            str(EXAMPLES / "walk"),
            "--masks",
            str(EXAMPLES / "walk_masks"),
            "--weights",
            "untrained",
            "--out",
            str(tmp_path),
            "--model",
            "maggie-tiny-video",
            "--short-side",
            "64",
            "--no-progress",
        ]
    )
    assert code == 0
    assert files(tmp_path) == sorted(
        [f"alpha_{i:02d}/{t:06d}.png" for i in range(2) for t in range(8)]
        + ["alpha_00.mov", "alpha_01.mov", "manifest.json", "preview.mp4"]
    )
    assert len(list(read_alpha_video(tmp_path / "alpha_01.mov"))) == 8
