"""The training loop on a tiny in-memory data set: learning, exact resume, gradients, init, logs.

``BlobDataset`` is also imported by the DDP worker of ``test_training_ddp.py``.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

import maggie
from maggie.losses import LossConfig, MattingLoss
from maggie.ops.morphology import dilate, erode
from maggie.training import CurriculumConfig, OptimConfig, ScheduleConfig, TrainConfig, Trainer, train
from maggie.training.checkpoint import load_checkpoint


class BlobDataset(Dataset):
    """Deterministic samples: soft-edged ellipses ("people") of distinct colours on noise.

    Items follow the ``maggie.data`` sample format with ``N = 10`` slots: ``image (T,3,S,S)``,
    ``alpha``/``masks``/``transition`` ``(T,10,S,S)``, ``valid (10,)``, and for ``frames > 1``
    ``sparsity (T,1,S,S)`` (the ellipses drift between frames).
    """

    def __init__(self, length: int, *, size: int = 64, frames: int = 1, instances: int = 2, seed: int = 0):
        self.length, self.size, self.frames, self.instances, self.seed = length, size, frames, instances, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 10_000 + index)
        s, t, slots = self.size, self.frames, 10
        yy, xx = torch.meshgrid(
            torch.arange(s, dtype=torch.float32), torch.arange(s, dtype=torch.float32), indexing="ij"
        )
        image = 0.3 * torch.rand(t, 3, s, s, generator=g)
        alpha = torch.zeros(t, slots, s, s)
        chosen = torch.randperm(slots, generator=g)[: self.instances]
        for slot in chosen.tolist():
            centre = torch.rand(2, generator=g) * s * 0.5 + s * 0.25
            radius = torch.rand(2, generator=g) * s * 0.15 + s * 0.12
            drift = (torch.rand(2, generator=g) - 0.5) * 4
            colour = torch.rand(3, 1, 1, generator=g)
            for f in range(t):
                cy, cx = centre + f * drift
                dist = ((yy - cy) / radius[0]) ** 2 + ((xx - cx) / radius[1]) ** 2
                a = ((1.0 - dist) * radius.min() / 3).clamp(0, 1)  # ~3 px soft edge
                alpha[f, slot] = torch.maximum(alpha[f, slot], a)
                image[f] = image[f] * (1 - a) + colour * a
        masks = (alpha > 0.5).float()
        transition = (dilate(alpha > 0, 5) & ~erode(alpha >= 1, 5)).float()
        valid = torch.zeros(slots, dtype=torch.bool)
        valid[chosen] = True
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        sample = {
            "image": (image - mean) / std,
            "alpha": alpha,
            "masks": masks,
            "transition": transition,
            "valid": valid,
        }
        if t > 1:
            changed = ((alpha[1:] - alpha[:-1]).abs() > 5 / 255).any(1, keepdim=True)
            sample["sparsity"] = torch.cat([torch.ones(1, 1, s, s, dtype=torch.bool), changed]).float()
        return sample


def tiny_config(tmp_path: Path, **overrides: object) -> TrainConfig:
    """A fast CPU run of the tiny model; overrides replace top-level fields."""
    fields: dict[str, object] = dict(
        model="maggie-tiny",
        output_dir=tmp_path / "run",
        seed=7,
        max_steps=6,
        batch_size=2,
        num_workers=0,
        device="cpu",
        deterministic=True,
        log_every=1,
        val_every=0,
        checkpoint_every=3,
        keep_checkpoints=5,
        optim=OptimConfig(lr=2e-3, grad_clip_norm=1.0),
        schedule=ScheduleConfig(name="warmup_cosine", warmup_steps=1),
        curriculum=CurriculumConfig(gt_band_steps=2, mixed_band_steps=4, mixed_band_prob=0.5),
    )
    fields.update(overrides)
    return TrainConfig(**fields)  # type: ignore[arg-type]


def _scramble_global_rng() -> None:
    """What a killed process loses: its global random states (a new process starts elsewhere)."""
    random.seed(999)
    np.random.seed(999)
    torch.manual_seed(999)


def _fixed_batch_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> float:
    model.train()
    with torch.no_grad():
        out = model(
            batch["image"],
            batch["masks"],
            band_alpha=batch["alpha"],
            generator=torch.Generator().manual_seed(0),
        )
        return MattingLoss()(out, batch, generator=torch.Generator().manual_seed(0), band_from_gt=True)["total"].item()


@pytest.mark.slow
def test_a_few_steps_reduce_the_loss(tmp_path: Path) -> None:
    data = BlobDataset(4)
    batch = {k: torch.stack([data[i][k] for i in range(4)]) for k in data[0]}
    cfg = tiny_config(tmp_path, max_steps=16, checkpoint_every=0, log_every=4)
    trainer = Trainer(cfg, train_dataset=data)
    before = _fixed_batch_loss(trainer.module, batch)
    result = trainer.fit()
    after = _fixed_batch_loss(trainer.module, batch)
    trainer.close()
    assert result.step == 16 and result.last_checkpoint is not None
    assert after < 0.8 * before, (before, after)
    rows = list(csv.DictReader(open(tmp_path / "run" / "train.csv")))
    assert [int(r["step"]) for r in rows] == [1, 4, 8, 12, 16]
    assert {"total", "rec", "lap", "grad", "att", "lr", "grad_norm", "gt_band", "sec_per_step"} <= set(rows[0])
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert all(r["kind"] == "train" for r in records) and len(records) == 5


def _params(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.module.state_dict().items()}


@pytest.mark.slow
def test_kill_and_resume_is_bit_identical(tmp_path: Path) -> None:
    data = BlobDataset(5)  # 2 steps per epoch, so step 3 resumes mid-epoch
    straight = Trainer(tiny_config(tmp_path / "a"), train_dataset=data)
    straight.fit()
    expected = _params(straight)
    expected_opt = straight.optimizer.state_dict()["state"]
    straight.close()

    interrupted = Trainer(tiny_config(tmp_path / "b"), train_dataset=data)
    interrupted.fit(stop_at=4)  # checkpoint at step 3, then one more step that is lost
    interrupted.close()
    _scramble_global_rng()
    resumed = Trainer(tiny_config(tmp_path / "b"), train_dataset=data)
    resumed.resume(tmp_path / "b" / "run" / "checkpoints" / "step_00000003.pt")
    assert resumed.step == 3
    result = resumed.fit()
    got = _params(resumed)
    got_opt = resumed.optimizer.state_dict()["state"]
    resumed.close()

    assert result.step == 6
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    for index, state in expected_opt.items():
        assert torch.equal(state["exp_avg"], got_opt[index]["exp_avg"])
        assert torch.equal(state["exp_avg_sq"], got_opt[index]["exp_avg_sq"])


def test_checkpoint_contents(tmp_path: Path) -> None:
    trainer = Trainer(
        tiny_config(tmp_path, max_steps=3, keep_checkpoints=1, checkpoint_every=1),
        train_dataset=BlobDataset(4),
    )
    trainer.fit()
    trainer.close()
    directory = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in directory.iterdir()) == ["last.pt", "step_00000003.pt"]
    payload = load_checkpoint(directory / "last.pt")
    assert payload["step"] == 3 and payload["world_size"] == 1
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config", "best_score"} <= set(payload)
    assert set(payload["rng"][0]) == {"python", "numpy", "torch", "cuda", "generator"}
    assert payload["config"]["model"] == "maggie-tiny"
    assert (tmp_path / "run" / "config.yaml").is_file()


def _grad_report(model_name: str, tmp_path: Path, data: Dataset, *, gt_band: bool, batch_size: int) -> list[str]:
    """Parameters left without a (non-zero) gradient by one training step."""
    cfg = tiny_config(
        tmp_path,
        model=model_name,
        batch_size=batch_size,
        loss=LossConfig(dtssd=1.0 if "video" in model_name else 0.0),
        curriculum=CurriculumConfig(gt_band_steps=1 if gt_band else 0, mixed_band_steps=1 if gt_band else 0),
    )
    trainer = Trainer(cfg, train_dataset=data)
    trainer.train_step(next(iter(torch.utils.data.DataLoader(data, batch_size=batch_size))))
    missing = [
        n for n, p in trainer.module.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    trainer.close()
    return missing


@pytest.mark.parametrize("gt_band", [True, False], ids=["gt-band", "coarse-band"])
def test_every_image_parameter_gets_a_gradient(tmp_path: Path, gt_band: bool) -> None:
    # Batch 2: BatchNorm after the ASPP's global pooling needs more than one value per channel.
    assert _grad_report("maggie-tiny", tmp_path, BlobDataset(2), gt_band=gt_band, batch_size=2) == []


@pytest.mark.parametrize("gt_band", [True, False], ids=["gt-band", "coarse-band"])
def test_every_video_parameter_gets_a_gradient(tmp_path: Path, gt_band: bool) -> None:
    data = BlobDataset(1, frames=3)
    assert _grad_report("maggie-tiny-video", tmp_path, data, gt_band=gt_band, batch_size=1) == []


def test_video_init_from_image_checkpoint(tmp_path: Path) -> None:
    image_model = maggie.build_model("maggie-tiny")
    path = tmp_path / "image.pt"
    torch.save({"model": image_model.state_dict()}, path)
    cfg = tiny_config(tmp_path, model="maggie-tiny-video", init_from=path, max_steps=1)
    trainer = Trainer(cfg, train_dataset=BlobDataset(2, frames=2))
    report = trainer.init_report
    assert report is not None and report.loaded and not report.mismatched and not report.ignored
    assert report.new and all(k.startswith(("temporal_gru.", "temporal_sparsity.")) for k in report.new)
    video_state = trainer.module.state_dict()
    assert all(torch.equal(video_state[k], image_model.state_dict()[k]) for k in report.loaded)
    trainer.close()


def test_validation_keeps_the_best_checkpoint(tmp_path: Path) -> None:
    cfg = tiny_config(tmp_path, max_steps=2, val_every=1, checkpoint_every=0)
    result = train(cfg, train_dataset=BlobDataset(4), val_dataset=BlobDataset(2, seed=1))
    rows = list(csv.DictReader(open(tmp_path / "run" / "val.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert result.best_score == pytest.approx(min(float(r["MAD"]) for r in rows))
    assert result.best_checkpoint == tmp_path / "run" / "checkpoints" / "best.pt"
    assert load_checkpoint(result.best_checkpoint)["best_score"] == result.best_score
    assert result.last_checkpoint is not None and result.last_checkpoint.name == "step_00000002.pt"


def test_a_non_finite_step_is_skipped_without_side_effects(tmp_path: Path) -> None:
    data = BlobDataset(2)
    trainer = Trainer(tiny_config(tmp_path), train_dataset=data)
    batch = {k: torch.stack([data[i][k] for i in range(2)]) for k in data[0]}
    before = _params(trainer)
    poisoned = {**batch, "image": batch["image"].clone()}
    poisoned["image"][1, 0, 0, 0, 0] = float("nan")
    stats = trainer.train_step(poisoned)
    assert stats["skipped"].item() == 1.0 and trainer.step == 1
    after = _params(trainer)  # parameters and BatchNorm statistics untouched
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert trainer.train_step(batch)["skipped"].item() == 0.0
    assert all(torch.isfinite(v).all() for v in trainer.module.state_dict().values() if v.is_floating_point())
    trainer.close()
