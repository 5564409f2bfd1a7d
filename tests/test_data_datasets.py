"""Datasets on data written by the ``maggie synth`` CLI: shapes, ranges, slots, targets,
(seed, epoch, index) determinism, un-augmented test samples and strict configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from maggie.cli import main
from maggie.config import ConfigError, from_dict
from maggie.data import ImageDataConfig, ImageMattingDataset, VideoDataConfig, VideoMattingDataset
from maggie.data.io import list_images, read_gray, read_rgb
from maggie.data.pipeline import normalize
from maggie.errors import InputError

# Light augmentation settings for 48–64 px crops (the defaults are for 512 px crops).
SMALL = {"augment": {"crop_size": 48}, "masks": {"binarize_max_kernel": 5}}


def _synth(*args: str) -> None:
    assert main(["synth", *args]) == 0


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    src = root / "src"
    _synth("procedural", str(src), "--num-foregrounds", "4", "--num-backgrounds", "2",
           "--foreground-size", "80", "60", "--background-size", "60", "80")  # fmt: skip
    common = ["--fg-dir", str(src / "fg"), "--bg-dir", str(src / "bg"), "--seed", "2"]
    _synth("image", *common, "--num-images", "3", "--out-dir", str(root / "ihim"), "--instances", "2", "3",
           "--mask-dir", "")  # fmt: skip
    _synth("image", *common, "--num-images", "2", "--out-dir", str(root / "him"), "--subset", "comp",
           "--mask-dir", "masks_cli")  # fmt: skip
    _synth("video", *common, "--num-videos", "2", "--num-frames", "6", "--out-dir", str(root / "vhim"),
           "--level", "medium", "--split", "comp_medium")  # fmt: skip
    return root


def _image_config(data: Path, **extra) -> ImageDataConfig:
    return from_dict(ImageDataConfig, {"root": str(data / "ihim"), "short_side": 64, **SMALL, **extra})


def _video_config(data: Path, **extra) -> VideoDataConfig:
    options = {"root": str(data / "vhim"), "split": "comp_medium", "clip_length": 3, "short_side": None}
    return from_dict(VideoDataConfig, {**options, **SMALL, **extra})


def _check_sample(sample: dict, t: int, size: int) -> None:
    assert sample["image"].shape == (t, 3, size, size) and sample["image"].dtype == torch.float32
    for key in ("alpha", "masks", "transition"):
        assert sample[key].shape == (t, 10, size, size) and sample[key].dtype == torch.float32
    assert sample["valid"].shape == (10,) and sample["valid"].dtype == torch.bool
    alpha, masks, valid = sample["alpha"], sample["masks"], sample["valid"]
    assert 0 <= alpha.min() and alpha.max() <= 1
    assert set(masks.unique().tolist()) <= {0.0, 1.0} and set(sample["transition"].unique().tolist()) <= {
        0.0,
        1.0,
    }
    for key in ("alpha", "masks", "transition"):
        assert sample[key][:, ~valid].abs().sum() == 0  # empty slots are zero
    assert valid.sum() >= 1


def test_cli_writes_the_layouts(data):
    assert len(list_images(data / "ihim" / "images")) == 3
    assert len(list_images(data / "him" / "images" / "comp")) == 2
    assert not (data / "ihim" / "masks").exists()
    for video in ("medium_00000", "medium_00001"):
        assert len(list_images(data / "vhim" / "comp_medium" / "fgr" / video)) == 6
        assert (data / "vhim" / "comp_medium" / "xmem" / video / "00005" / "00.png").is_file()
    assert main(["synth", "video", "--fg-dir", str(data / "nowhere"), "--bg-dir", str(data), "--out-dir",
                 str(data / "x"), "--num-videos", "1", "--level", "easy"]) == 2  # fmt: skip


def test_image_training_samples(data):
    dataset = ImageMattingDataset(_image_config(data), train=True)
    assert len(dataset) == 3
    for index in range(3):
        _check_sample(dataset[index], 1, 48)


def test_samples_are_fixed_by_seed_epoch_and_index(data):
    dataset = ImageMattingDataset(_image_config(data, augment={"crop_size": 48, "jpeg_p": 0.5, "affine_p": 0.5}))
    first = dataset[1]
    assert all(torch.equal(first[k], dataset[1][k]) for k in first)
    dataset.set_epoch(1)
    assert not torch.equal(first["image"], dataset[1]["image"])
    dataset.set_epoch(0)
    assert torch.equal(first["image"], dataset[1]["image"])
    reseeded = ImageMattingDataset(_image_config(data, seed=5))
    assert not torch.equal(first["image"], reseeded[1]["image"])


def test_light_degradation_keeps_masks_on_the_alpha(data):
    off = {"down_up_p": 0.0, "cut_p": 0.0, "binarize_max_kernel": 2, "block_size": 1, "instance_drop_p": 0.0}
    config = _image_config(data, masks=off, augment={"crop_size": 48, "affine_p": 0.0})
    for index in range(3):
        sample = ImageMattingDataset(config)[index]
        alpha, masks = sample["alpha"][0], sample["masks"][0]
        assert (masks <= (alpha > 0.1).float()).all() and (masks >= (alpha > 0.95).float()).all()
        assert torch.equal(sample["valid"], alpha.flatten(1).amax(1) > 0.5)


def test_blocky_masks_and_random_slots(data):
    dataset = ImageMattingDataset(_image_config(data, masks={"block_size": 8}))
    masks = dataset[0]["masks"]
    assert torch.equal(masks, masks[..., ::8, ::8].repeat_interleave(8, -2).repeat_interleave(8, -1))
    slots = set()
    for epoch in range(6):
        dataset.set_epoch(epoch)
        slots.add(tuple(dataset[0]["valid"].nonzero().flatten().tolist()))
    assert len(slots) > 2


def test_image_test_samples_are_unaugmented(data):
    options = {"root": str(data / "him"), "subset": "comp", "mask_dir": "masks_cli", "short_side": 60}
    config = from_dict(ImageDataConfig, {**options, "masks": {"block_size": 1}})
    dataset = ImageMattingDataset(config, train=False)
    sample = dataset[0]
    assert torch.equal(sample["image"], dataset[0]["image"])
    assert sample["name"] == "comp/00000"
    image = np.array(read_rgb(data / "him" / "images" / "comp" / "00000.jpg"))
    assert sample["original_size"].tolist() == list(image.shape[:2])
    h, w = sample["size"].tolist()
    assert h == 60 and sample["image"].shape[-2:] == (64, 128) and w <= 128
    masks = [read_gray(p) for p in list_images(data / "him" / "masks_cli" / "comp" / "00000")]
    n = len(masks)
    assert sample["valid"].tolist() == [True] * n + [False] * (10 - n)  # slots in file order
    if image.shape[:2] == (h, w):
        torch.testing.assert_close(
            sample["image"][0, :, :h, :w],
            normalize(torch.from_numpy(image).permute(2, 0, 1)[None] / 255.0)[0],
        )
    assert sample["masks"][0, :n].sum() > 0 and sample["masks"][0, :, h:, :].sum() == 0
    batch = next(iter(DataLoader(dataset, batch_size=1)))
    assert batch["alpha"].shape == (1, 1, 10, 64, 128) and batch["name"] == ["comp/00000"]


def test_video_training_clips(data):
    dataset = VideoMattingDataset(_video_config(data), train=True)
    assert len(dataset) == 12  # one item per (video, start frame)
    sample = dataset[4]
    _check_sample(sample, 3, 48)
    assert sample["sparsity"].shape == (3, 1, 48, 48) and sample["sparsity"][0].min() == 1
    indices = sample["frame_indices"].tolist()
    assert len(set(indices)) == 3 and (indices == sorted(indices) or indices == sorted(indices)[::-1])
    assert all(torch.equal(sample[k], dataset[4][k]) for k in sample)
    batch = next(iter(DataLoader(dataset, batch_size=2)))
    assert batch["image"].shape == (2, 3, 3, 48, 48) and batch["sparsity"].shape == (2, 3, 1, 48, 48)


def test_video_test_clips_and_xmem_masks(data):
    config = _video_config(data, mask_dir="xmem", clip_stride=2, short_side=64)
    dataset = VideoMattingDataset(config, train=False)
    starts = [dataset.index[i][1] for i in range(len(dataset)) if dataset.index[i][0] == 0]
    assert starts == [0, 2, 3]  # stride 2, plus a last clip ending on the last frame
    sample = dataset[1]
    assert sample["frame_indices"].tolist() == [2, 3, 4] and sample["name"] == "medium_00000"
    n = int(sample["valid"].sum())
    mask = read_gray(data / "vhim" / "comp_medium" / "xmem" / "medium_00000" / "00002" / "00.png")
    assert sample["original_size"].tolist() == list(mask.shape)
    assert sample["masks"][0, 0].sum() > 0 and (sample["masks"][:, :n].sum(1) <= 1).all()
    assert sample["image"].shape[-2] % 64 == 0 and sample["image"].shape[-1] % 64 == 0


def test_configs_are_strict_and_roots_required(data):
    with pytest.raises(ConfigError, match="crop_sise"):
        from_dict(ImageDataConfig, {"augment": {"crop_sise": 64}})
    with pytest.raises(ConfigError, match="flip_p"):
        from_dict(ImageDataConfig, {"augment": {"flip_p": 1.5}})
    with pytest.raises(ConfigError, match="clip_length"):
        from_dict(VideoDataConfig, {"clip_length": 0})
    video = VideoDataConfig()
    assert (video.augment.motion_blur_p, video.masks.instance_drop_p, video.masks.block_size) == (0.3, 0.2, 1)
    image = ImageDataConfig()
    assert (image.augment.crop_size, image.masks.instance_drop_p, image.masks.block_size) == (512, 0.05, 8)
    with pytest.raises(InputError, match="no dataset root"):
        ImageMattingDataset(ImageDataConfig())
    with pytest.raises(InputError, match="no images"):
        ImageMattingDataset(ImageDataConfig(), root=data / "vhim")
    np.testing.assert_equal(len(ImageMattingDataset(ImageDataConfig(), root=data / "ihim")), 3)
