"""Video mask layouts with identities that stay fixed over the video (maggie.io.video_masks)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from maggie.errors import InputError
from maggie.io import VideoInfo, open_video, open_video_masks, write_label_map

H, W, T = 48, 64, 5
NAMES = ("alice", "bob", "carol")


def _truth(count: int = 3) -> np.ndarray:
    """``T×N×H×W`` masks: instance 1 appears at frame 2, instance 2 leaves after frame 1."""
    masks = np.zeros((T, count, H, W), dtype=bool)
    for t in range(T):
        for i in range(count):
            if (i == 1 and t < 2) or (i == 2 and t > 1):
                continue
            masks[t, i, 4 + t : 20 + t, 4 * i : 4 * i + 3] = True
    return masks


def _png(mask: np.ndarray, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8) * 255).save(path)


def _frames_info(tmp_path, stems=None) -> VideoInfo:
    folder = tmp_path / "frames"
    folder.mkdir()
    for t, stem in enumerate(stems or [f"f{t}" for t in range(T)]):
        Image.fromarray(np.full((H, W, 3), t, np.uint8)).save(folder / f"{stem}.jpg")
    return open_video(folder).info


def _file_info(frame_count: int | None = T) -> VideoInfo:
    from pathlib import Path

    return VideoInfo(Path("clip.mp4"), 25.0, W, H, frame_count)


def _check(video_masks, truth: np.ndarray, ids) -> None:
    assert video_masks.ids == tuple(ids)
    frames = [m for _, m in zip(range(T), video_masks, strict=False)]
    np.testing.assert_array_equal(np.stack(frames), truth)


def test_per_instance_folders_keep_identity_when_people_come_and_go(tmp_path):
    info = _frames_info(tmp_path)
    truth = _truth()
    for i, name in enumerate(NAMES):
        for t in range(T):
            if truth[t, i].any():  # absent instances simply have no file
                _png(truth[t, i], tmp_path / "masks" / name / f"f{t}.png")
    masks = open_video_masks(tmp_path / "masks", info)
    assert masks.layout == "per-instance"
    _check(masks, truth, NAMES)
    assert masks.frame(0)[2].any() and not masks.frame(4)[2].any() and not masks.frame(0)[1].any()


def test_per_frame_folders(tmp_path):
    info = _frames_info(tmp_path)
    truth = _truth()
    for t in range(T):
        (tmp_path / "masks" / f"f{t}").mkdir(parents=True)
        for i in range(3):
            if truth[t, i].any():
                _png(truth[t, i], tmp_path / "masks" / f"f{t}" / f"{i:02d}.png")
    masks = open_video_masks(tmp_path / "masks", info)
    assert masks.layout == "per-frame"
    _check(masks, truth, ("00", "01", "02"))


def test_label_map_per_frame_for_video_file_numbering(tmp_path):
    truth = _truth()
    for t in range(T):
        write_label_map(truth[t], tmp_path / "masks" / f"{t + 1:05d}.png")  # ffmpeg numbers from 1
    masks = open_video_masks(tmp_path / "masks", _file_info(), start_number=1)
    assert masks.layout == "label"
    _check(masks, truth, ("1", "2", "3"))
    with pytest.raises(
        InputError,
        match=r"00005\.png: matches no frame of clip\.mp4 "
        r"\(5 frames, frame numbers start at start_number=0\)",
    ):
        open_video_masks(tmp_path / "masks", _file_info())


def test_more_than_ten_instances_with_unknown_frame_count(tmp_path):
    count = 12
    truth = np.zeros((T, count, H, W), dtype=bool)
    for i in range(count):
        truth[:, i, 2 * i : 2 * i + 2, 5:9] = True
    truth[3, 11] = False  # the last person is hidden in frame 3
    for t in range(T):
        write_label_map(truth[t], tmp_path / "masks" / f"{t}.png")
    masks = open_video_masks(tmp_path / "masks", _file_info(frame_count=None))
    assert len(masks.ids) == 12 and masks.ids[-1] == "12"
    _check(masks, truth, [str(i + 1) for i in range(count)])
    with pytest.raises(
        InputError,
        match=r"masks: no masks for frame 7 of clip\.mp4 \(expected an entry numbered 7\)",
    ):
        masks.frame(7)


def test_numbered_per_instance_folders_for_video_file(tmp_path):
    truth = _truth()
    for i in range(3):
        for t in range(T):
            if truth[t, i].any():
                _png(truth[t, i], tmp_path / "masks" / str(i + 1) / f"{t:04d}.png")
    masks = open_video_masks(tmp_path / "masks", _file_info())
    assert masks.layout == "per-instance"
    _check(masks, truth, ("1", "2", "3"))
    _png(truth[0, 0], tmp_path / "masks" / "1" / "0.png")  # same frame as 0000.png
    with pytest.raises(InputError, match=r"1/0000\.png: frame 0 already has masks in 0\.png"):
        open_video_masks(tmp_path / "masks", _file_info())


def test_forced_layout_and_errors(tmp_path):
    info = _frames_info(tmp_path)
    truth = _truth()
    root = tmp_path / "masks"
    for t in range(T):
        if t != 3:
            write_label_map(truth[t], root / f"f{t}.png")
    with pytest.raises(InputError, match=r"masks: no masks for frame 3 of frames \(expected an entry named f3\)"):
        open_video_masks(root, info)
    write_label_map(truth[3], root / "f3.png")
    write_label_map(truth[3], root / "stray.png")
    with pytest.raises(InputError, match=r"stray\.png: matches no frame of frames"):
        open_video_masks(root, info, mask_format="label")
    (root / "stray.png").unlink()
    assert open_video_masks(root, info, mask_format="label").layout == "label"
    Image.fromarray(np.zeros((H, W + 2), np.uint8)).save(root / "f2.png")
    with pytest.raises(InputError, match=r"f2\.png: mask is 66x48 but the video frames is 64x48"):
        open_video_masks(root, info)
    with pytest.raises(InputError, match=r"masks: unknown mask_format 'folder' for a video"):
        open_video_masks(root, info, mask_format="folder")
    with pytest.raises(InputError, match=r"nothing: video masks must be a folder"):
        open_video_masks(tmp_path / "nothing", info)
    mixed = tmp_path / "mixed"
    (mixed / "sub").mkdir(parents=True)
    _png(truth[0, 0], mixed / "f0.png")
    with pytest.raises(InputError, match=r"mixed: cannot tell the mask layout; set mask_format"):
        open_video_masks(mixed, info)


def test_all_background_label_maps_are_an_error(tmp_path):
    for t in range(T):
        Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / f"{t}.png")
    with pytest.raises(InputError, match=r"no instance masks found \(label layout\)"):
        open_video_masks(tmp_path, _file_info())
