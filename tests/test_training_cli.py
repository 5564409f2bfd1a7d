"""``maggie train`` end to end on a tiny synthesised data set, with the shipped configs."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from maggie.cli import main
from maggie.config import ConfigError
from maggie.training import load_train_config
from maggie.training.checkpoint import load_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from maggie.data.synthesis import ImageSynthesisConfig, synthesize_images, write_procedural_sources

    root = tmp_path_factory.mktemp("tiny-data")
    fg, bg = write_procedural_sources(
        root / "sources",
        num_foregrounds=3,
        num_backgrounds=2,
        foreground_size=(96, 72),
        background_size=(128, 128),
    )
    config = ImageSynthesisConfig(size=(128, 128), instances=(1, 2))
    synthesize_images(fg, bg, root / "train", num_images=4, config=config)
    synthesize_images(fg, bg, root / "val", num_images=2, seed=1, config=config)
    return root


@pytest.mark.parametrize("name", ["maggie_image", "maggie_video", "tiny"])
def test_shipped_configs_load(name: str) -> None:
    config = load_train_config(CONFIGS / f"{name}.yaml")
    assert config.max_steps > 0 and not Path(config.data.train["root"]).is_absolute()


def test_reference_recipe_values() -> None:
    image = load_train_config(CONFIGS / "maggie_image.yaml")
    assert (image.optim.lr, image.optim.weight_decay, image.optim.grad_clip_norm) == (1.5e-4, 0.01, 0.01)
    assert (image.schedule.name, image.schedule.warmup_steps, image.max_steps) == ("onecycle", 1000, 52000)
    assert (image.loss.alpha, image.loss.laplacian, image.loss.gradient, image.loss.attention) == (
        1.0,
        0.05,
        0.05,
        5.0,
    )
    assert image.loss.dtssd == 0.0
    video = load_train_config(CONFIGS / "maggie_video.yaml")
    assert (video.optim.lr, video.max_steps, video.loss.dtssd, video.data.kind) == (5e-5, 10000, 1.0, "video")


def test_unknown_keys_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="optim.learning_rate"):
        load_train_config(CONFIGS / "tiny.yaml", ["optim.learning_rate=0.1"])
    with pytest.raises(ConfigError, match="data.train.crop"):
        load_train_config(CONFIGS / "tiny.yaml", ["data.train.crop=64"])
    with pytest.raises(ConfigError):
        load_train_config(CONFIGS / "tiny.yaml", ["amp=off"])  # YAML false, not the string "off"


def test_cli_trains_and_resumes(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = [
        "--config",
        str(CONFIGS / "tiny.yaml"),
        f"output_dir={out}",
        f"data.train.root={tiny_data / 'train'}",
        f"data.val.root={tiny_data / 'val'}",
        "data.train.augment.crop_size=64",
        "max_steps=3",
        "schedule.warmup_steps=1",
        "val_every=2",
        "checkpoint_every=2",
        "log_every=1",
    ]
    assert main(["train", *common]) == 0
    checkpoints = out / "checkpoints"
    assert {"last.pt", "best.pt", "step_00000002.pt", "step_00000003.pt"} <= {p.name for p in checkpoints.iterdir()}
    val = list(csv.DictReader(open(out / "val.csv")))
    assert [int(r["step"]) for r in val] == [2, 3] and all(float(r["MAD"]) >= 0 for r in val)
    assert main(["train", *common, "max_steps=4", "--resume", str(checkpoints / "step_00000003.pt")]) == 0
    assert load_checkpoint(checkpoints / "last.pt")["step"] == 4
    assert [int(r["step"]) for r in csv.DictReader(open(out / "train.csv"))] == [1, 2, 3, 4]


def _cli_args(tiny_data: Path, out: Path) -> list[str]:
    return [
        "--config",
        str(CONFIGS / "tiny.yaml"),
        f"output_dir={out}",
        f"data.train.root={tiny_data / 'train'}",
        "data.val=null",
        "data.train.augment.crop_size=64",
        "max_steps=6",
        "schedule.warmup_steps=1",
        "curriculum.gt_band_steps=2",
        "curriculum.mixed_band_steps=4",
        "checkpoint_every=2",
        "log_every=1",
    ]


@pytest.mark.slow
def test_killed_process_resumes_bit_identically(tiny_data: Path, tmp_path: Path) -> None:
    assert main(["train", *_cli_args(tiny_data, tmp_path / "straight")]) == 0
    expected = load_checkpoint(tmp_path / "straight" / "checkpoints" / "step_00000006.pt")["model"]

    killed = tmp_path / "killed"
    cmd = [sys.executable, "-c", "import sys; from maggie.cli import main; sys.exit(main(sys.argv[1:]))"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same thread count as this process
    proc = subprocess.Popen([*cmd, "train", *_cli_args(tiny_data, killed)], env=env)
    first = killed / "checkpoints" / "step_00000002.pt"
    deadline = time.monotonic() + 240
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    still_running = proc.poll() is None
    proc.kill()  # SIGKILL: no cleanup, whatever step was running is lost
    proc.wait()
    assert first.exists() and still_running
    assert main(["train", *_cli_args(tiny_data, killed), "--resume", str(first)]) == 0
    got = load_checkpoint(killed / "checkpoints" / "step_00000006.pt")["model"]
    assert expected.keys() == got.keys()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
