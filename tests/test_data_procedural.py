"""Procedural person-like foregrounds and textured backgrounds: seeded, matting-like, fast."""

from __future__ import annotations

import time

import numpy as np

from maggie.data.io import read_rgba
from maggie.data.synthesis import procedural_background, procedural_foreground, write_procedural_sources


def test_foreground_is_seeded():
    a = procedural_foreground((96, 72), rng=np.random.default_rng(4), motion_blur_p=0.5)
    b = procedural_foreground((96, 72), rng=np.random.default_rng(4), motion_blur_p=0.5)
    c = procedural_foreground((96, 72), rng=np.random.default_rng(5), motion_blur_p=0.5)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_foreground_looks_like_a_matte():
    for seed in range(4):
        rgb, alpha = procedural_foreground((128, 96), rng=np.random.default_rng(seed))
        assert rgb.shape == (128, 96, 3) and rgb.dtype == np.uint8
        assert alpha.shape == (128, 96) and alpha.dtype == np.uint8
        opaque, partial = (alpha == 255).mean(), ((alpha > 0) & (alpha < 255)).mean()
        assert 0.15 < opaque < 0.8  # a solid body that does not fill the frame
        assert partial > 0.01  # soft edges, hair strands, semi-transparent parts
        assert alpha[-1].max() == 255 and alpha[0].max() < 255  # cut by the bottom, head room on top
        assert alpha[:, 0].max() < 255 and alpha[:, -1].max() < 255


def test_motion_blur_softens_the_matte():
    sharp = procedural_foreground((96, 96), rng=np.random.default_rng(1), motion_blur_p=0.0)[1]
    blurred = procedural_foreground((96, 96), rng=np.random.default_rng(1), motion_blur_p=1.0)[1]
    partial = lambda a: ((a > 0) & (a < 255)).mean()  # noqa: E731
    assert partial(blurred) > partial(sharp)


def test_foreground_is_fast():
    rng = np.random.default_rng(0)
    procedural_foreground((256, 256), rng=rng)
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        procedural_foreground((256, 256), rng=rng)
        timings.append(time.perf_counter() - start)
    # ~20 ms on an idle core; the bound leaves room for a shared, busy test machine.
    assert min(timings) < 0.1


def test_background_is_seeded_and_textured():
    a = procedural_background((60, 80), rng=np.random.default_rng(2))
    b = procedural_background((60, 80), rng=np.random.default_rng(2))
    assert a.shape == (60, 80, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert a.std() > 10 and len(np.unique(a.reshape(-1, 3), axis=0)) > 500


def test_write_procedural_sources_is_reproducible(tmp_path):
    fg1, bg1 = write_procedural_sources(
        tmp_path / "a",
        num_foregrounds=2,
        num_backgrounds=1,
        seed=3,
        foreground_size=(64, 48),
        background_size=(48, 64),
    )
    fg2, _ = write_procedural_sources(
        tmp_path / "b",
        num_foregrounds=2,
        num_backgrounds=1,
        seed=3,
        foreground_size=(64, 48),
        background_size=(48, 64),
    )
    names = sorted(p.name for p in fg1.iterdir())
    assert names == ["0000.png", "0001.png"] and [p.name for p in bg1.iterdir()] == ["0000.jpg"]
    assert all((fg1 / n).read_bytes() == (fg2 / n).read_bytes() for n in names)
    rgb, alpha = read_rgba(fg1 / names[0])
    assert rgb.shape == (64, 48, 3) and alpha.max() == 255
