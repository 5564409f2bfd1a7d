"""Image and video synthesis: determinism, instance counts, the 70 % visibility rule, the
occlusion levels, the written layouts, and still and video foreground sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from maggie.data.io import list_dirs, list_images, read_gray, write_jpeg, write_png
from maggie.data.synthesis import (
    ImageSynthesisConfig,
    VideoSynthesisConfig,
    animate_still,
    compose_image,
    compose_video,
    find_foregrounds,
    occlusion,
    procedural_background,
    procedural_foreground,
    synthesize_images,
    synthesize_videos,
    write_procedural_sources,
)
from maggie.data.synthesis.sources import resize_rgba
from maggie.errors import InputError

LEVEL_RANGES = {"easy": (0.0, 0.0), "medium": (0.05, 0.30), "hard": (0.50, 0.85)}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sources")
    return write_procedural_sources(
        root, num_foregrounds=5, num_backgrounds=2, seed=0, foreground_size=(96, 72), background_size=(72, 96)
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _people(seeds, size=(96, 72)):
    return [procedural_foreground(size, rng=np.random.default_rng(s)) for s in seeds]


def test_compose_image_keeps_70_percent_of_everyone():
    background = procedural_background((90, 120), rng=np.random.default_rng(0))
    counts = []
    for seed in range(8):
        rng = np.random.default_rng(seed)
        comp = compose_image(_people(range(seed, seed + 5)), background, rng)
        n = len(comp.alphas)
        counts.append(n)
        kept = comp.alphas.sum((1, 2)) / comp.full_alphas.sum((1, 2))
        assert (kept >= 0.7 - 1e-6).all()
        np.testing.assert_allclose(kept, comp.visible, rtol=1e-5)
        for k in range(n):  # visible = own alpha × (1 − alpha of everyone pasted later)
            expected = comp.full_alphas[k] * np.prod(1 - comp.full_alphas[k + 1 :], axis=0)
            np.testing.assert_allclose(comp.alphas[k], expected, atol=1e-6)
        assert (comp.alphas.sum(0) <= 1 + 1e-5).all()
        heights = [np.ptp(np.flatnonzero(a.any(1))) + 1 for a in comp.full_alphas]
        assert all(0.45 * 90 <= h <= 0.9 * 90 + 1 for h in heights)
        assert comp.image.shape == (90, 120, 3) and comp.layers.shape == (n, 90, 120, 3)
    assert max(counts) >= 3  # several people do fit


def test_synthesize_images_layout_counts_and_determinism(sources, tmp_path):
    fg, bg = sources
    config = ImageSynthesisConfig(instances=(2, 4), size=(64, 80), write_layers=True, subset="comp")
    records = synthesize_images(fg, bg, tmp_path / "a", num_images=4, seed=7, config=config)
    again = synthesize_images(fg, bg, tmp_path / "b", num_images=4, seed=7, config=config)
    other = synthesize_images(fg, bg, tmp_path / "c", num_images=4, seed=8, config=config)
    assert records == again
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert _tree(tmp_path / "a") != _tree(tmp_path / "c") and records != other
    root = tmp_path / "a"
    assert [p.name for p in list_images(root / "images" / "comp")] == [f"{i:05d}.jpg" for i in range(4)]
    for record in records:
        assert 2 <= record.instances <= 4 and min(record.visible) >= 0.7 - 1e-6
        alphas = list_images(root / "alphas" / "comp" / record.name)
        assert [p.name for p in alphas] == [f"{k:02d}.png" for k in range(record.instances)]
        assert len(list_images(root / "masks" / "comp" / record.name)) == record.instances
        assert len(list_images(root / "fg" / "comp" / record.name)) == record.instances
        assert (root / "bg" / "comp" / f"{record.name}.jpg").is_file()
        stack = np.stack([read_gray(p) for p in alphas]).astype(np.int32)
        assert stack.shape[1:] == (64, 80) and (stack.sum(0) <= 255 + record.instances).all()


def test_instance_range_is_respected_and_impossible_ranges_fail(sources, tmp_path):
    fg, bg = sources
    exact = synthesize_images(fg, bg, tmp_path / "x", num_images=2, config=ImageSynthesisConfig(instances=(3, 3)))
    assert [r.instances for r in exact] == [3, 3]
    crowded = ImageSynthesisConfig(instances=(12, 12), height=(0.9, 0.9), attempts=2, mask_dir="")
    with pytest.raises(InputError, match="could not place 12 people"):
        synthesize_images(fg, bg, tmp_path / "y", num_images=1, config=crowded)


def test_animate_still_moves_smoothly_and_keeps_the_cut():
    rgb, alpha = procedural_foreground((64, 48), rng=np.random.default_rng(0))
    premult, a = resize_rgba(rgb, alpha, alpha.shape)
    clip_rgb, clip_a = animate_still(premult, a, 12, np.random.default_rng(1), motion=0.2)
    assert clip_rgb.shape[:2] == clip_a.shape[:2] == (12, clip_a.shape[1]) and clip_rgb.shape[-1] == 3
    assert not np.allclose(clip_a[0], clip_a[-1])  # it moves
    steps = np.abs(np.diff(clip_a, axis=0)).mean((1, 2))
    assert steps.max() < 0.2 * np.abs(clip_a[0] - clip_a[-1]).mean() + 5  # smoothly
    assert (clip_a[:, -1].max(1) > 127).all()  # still standing on the bottom edge
    np.testing.assert_allclose(clip_a.sum((1, 2)), a.sum(), rtol=0.25)


@pytest.mark.parametrize("level", ["easy", "medium", "hard"])
def test_compose_video_occlusion_levels(level):
    lo, hi = LEVEL_RANGES[level]
    config = VideoSynthesisConfig(num_frames=6, placement_tries=20)
    found = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        people = _people(range(3 * seed, 3 * seed + 3), size=(64, 48))
        clips = [animate_still(*resize_rgba(rgb, a, a.shape), 6, rng) for rgb, a in people]
        background = np.stack([procedural_background((60, 90), rng=np.random.default_rng(seed))] * 6)
        comp = compose_video(clips, background, level, rng, config=config)
        if comp is None:
            continue
        found += 1
        visible = comp.full_alphas.copy()  # recompute the occlusion independently
        for k in range(visible.shape[1]):
            visible[:, k] *= np.prod(1 - comp.full_alphas[:, k + 1 :], axis=1)
        np.testing.assert_allclose(comp.alphas, visible, atol=1e-6)
        hidden = 1 - visible.sum((2, 3)) / comp.full_alphas.sum((2, 3))
        assert lo - 1e-6 <= hidden.max() <= hi + 1e-6
        np.testing.assert_allclose(hidden.max(), comp.max_occlusion, atol=1e-5)
        np.testing.assert_allclose(occlusion(comp.alphas, comp.full_alphas), hidden, atol=1e-5)
        assert comp.frames.shape == (6, 60, 90, 3)
        bottoms = [np.flatnonzero(comp.full_alphas[0, k].any(1)).max() for k in range(visible.shape[1])]
        assert all(b == 59 for b in bottoms)  # everyone stands on the bottom edge
    assert found >= 3


def test_synthesize_videos_layout_levels_and_determinism(sources, tmp_path):
    fg, bg = sources
    config = VideoSynthesisConfig(num_frames=4, size=(48, 64))
    for level in ("easy", "hard"):
        records = synthesize_videos(
            fg, bg, tmp_path / "a", num_videos=2, level=level, seed=3, split=f"comp_{level}", config=config
        )
        again = synthesize_videos(
            fg, bg, tmp_path / "b", num_videos=2, level=level, seed=3, split=f"comp_{level}", config=config
        )
        assert records == again and records
        lo, hi = LEVEL_RANGES[level]
        split = tmp_path / "a" / f"comp_{level}"
        for r in records:
            assert lo - 1e-6 <= r.max_occlusion <= hi + 1e-6 and r.frames == 4
            assert 2 <= r.instances <= (3 if level == "easy" else 5)
            frames = list_images(split / "fgr" / r.name)
            assert [p.name for p in frames] == [f"{t:05d}.jpg" for t in range(4)]
            for t in range(4):
                alphas = list_images(split / "pha" / r.name / f"{t:05d}")
                assert [p.name for p in alphas] == [f"{k:02d}.png" for k in range(r.instances)]
                masks = np.stack([read_gray(p) for p in list_images(split / "xmem" / r.name / f"{t:05d}")])
                assert masks.shape == (r.instances, 48, 64) and set(np.unique(masks)) <= {0, 255}
                assert ((masks > 0).sum(0) <= 1).all()  # one person per pixel, like a tracker
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    other = synthesize_videos(
        fg, bg, tmp_path / "c", num_videos=2, level="hard", seed=4, split="comp_hard", config=config
    )
    assert other and _tree(tmp_path / "c" / "comp_hard") != _tree(tmp_path / "a" / "comp_hard")


def test_video_foreground_sequences_set_the_clip_length(tmp_path):
    fgr, pha = tmp_path / "fgr", tmp_path / "pha"
    for v, count in enumerate((5, 7)):
        rgb, alpha = procedural_foreground((64, 48), rng=np.random.default_rng(v))
        premult, a = resize_rgba(rgb, alpha, alpha.shape)
        clip_rgb, clip_a = animate_still(premult, a, count, np.random.default_rng(v))
        for t in range(count):
            straight = np.where(clip_a[t, ..., None] > 0, clip_rgb[t] * 255 / np.maximum(clip_a[t, ..., None], 1e-6), 0)
            write_jpeg(fgr / f"{v:04d}" / f"{t:05d}.jpg", np.clip(straight, 0, 255).astype(np.uint8))
            write_png(pha / f"{v:04d}" / f"{t:05d}.png", np.clip(clip_a[t], 0, 255).astype(np.uint8))
    found = find_foregrounds(fgr, pha)
    assert [len(f.frames) for f in found] == [5, 7] and not any(f.is_still for f in found)
    bg = write_procedural_sources(tmp_path / "src", num_foregrounds=0, num_backgrounds=1, background_size=(48, 64))[1]
    config = VideoSynthesisConfig(num_frames=30, instances=(2, 2), mask_dir="")
    records = synthesize_videos(fgr, bg, tmp_path / "out", num_videos=1, level="easy", alpha_dir=pha, config=config)
    assert records[0].frames == 5  # the shortest foreground video
    assert not (tmp_path / "out" / "train" / "xmem").exists()
    assert len(list_dirs(tmp_path / "out" / "train" / "pha")) == 1
