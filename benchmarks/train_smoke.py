"""Smoke training: does a small MaGGIe learn to improve on its guidance masks, on 2 CPU cores?

Synthesises a training set and a held-out set of multi-person composites from procedural
person-like foregrounds (soft edges, hair strands, semi-transparent veils, motion blur) and
textured backgrounds, trains ``configs/smoke.yaml`` for a fixed number of steps, and scores the
held-out set in the conventional convention (MAD and MSE ×1e3, mean over instances) for:

* the guidance mask itself used as the alpha (the baseline to beat), and the same mask as the
  model receives it (sampled at 1/8, i.e. in 8×8 blocks; for reference),
* the untrained model (same seed, for reference),
* the trained model,

both models run through :class:`maggie.ImageMatter` as a user would (masks sampled at 1/8, the
reference evaluation). Held-out foregrounds, backgrounds and composites come from other seeds
than the training ones, and its guidance masks are test-style: the alpha thresholded at 0.5, grown
or shrunk by up to 4 px, half of them with blocky 1/8-resolution edges
(:func:`maggie.data.transforms.masks.simulate_predicted_masks` without its lost-part holes).
Everything is written under ``--out`` (default ``/tmp/maggie-train-smoke``), the numbers also to
``results.json`` there.

    python benchmarks/train_smoke.py [--budget-minutes M | --steps N] [--out DIR] [--seed S]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

import maggie
from maggie.data.io import list_images, read_gray, read_rgb
from maggie.data.synthesis import ImageSynthesisConfig, synthesize_images, write_procedural_sources
from maggie.data.transforms.masks import block_nearest, simulate_predicted_masks
from maggie.metrics import mad, mse
from maggie.models import MaGGIe
from maggie.training import TrainConfig, load_train_config, train

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO / "configs" / "smoke.yaml"

# Data sizes: enough distinct people that the held-out ones are new, small enough to write in
# seconds. Composites are 256×256 with 1–3 people in both sets (training takes crops of them).
TRAIN_IMAGES, TRAIN_FOREGROUNDS, TRAIN_BACKGROUNDS = 400, 64, 24
HELD_OUT_IMAGES, HELD_OUT_FOREGROUNDS, HELD_OUT_BACKGROUNDS = 40, 16, 8
IMAGE_SIZE = (256, 256)
INSTANCES = (1, 3)
HELD_OUT_SEED_OFFSET = 1000  # held-out data never shares a random stream with training data

Sample = tuple[np.ndarray, np.ndarray, np.ndarray]  # image H×W×3 uint8, alphas and masks N×H×W
Predictor = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image, bool masks) → alphas N×H×W


def synthesize(out: Path, seed: int) -> tuple[Path, Path]:
    """Write the training and held-out datasets (I-HIM50K layout); return their roots."""
    train_root, held_root = out / "data" / "train", out / "data" / "held_out"
    for root, sources, count, fgs, bgs, s in (
        (train_root, out / "data" / "train_sources", TRAIN_IMAGES, TRAIN_FOREGROUNDS, TRAIN_BACKGROUNDS, seed),
        (
            held_root,
            out / "data" / "held_out_sources",
            HELD_OUT_IMAGES,
            HELD_OUT_FOREGROUNDS,
            HELD_OUT_BACKGROUNDS,
            seed + HELD_OUT_SEED_OFFSET,
        ),
    ):
        fg_dir, bg_dir = write_procedural_sources(sources, num_foregrounds=fgs, num_backgrounds=bgs, seed=s)
        config = ImageSynthesisConfig(instances=INSTANCES, size=IMAGE_SIZE, mask_dir="")
        synthesize_images(fg_dir, bg_dir, root, num_images=count, seed=s, config=config)
    return train_root, held_root


def load_held_out(root: Path, seed: int) -> list[Sample]:
    """``(image H×W×3 uint8, alphas N×H×W float32, guidance masks N×H×W bool)`` per image."""
    samples = []
    for index, image_path in enumerate(list_images(root / "images")):
        alpha_paths = list_images(root / "alphas" / image_path.stem)
        alphas = np.stack([read_gray(p) for p in alpha_paths]).astype(np.float32) / 255.0
        rng = np.random.default_rng([seed, index])
        masks = simulate_predicted_masks(torch.from_numpy(alphas)[None], rng, dropout_p=0.0)[0].numpy() > 0.5
        samples.append((read_rgb(image_path), alphas, masks))
    return samples


def score(predict: Predictor, samples: list[Sample]) -> dict[str, float]:
    """Mean conventional MAD and MSE (×1e3) over all held-out instances, and seconds per image."""
    mads, mses = [], []
    tic = time.perf_counter()
    for image, alphas, masks in samples:
        pred = predict(image, masks)
        mads.append(mad(pred, alphas, convention="conventional"))
        mses.append(mse(pred, alphas, convention="conventional"))
    seconds = (time.perf_counter() - tic) / len(samples)
    return {
        "MAD": float(np.concatenate(mads).mean()),
        "MSE": float(np.concatenate(mses).mean()),
        "sec_per_image": seconds,
    }


def model_predictor(model: MaGGIe) -> Predictor:
    matter = maggie.ImageMatter(model, device="cpu", short_side=None, mask_downscale=True)
    return matter.predict


def mask_predictor(image: np.ndarray, masks: np.ndarray) -> np.ndarray:
    return masks.astype(np.float32)


def block_mask_predictor(image: np.ndarray, masks: np.ndarray) -> np.ndarray:
    # The guidance as the model receives it from ImageMatter: sampled at 1/8, in 8×8 blocks.
    return block_nearest(torch.from_numpy(masks).float(), 8).numpy()


def scaled_config(config: TrainConfig, steps: int) -> TrainConfig:
    """``config`` with ``max_steps = steps`` and warm-up and curriculum stretched alike."""
    ratio = steps / config.max_steps

    def scale(value: int) -> int:
        return min(steps, round(value * ratio))

    return replace(
        config,
        max_steps=steps,
        schedule=replace(config.schedule, warmup_steps=scale(config.schedule.warmup_steps)),
        curriculum=replace(
            config.curriculum,
            gt_band_steps=scale(config.curriculum.gt_band_steps),
            mixed_band_steps=scale(config.curriculum.mixed_band_steps),
        ),
    )


def steps_for_budget(config: TrainConfig, minutes: float, probe_steps: int = 12) -> int:
    """Steps that fit ``minutes`` of training, from the speed of a short throw-away run.

    The probe's first steps include start-up costs, so its estimate errs on the short side.
    """
    probe = scaled_config(config, probe_steps)
    probe = replace(probe, output_dir=Path(config.output_dir) / "probe", val_every=0, checkpoint_every=0)
    tic = time.perf_counter()
    train(probe)
    seconds_per_step = (time.perf_counter() - tic) / probe_steps
    shutil.rmtree(probe.output_dir, ignore_errors=True)
    return max(probe_steps, math.floor(minutes * 60 / seconds_per_step))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=int, help="training steps (default: the config's max_steps)")
    budget.add_argument(
        "--budget-minutes", type=float, help="train for about this long instead (steps from a short timed probe)"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/maggie-train-smoke"))
    parser.add_argument("--seed", type=int, default=0, help="seeds the data and the model")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    # One thread trains this small model as fast as two (its ops are too small to split well),
    # and does not stall when another process holds the second core.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    tic = time.perf_counter()
    train_root, held_root = synthesize(args.out, args.seed)
    held_out = load_held_out(held_root, args.seed + HELD_OUT_SEED_OFFSET)
    synth_seconds = time.perf_counter() - tic

    config = load_train_config(
        args.config,
        [
            f"data.train.root={train_root}",
            f"data.train.seed={args.seed}",
            f"output_dir={args.out / 'run'}",
            f"seed={args.seed}",
        ],
    )
    if args.steps is not None:
        config = scaled_config(config, args.steps)
    elif args.budget_minutes is not None:
        config = scaled_config(config, steps_for_budget(config, args.budget_minutes))

    torch.manual_seed(config.seed)
    model = maggie.build_model(config.model)
    rows = {
        "input mask": score(mask_predictor, held_out),
        "mask, 1/8 blocks": score(block_mask_predictor, held_out),
        # Scoring leaves no trace in the model (eval mode: no BatchNorm or spectral-norm updates).
        "untrained model": score(model_predictor(model), held_out),
    }

    shutil.rmtree(config.output_dir, ignore_errors=True)  # a previous run's logs would be appended to
    tic = time.perf_counter()
    result = train(config, model=model)  # trains ``model`` in place
    train_seconds = time.perf_counter() - tic
    rows["trained model"] = score(model_predictor(model), held_out)

    instances = sum(len(a) for _, a, _ in held_out)
    print()
    print(
        f"held-out: {len(held_out)} images {IMAGE_SIZE[0]}×{IMAGE_SIZE[1]}, {instances} instances; "
        f"model {config.model}, {result.step} steps of batch {config.batch_size} "
        f"({config.data.typed('train').augment.crop_size} px crops) in {train_seconds / 60:.1f} min "
        f"with {args.threads} torch thread(s) (torch {torch.__version__})"
    )
    print(f"{'alpha from':<16} {'MAD':>8} {'MSE':>8} {'s/image':>8}")
    for name, row in rows.items():
        print(f"{name:<16} {row['MAD']:>8.2f} {row['MSE']:>8.2f} {row['sec_per_image']:>8.3f}")
    report = {
        "config": str(args.config),
        "model": config.model,
        "seed": args.seed,
        "budget_minutes": args.budget_minutes,
        "steps": result.step,
        "batch_size": config.batch_size,
        "threads": args.threads,
        "torch": torch.__version__,
        "train_minutes": train_seconds / 60,
        "synthesis_minutes": synth_seconds / 60,
        "held_out_images": len(held_out),
        "held_out_instances": instances,
        "convention": "conventional (MAD, MSE ×1e3, mean over instances)",
        "results": rows,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    print(f"written {args.out / 'results.json'}")


if __name__ == "__main__":
    main()
