"""The benchmark harness (`maggie.evaluate`) on tiny synthetic benchmark folders.

The matters here are deterministic stubs that return the guidance masks as alphas: the harness
(listing, reading, instance choice, snapping, aggregation, reports, bad samples) is under test,
not a model.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import maggie
from maggie import metrics
from maggie.errors import InputError, MaggieError
from maggie.evaluation import BadSample

H, W = 24, 32


def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _alpha(i: int, shift: int = 0) -> np.ndarray:
    """Instance ``i``: a soft vertical band over columns ``2i .. 2i+3`` (moved by ``shift``)."""
    x = np.arange(W, dtype=np.float64) - shift
    centre = 2 * i + 1.5
    profile = np.clip(2.5 - np.abs(x - centre), 0, 1)
    rows = np.clip(np.arange(H) / 6.0, 0, 1)[:, None]
    return np.round(255 * rows * profile[None, :]).astype(np.uint8)


def make_him2k(root: Path) -> None:
    """comp: a, b (ok), many (12 instances), blank (empty masks), c (alpha missing), orphan (no
    image); natural: n1 (ok), n2 (mask of the wrong size), n3 (unreadable image). Two mask sources."""
    rng = np.random.default_rng(0)
    counts = {
        "comp": {"a": 2, "b": 3, "many": 12, "blank": 2, "c": 2, "orphan": 1},
        "natural": {"n1": 2, "n2": 1, "n3": 1},
    }
    for subset, images in counts.items():
        for name, n in images.items():
            if name != "orphan":
                _png(root / "images" / subset / f"{name}.jpg", rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
            for i in range(n):
                alpha = _alpha(i)
                _png(root / "alphas" / subset / name / f"{i:02d}.png", alpha)
                for source, level in (("src_a", 127), ("src_b", 200)):
                    mask = np.where(alpha > level, 255, 0).astype(np.uint8)
                    if name == "blank":
                        mask[:] = 0
                    if name == "n2":
                        mask = np.zeros((H + 1, W), np.uint8)
                    _png(root / f"masks_matched_{source}" / subset / name / f"{i:02d}.png", mask)
    (root / "alphas" / "comp" / "c" / "01.png").unlink()
    (root / "images" / "natural" / "n3.jpg").write_bytes(b"not a jpeg")


class MaskMatter:
    """Image stub: returns the guidance masks as alphas and remembers what it was given."""

    def __init__(self) -> None:
        self.calls: list[np.ndarray] = []

    def predict(self, image: np.ndarray, masks: np.ndarray) -> np.ndarray:
        assert image.dtype == np.uint8 and image.shape == (H, W, 3)
        assert masks.dtype == bool and masks.shape[1:] == (H, W)
        self.calls.append(masks)
        return masks.astype(np.float32)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("convention", ["reference", "conventional"])
def test_him2k_end_to_end(tmp_path: Path, convention: str) -> None:
    root, out = tmp_path / "HIM2K", tmp_path / "out"
    make_him2k(root)
    matter = MaskMatter()
    result = maggie.evaluate(matter, root, layout="him2k", out=out, convention=convention, progress=False)

    groups = [(g.group.subset, g.group.mask_source) for g in result.groups]
    assert groups == [("comp", "src_a"), ("comp", "src_b"), ("natural", "src_a"), ("natural", "src_b")]
    comp = {row["sample"]: row for row in result.groups[0].samples}
    assert {k: v["status"] for k, v in comp.items()} == {
        "a": "ok",
        "b": "ok",
        "blank": "skipped",
        "c": "bad",
        "many": "ok",
        "orphan": "bad",
    }
    assert "01.png" in str(comp["c"]["detail"]) and "orphan.jpg" in str(comp["orphan"]["detail"])
    natural = {row["sample"]: row["status"] for row in result.groups[2].samples}
    assert natural == {"n1": "ok", "n2": "bad", "n3": "bad"}

    # More than 10 instances: the reference's RandomState(2023) draw, restarted for every run.
    names = [f"{i:02d}.png" for i in range(12)]
    chosen = list(np.random.RandomState(2023).choice(names, 10, replace=False))
    many_calls = [m for m in matter.calls if len(m) == 10]
    assert len(many_calls) == 2
    for masks in many_calls:
        # Instance i's mask starts at column 2i (see _alpha), which identifies it.
        starts = [int(np.argmax(m.any(0))) for m in masks]
        assert [f"{s // 2:02d}.png" for s in starts] == chosen
    many = metrics.image_metrics(*_expected_sample_arrays(root, "comp", "src_a", "many", chosen), convention)
    assert many["MAD"] == pytest.approx(comp["many"]["MAD"], rel=1e-12)

    # The run's value aggregates its good samples exactly like the metric accumulator.
    acc = metrics.MetricAccumulator(convention)
    for name, n in (("a", 2), ("b", 3)):
        acc.add_image(*_expected_sample_arrays(root, "comp", "src_b", name, n))
    acc.add_image(*_expected_sample_arrays(root, "comp", "src_b", "many", chosen))
    for metric, value in acc.summary().items():
        assert result.groups[1].values()[metric] == pytest.approx(value, rel=1e-12, nan_ok=True)

    summary = _read_csv(out / "summary.csv")
    assert [(r["subset"], r["mask_source"]) for r in summary] == [
        ("comp", "src_a"),
        ("comp", "src_b"),
        ("comp", "mean"),
        ("comp", "std"),
        ("natural", "src_a"),
        ("natural", "src_b"),
        ("natural", "mean"),
        ("natural", "std"),
    ]
    assert (summary[0]["ok"], summary[0]["bad"], summary[0]["skipped"]) == ("3", "2", "1")
    assert (summary[2]["ok"], summary[2]["bad"], summary[2]["skipped"]) == ("6", "4", "2")
    mads = [result.groups[0].values()["MAD"], result.groups[1].values()["MAD"]]
    assert float(summary[2]["MAD"]) == pytest.approx(np.mean(mads))
    assert float(summary[3]["MAD"]) == pytest.approx(np.std(mads))
    samples = _read_csv(out / "samples.csv")
    assert len(samples) == 2 * 6 + 2 * 3
    assert {r["status"] for r in samples if r["sample"] == "c"} == {"bad"}
    assert sorted(p.name for p in out.iterdir()) == ["samples.csv", "summary.csv"]  # no temp files left

    table = result.table()
    assert "comp" in table and "mean" in table and "std" in table
    assert "8 bad sample(s) skipped" in table and "comp/src_a/c:" in table


def _expected_sample_arrays(
    root: Path, subset: str, source: str, name: str, instances: int | list[str]
) -> tuple[np.ndarray, np.ndarray]:
    files = [f"{i:02d}.png" for i in range(instances)] if isinstance(instances, int) else instances
    gt = np.stack([np.asarray(Image.open(root / "alphas" / subset / name / f)) for f in files])
    masks = np.stack(
        [np.asarray(Image.open(root / f"masks_matched_{source}" / subset / name / f)) > 127 for f in files]
    )
    return masks.astype(np.float32), gt.astype(np.float32) / np.float32(255)


def test_him2k_strict_fails_on_the_first_bad_sample(tmp_path: Path) -> None:
    make_him2k(tmp_path)
    with pytest.raises(BadSample, match=r"comp/src_a/c: missing file .*01\.png"):
        maggie.evaluate(MaskMatter(), tmp_path, strict=True, progress=False)


def test_him2k_selection_and_layout_errors(tmp_path: Path) -> None:
    make_him2k(tmp_path)
    result = maggie.evaluate(MaskMatter(), tmp_path, mask_sources=["src_b"], subsets=["natural"], progress=False)
    assert [(g.group.subset, g.group.mask_source) for g in result.groups] == [("natural", "src_b")]
    assert [r["mask_source"] for r in result.summary_rows()] == ["src_b"]  # no mean/std of one source
    with pytest.raises(InputError, match="src_x"):
        maggie.evaluate(MaskMatter(), tmp_path, mask_sources=["src_x"], progress=False)
    with pytest.raises(InputError, match="no mask sources"):
        maggie.evaluate(MaskMatter(), tmp_path / "alphas", progress=False)
    with pytest.raises(MaggieError, match="stream"):
        maggie.evaluate(MaskMatter(), tmp_path, layout="vhim", progress=False)
    with pytest.raises(MaggieError, match="xmem"):
        maggie.evaluate(MaskVideoMatter(), tmp_path, layout="vhim", mask_sources=["src_a"], progress=False)
    with pytest.raises(MaggieError, match="layout"):
        maggie.evaluate(MaskMatter(), tmp_path, layout="coco", progress=False)


def test_him2k_wrong_prediction_shape_is_an_error(tmp_path: Path) -> None:
    make_him2k(tmp_path)

    class Broken(MaskMatter):
        def predict(self, image: np.ndarray, masks: np.ndarray) -> np.ndarray:
            return masks[:1].astype(np.float32)

    with pytest.raises(MaggieError, match="shape"):
        maggie.evaluate(Broken(), tmp_path, progress=False)


def make_vhim(root: Path) -> None:
    """comp_easy: v1 (5 frames), v2 (xmem file missing in frame 3); comp_hard: v3 (7 frames)."""
    rng = np.random.default_rng(1)
    for split, videos in {"comp_easy": {"v1": 5, "v2": 5}, "comp_hard": {"v3": 7}}.items():
        for video, frames in videos.items():
            for t in range(frames):
                stem = f"{t:05d}"
                _png(
                    root / split / "fgr" / video / f"{stem}.jpg",
                    rng.integers(0, 256, (H, W, 3), dtype=np.uint8),
                )
                for i in range(2):
                    alpha = _alpha(4 * i + 2, shift=t if i == 0 else 0)
                    _png(root / split / "pha" / video / stem / f"{i:02d}.png", alpha)
                    _png(
                        root / split / "xmem" / video / stem / f"{i:02d}.png",
                        np.where(alpha > 100, 255, 0).astype(np.uint8),
                    )
    (root / "comp_easy" / "xmem" / "v2" / "00003" / "01.png").unlink()


class MaskVideoMatter:
    """Video stub: streams the guidance masks back as alphas, consuming its inputs lazily."""

    def stream(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        for index, (frame, mask) in enumerate(zip(frames, masks, strict=True)):
            assert frame.shape == (H, W, 3) and mask.dtype == bool
            yield index, mask.astype(np.float32)


def _video_arrays(root: Path, split: str, video: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
    def load(kind: str) -> np.ndarray:
        return np.stack(
            [
                np.stack(
                    [
                        np.asarray(Image.open(root / split / kind / video / f"{t:05d}" / f"{i:02d}.png"))
                        for i in range(2)
                    ]
                )
                for t in range(frames)
            ]
        )

    return (load("xmem") > 127).astype(np.float32), load("pha").astype(np.float32) / np.float32(255)


@pytest.mark.parametrize("convention", ["reference", "conventional"])
def test_vhim_end_to_end(tmp_path: Path, convention: str) -> None:
    pytest.importorskip("cv2", reason="MESSDdt needs OpenCV's Farneback flow (maggie[eval])")
    make_vhim(tmp_path)
    out = tmp_path / "out"
    result = maggie.evaluate(MaskVideoMatter(), tmp_path, layout="vhim", out=out, convention=convention, progress=False)
    assert [(g.group.subset, g.group.mask_source) for g in result.groups] == [
        ("comp_easy", "xmem"),
        ("comp_hard", "xmem"),
    ]
    easy = {r["sample"]: r for r in result.groups[0].samples}
    assert easy["v1"]["status"] == "ok" and easy["v2"]["status"] == "bad"
    assert "00003" in str(easy["v2"]["detail"])
    for group, video, frames in ((0, "v1", 5), (1, "v3", 7)):
        split = result.groups[group].group.subset
        expected = metrics.video_metrics(*_video_arrays(tmp_path, split, video, frames), convention)
        assert list(expected) == list(metrics.metric_names(convention, "video"))
        for metric, value in expected.items():
            assert result.groups[group].values()[metric] == pytest.approx(value, rel=1e-12, nan_ok=True)
    summary = _read_csv(out / "summary.csv")
    assert [(r["subset"], r["ok"], r["bad"]) for r in summary] == [
        ("comp_easy", "1", "1"),
        ("comp_hard", "1", "0"),
    ]
    assert "dtSSD" in summary[0] and "MESSDdt" in summary[0]
    with pytest.raises(BadSample, match="v2"):
        maggie.evaluate(MaskVideoMatter(), tmp_path, layout="vhim", strict=True, progress=False)


def test_vhim_matter_must_yield_every_frame_in_order(tmp_path: Path) -> None:
    make_vhim(tmp_path)

    class Skipping:
        def stream(self, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
            for index, mask in enumerate(masks):
                if index != 1:
                    yield index, mask.astype(np.float32)

    with pytest.raises(MaggieError, match="expected frame 1"):
        maggie.evaluate(Skipping(), tmp_path, layout="vhim", subsets=["comp_hard"], progress=False)
