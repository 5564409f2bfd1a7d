"""ImageMatter and VideoMatter behaviour: groups of instances, empty masks, streaming, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import maggie
from maggie.errors import InputError
from maggie.weights import FIXTURE_MULTIPLIERS, synthetic_reference_weights


def _tiny(kind: str) -> maggie.models.MaGGIe:
    model = maggie.build_model("maggie-tiny" if kind == "image" else "maggie-tiny-video")
    gains = {k: v for k, v in FIXTURE_MULTIPLIERS.items() if "refine_OS8" in k}
    return maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=5, multipliers=gains)).eval()


def _scene(n: int, h: int = 72, w: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    masks = np.zeros((n, h, w), dtype=bool)
    for i in range(n):
        x = (i * 8) % (w - 12)
        masks[i, 10 + i % 3 : 60, x : x + 12] = True
    return image, masks


@pytest.fixture(scope="module")
def image_matter() -> maggie.ImageMatter:
    return maggie.ImageMatter(_tiny("image"), short_side=64)


def test_image_matter_output_and_input_types(image_matter: maggie.ImageMatter) -> None:
    image, masks = _scene(3)
    alpha = image_matter.predict(image, masks)
    assert alpha.shape == (3, 72, 100) and alpha.dtype == np.float32
    assert alpha.min() >= 0 and alpha.max() <= 1
    np.testing.assert_array_equal(image_matter.predict(Image.fromarray(image), masks.astype(np.uint8) * 255), alpha)


def test_more_instances_than_slots_run_in_groups(image_matter: maggie.ImageMatter) -> None:
    image, masks = _scene(12)
    alpha = image_matter.predict(image, masks)
    assert alpha.shape == (12, 72, 100)
    np.testing.assert_array_equal(alpha[:10], image_matter.predict(image, masks[:10]))
    np.testing.assert_array_equal(alpha[10:], image_matter.predict(image, masks[10:]))


def test_empty_instance_gets_zero_alpha(image_matter: maggie.ImageMatter) -> None:
    image, masks = _scene(3)
    masks[1] = False
    alpha = image_matter.predict(image, masks)
    assert not alpha[1].any() and alpha[0].any()
    with pytest.raises(InputError, match="every instance mask is empty"):
        image_matter.predict(image, np.zeros_like(masks))


def test_image_matter_input_errors(image_matter: maggie.ImageMatter) -> None:
    image, masks = _scene(2)
    with pytest.raises(InputError, match=r"mask size 72×99 does not match the image size 72×100"):
        image_matter.predict(image, masks[:, :, :99])
    with pytest.raises(InputError, match="expected an H×W×3 uint8 RGB image"):
        image_matter.predict(image.astype(np.float32), masks)


def test_short_side_none_keeps_resolution(image_matter: maggie.ImageMatter) -> None:
    matter = maggie.ImageMatter(image_matter.model, short_side=None, mask_downscale=False)
    image, masks = _scene(2)
    assert matter.predict(image, masks).shape == (2, 72, 100)


class _CountingFrames:
    """An iterable of frames that records how many have been read."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames, self.read = frames, 0

    def __iter__(self):
        for frame in self.frames:
            self.read += 1
            yield frame


def _clip(t: int, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    frames, masks = [], []
    for k in range(t):
        image, m = _scene(n, seed=k)
        frames.append(image)
        masks.append(np.roll(m, k, axis=2))
    return frames, masks


@pytest.fixture(scope="module")
def video_matter() -> maggie.VideoMatter:
    return maggie.VideoMatter(_tiny("video"), short_side=64)


def test_video_stream_is_lazy_and_ordered(video_matter: maggie.VideoMatter) -> None:
    frames, masks = _clip(7, 2)
    source = _CountingFrames(frames)
    seen = []
    for index, alpha in video_matter.stream(source, iter(masks)):
        assert alpha.shape == (2, 72, 100)
        # Only the current 3-frame window is held: at most frames index … index + 2 were read.
        assert source.read <= index + 3
        seen.append(index)
    assert seen == list(range(7))


def test_video_stream_equals_whole_clip(video_matter: maggie.VideoMatter) -> None:
    frames, masks = _clip(6, 2)
    whole = [a for _, a in video_matter.stream(frames, masks)]
    lazy = [a for _, a in video_matter.stream((f for f in frames), (m for m in masks))]
    for a, b in zip(whole, lazy, strict=True):
        np.testing.assert_array_equal(a, b)
    # A window computed on its own gives the same middle frame as the stream did.
    model = video_matter.model
    from maggie.inference.preprocess import Geometry, prepare_image, prepare_masks, restore_alpha

    geo = Geometry.for_size(72, 100, 64)
    image = torch.stack([prepare_image(f, geo) for f in frames[:3]])[None]
    mask = torch.stack([prepare_masks(m, geo, downscale=False) for m in masks[:3]])[None]
    with torch.no_grad():
        out = model(image, mask)
    np.testing.assert_allclose(restore_alpha(out.alpha[0, 1], geo), whole[1], atol=1e-6)


def test_instance_absent_from_some_frames_keeps_identities(video_matter: maggie.VideoMatter) -> None:
    frames, masks = _clip(5, 3)
    for k in (1, 2):
        masks[k][0] = False  # instance 0 leaves for two frames
    masks[4][2] = False  # instance 2 is missing on the last frame
    alphas = dict(video_matter.stream(frames, masks))
    assert all(a.shape == (3, 72, 100) for a in alphas.values())
    assert not alphas[1][0].any() and not alphas[2][0].any() and alphas[3][0].any()
    assert not alphas[4][2].any() and all(alphas[k][1].any() for k in range(5))


def test_short_videos_and_many_instances(video_matter: maggie.VideoMatter) -> None:
    for t in (1, 2, 3):
        frames, masks = _clip(t, 2)
        assert [i for i, _ in video_matter.stream(frames, masks)] == list(range(t))
    frames, masks = _clip(4, 12)
    alphas = [a for _, a in video_matter.stream(frames, masks)]
    assert alphas[0].shape == (12, 72, 100)
    tail = [a for _, a in video_matter.stream(frames, [m[10:] for m in masks])]
    for full, part in zip(alphas, tail, strict=True):
        np.testing.assert_array_equal(full[10:], part)


def test_carry_state_changes_later_windows_only(video_matter: maggie.VideoMatter) -> None:
    frames, masks = _clip(5, 2)
    default = [a for _, a in video_matter.stream(frames, masks)]
    carried = [
        a for _, a in maggie.VideoMatter(video_matter.model, short_side=64, carry_state=True).stream(frames, masks)
    ]
    np.testing.assert_array_equal(default[0], carried[0])
    assert any(not np.array_equal(a, b) for a, b in zip(default[2:], carried[2:], strict=True))


def test_video_input_errors(video_matter: maggie.VideoMatter) -> None:
    frames, masks = _clip(4, 2)
    with pytest.raises(InputError, match="masks of frame 2: 1 instances, but frame 0 has 2"):
        list(video_matter.stream(frames, masks[:2] + [masks[2][:1], masks[3]]))
    with pytest.raises(InputError, match="no masks for frame 3"):
        list(video_matter.stream(frames, masks[:3]))
    with pytest.raises(InputError, match="frame 1: size 72×90 differs"):
        list(video_matter.stream([frames[0], frames[1][:, :90]], masks))
    with pytest.raises(ValueError, match="needs a video model"):
        maggie.VideoMatter(_tiny("image"))
