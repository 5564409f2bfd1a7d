"""``maggie image`` end to end: every mask format and image output, checked against the Python API."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import maggie
from maggie.cli import main
from maggie.io import adjust_masks, composite_preview, read_alpha, read_image, read_manifest, resolve_overlaps
from maggie.io.coco import rasterize_polygons
from maggie.jobs import SettingsError

H, W = 48, 64
CUTOUT = importlib.util.find_spec("pymatting") is not None
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
# The tiny architecture with untrained weights at the input's own size: fast, and deterministic on CPU.
FAST = [
    "--weights",
    "untrained",
    "--model",
    "maggie-tiny",
    "--short-side",
    "0",
    "--device",
    "cpu",
    "--no-progress",
]


def scene(seed: int, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A textured picture and ``count`` overlapping elliptical masks."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:H, :W].astype(np.float32)
    base = np.stack([xx * 3, yy * 4, (xx + yy) * 2], axis=-1) + rng.normal(0, 20, (H, W, 3))
    image = np.clip(base, 0, 255).astype(np.uint8)
    masks = np.zeros((count, H, W), dtype=bool)
    for i in range(count):
        cx, cy = 10 + (i * 47) % (W - 20), 14 + (i * 13) % (H - 24)
        masks[i] = ((xx - cx) / (7 + i % 4)) ** 2 + ((yy - cy) / 12) ** 2 <= 1
    return image, masks


def save_mask_folder(folder: Path, masks: np.ndarray) -> None:
    folder.mkdir(parents=True)
    for i, mask in enumerate(masks):
        Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"person{i}.png")


def save_label_map(path: Path, masks: np.ndarray) -> np.ndarray:
    """Paint masks as IDs 1..N (later ones on top) and return the masks the map holds."""
    labels = np.zeros((H, W), dtype=np.uint8)
    for i, mask in enumerate(masks):
        labels[mask] = i + 1
    Image.fromarray(labels).save(path)
    return labels[None] == np.arange(1, len(masks) + 1)[:, None, None]


def rle(mask: np.ndarray) -> dict:
    """Uncompressed COCO RLE: run lengths in column-major order, starting with background."""
    flat = mask.T.ravel().astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    runs = np.diff(np.concatenate([[0], edges]))
    return {"size": [H, W], "counts": [int(r) for r in runs]}


@pytest.fixture(scope="module")
def matter() -> maggie.ImageMatter:
    model = maggie.load_model("image", "untrained", device="cpu", architecture="maggie-tiny")
    return maggie.ImageMatter(model, device="cpu", short_side=None)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A folder of two images, one with a mask folder (overlapping masks), one with a label map."""
    root = tmp_path_factory.mktemp("batch")
    (root / "images").mkdir()
    image_a, masks_a = scene(0)
    image_b, masks_b = scene(1, count=2)
    Image.fromarray(image_a).save(root / "images" / "a.png")
    Image.fromarray(image_b).save(root / "images" / "b.jpg", quality=95)
    save_mask_folder(root / "masks" / "a", masks_a)
    held_b = save_label_map(root / "masks" / "b.png", masks_b)
    code = main(
        [
            "image",
            str(root / "images"),
            "--masks",
            str(root / "masks"),
            "--out",
            str(root / "out"),
            "--outputs",
            "alpha,preview,cutout" if CUTOUT else "alpha,preview",
            *FAST,
        ]
    )
    return {
        "root": root,
        "code": code,
        "guidance": {"a": resolve_overlaps(masks_a, "smaller"), "b": held_b},
        "images": {"a": image_a, "b": read_image(root / "images" / "b.jpg")},
    }


def test_batch_alphas_equal_the_api(batch: dict, matter: maggie.ImageMatter) -> None:
    assert batch["code"] == 0
    for stem in ("a", "b"):
        expected = matter.predict(batch["images"][stem], batch["guidance"][stem])
        assert expected.std() > 0.01  # the comparison must not be between constants
        for i, alpha in enumerate(expected):
            written = read_alpha(batch["root"] / "out" / stem / f"alpha_{i:02d}.png")
            np.testing.assert_allclose(written, alpha, atol=0.5 / 255 + 1e-6)


def test_batch_previews(batch: dict, matter: maggie.ImageMatter) -> None:
    for stem in ("a", "b"):
        expected = matter.predict(batch["images"][stem], batch["guidance"][stem])
        preview = np.asarray(Image.open(batch["root"] / "out" / stem / "preview.png"))
        np.testing.assert_allclose(preview, composite_preview(batch["images"][stem], expected), atol=1)


@pytest.mark.skipif(not CUTOUT, reason="cut-outs need pymatting (maggie[cutout])")
def test_batch_cutouts(batch: dict) -> None:
    for stem, count in (("a", 3), ("b", 2)):
        folder = batch["root"] / "out" / stem
        for i in range(count):
            with Image.open(folder / f"cutout_{i:02d}.png") as cutout:
                assert cutout.mode == "RGBA"
            np.testing.assert_array_equal(
                read_alpha(folder / f"cutout_{i:02d}.png"), read_alpha(folder / f"alpha_{i:02d}.png")
            )


def test_batch_manifest_lists_every_file(batch: dict) -> None:
    out = batch["root"] / "out"
    manifest = read_manifest(out)
    listed = {entry["path"] for entry in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert listed == on_disk and len(listed) == (3 + 2) * (2 if CUTOUT else 1) + 2
    assert manifest["settings"]["weights"]["source"] == "untrained"
    assert manifest["settings"]["overlap_rule"] == "smaller" and manifest["settings"]["model"] == "maggie-tiny"
    assert [im["instance_ids"] for im in manifest["inputs"]["images"]] == [
        ["person0", "person1", "person2"],
        ["1", "2"],
    ]
    assert manifest["versions"]["maggie"] == maggie.__version__


def test_coco_rle_and_polygons_16_bit_with_mask_settings(tmp_path: Path, matter: maggie.ImageMatter) -> None:
    (tmp_path / "images").mkdir()
    image_a, masks_a = scene(2)
    image_b, _ = scene(3)
    Image.fromarray(image_a).save(tmp_path / "images" / "a.png")
    Image.fromarray(image_b).save(tmp_path / "images" / "b.png")
    square = [[8.0, 6.0, 30.0, 6.0, 30.0, 40.0, 8.0, 40.0]]
    triangle = [[34.0, 4.0, 60.0, 44.0, 24.0, 44.0]]
    coco = {
        "images": [
            {"id": 1, "file_name": "a.png", "height": H, "width": W},
            {"id": 2, "file_name": "b.png", "height": H, "width": W},
        ],
        "annotations": [{"id": 10 + i, "image_id": 1, "segmentation": rle(m)} for i, m in enumerate(masks_a)]
        + [
            {"id": 20, "image_id": 2, "segmentation": square},
            {"id": 21, "image_id": 2, "segmentation": triangle},
        ],
    }
    (tmp_path / "masks.json").write_text(json.dumps(coco))
    flags = [
        "--erode",
        "1",
        "--dilate",
        "2",
        "--overlap-rule",
        "last",
        "--band-kernel",
        "9",
        "--background",
        "#00ff00",
    ]
    code = main(
        [
            "image",
            str(tmp_path / "images"),
            "--masks",
            str(tmp_path / "masks.json"),
            "--out",
            str(tmp_path / "out"),
            "--bit-depth",
            "16",
            *flags,
            *FAST,
        ]
    )
    assert code == 0
    # The rasteriser has its own tests (test_io_masks); here the wiring matters.
    polygons = np.stack([rasterize_polygons(square, (H, W)), rasterize_polygons(triangle, (H, W))])
    matter.band_kernel = 9
    try:
        for stem, image, masks in (("a", image_a, masks_a), ("b", image_b, polygons)):
            guidance = resolve_overlaps(adjust_masks(masks, erode=1, dilate=2), "last")
            expected = matter.predict(image, guidance)
            written = np.stack([read_alpha(tmp_path / "out" / stem / f"alpha_{i:02d}.png") for i in range(len(masks))])
            with Image.open(tmp_path / "out" / stem / "alpha_00.png") as png:
                assert png.mode.startswith("I;16")
            np.testing.assert_allclose(written, expected, atol=0.5 / 65535 + 1e-6)
            if stem == "a":
                preview = np.asarray(Image.open(tmp_path / "out" / stem / "preview.png"))
                np.testing.assert_allclose(preview, composite_preview(image, expected, background="#00ff00"), atol=1)
    finally:
        matter.band_kernel = None
    assert [e["instance_id"] for e in read_manifest(tmp_path / "out")["files"] if e["path"].startswith("a/alpha")] == [
        "10",
        "11",
        "12",
    ]


def test_more_than_ten_instances(tmp_path: Path, matter: maggie.ImageMatter) -> None:
    image, masks = scene(4, count=12)
    Image.fromarray(image).save(tmp_path / "crowd.png")
    held = save_label_map(tmp_path / "crowd_labels.png", masks)
    held = held[held.any(axis=(1, 2))]
    code = main(
        [
            "image",
            str(tmp_path / "crowd.png"),
            "--masks",
            str(tmp_path / "crowd_labels.png"),
            "--out",
            str(tmp_path / "out"),
            "--outputs",
            "alpha",
            *FAST,
        ]
    )
    assert code == 0
    written = sorted((tmp_path / "out" / "crowd").glob("alpha_*.png"))
    assert len(written) == len(held) > 10
    expected = matter.predict(image, held)
    for path, alpha in zip(written, expected, strict=True):
        np.testing.assert_allclose(read_alpha(path), alpha, atol=0.5 / 255 + 1e-6)


def test_readme_command_on_the_bundled_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        code = main(
            [
                "image",
                str(EXAMPLES / "people.jpg"),
                "--masks",
                str(EXAMPLES / "people_masks"),
                "--weights",
                "untrained",
                "--out",
                str(tmp_path),
                "--model",
                "maggie-tiny",
                "--short-side",
                "64",
                "--no-progress",
            ]
        )
    captured = capsys.readouterr()
    assert code == 0
    assert "maggie image: warning: UNTRAINED weights: the mattes are not meaningful" in captured.err
    assert captured.out == f"wrote 3 outputs, listed in {tmp_path / 'manifest.json'}\n"
    assert sorted(p.name for p in (tmp_path / "people").iterdir()) == [
        "alpha_00.png",
        "alpha_01.png",
        "preview.png",
    ]
    assert read_alpha(tmp_path / "people" / "alpha_00.png").shape == (240, 320)


def test_python_api_with_a_loaded_model(tmp_path: Path, matter: maggie.ImageMatter) -> None:
    image, masks = scene(5, count=2)
    Image.fromarray(image).save(tmp_path / "a.png")
    save_mask_folder(tmp_path / "masks", masks)
    model = maggie.load_model("image", "untrained", device="cpu", architecture="maggie-tiny")
    common = {"model": model, "device": "cpu", "short_side": None, "progress": False}
    manifest = maggie.process_images(
        tmp_path / "a.png", tmp_path / "masks", tmp_path / "out", outputs="alpha", **common
    )
    assert manifest == tmp_path / "out" / "manifest.json"
    settings = read_manifest(manifest)["settings"]
    assert settings["model"] == "maggie-tiny" and settings["weights"] == {"source": "model object passed by the caller"}
    expected = matter.predict(image, resolve_overlaps(masks, "smaller"))
    for i, alpha in enumerate(expected):
        np.testing.assert_allclose(
            read_alpha(tmp_path / "out" / "a" / f"alpha_{i:02d}.png"), alpha, atol=0.5 / 255 + 1e-6
        )
    with pytest.raises(SettingsError, match="either a model with its weights loaded or weights, not both"):
        maggie.process_images(tmp_path / "a.png", tmp_path / "masks", tmp_path / "x", weights="untrained", **common)
    with pytest.raises(SettingsError, match="process_video needs a video model, got maggie-tiny"):
        maggie.process_video(tmp_path, tmp_path / "masks", tmp_path / "y", **common)


def test_a_duplicate_mask_gets_a_zero_alpha_and_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], matter: maggie.ImageMatter
) -> None:
    image, masks = scene(6, count=2)
    Image.fromarray(image).save(tmp_path / "a.png")
    save_mask_folder(tmp_path / "masks", masks[[0, 1, 0]])  # a detector reported person 0 twice
    argv = [
        "image",
        str(tmp_path / "a.png"),
        "--masks",
        str(tmp_path / "masks"),
        "--out",
        str(tmp_path / "out"),
    ]
    assert main([*argv, "--outputs", "alpha", *FAST]) == 0
    assert (
        f"maggie image: warning: {tmp_path / 'masks'}: instance person2 has no pixels left after overlap "
        "resolution (overlap_rule=smaller); its alpha is all zero"
    ) in capsys.readouterr().err.splitlines()
    assert not read_alpha(tmp_path / "out" / "a" / "alpha_02.png").any()
    guidance = resolve_overlaps(masks[[0, 1, 0]], "smaller")
    assert not guidance[2].any()
    expected = matter.predict(image, guidance)
    np.testing.assert_allclose(read_alpha(tmp_path / "out" / "a" / "alpha_00.png"), expected[0], atol=0.5 / 255 + 1e-6)
