"""Training checkpoints: what a run needs to continue exactly, and weight initialisation.

A checkpoint is one ``torch.save`` file holding the model, optimiser, scheduler and AMP-scaler
states, the global step, the best validation score, the resolved config, and the random states
of every process (Python, NumPy, torch CPU/CUDA and the trainer's own generator). Everything in
it is plain data or tensors, so it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import WeightsError
from ..io.atomic import atomic_path

__all__ = [
    "CHECKPOINT_FORMAT",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "InitReport",
    "load_matching_weights",
]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "maggie-train-1"


def capture_rng_state(generator: torch.Generator) -> dict[str, Any]:
    """Every random state one process uses, as tensors and plain values."""
    version, mt_state, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": {"version": version, "state": torch.tensor(mt_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state(),
    }


def restore_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    """Inverse of :func:`capture_rng_state`."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    nps = state["numpy"]
    np.random.set_state(
        (nps["kind"], nps["keys"].numpy().astype(np.uint32), nps["pos"], nps["has_gauss"], nps["cached"])
    )
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["generator"])


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` atomically (temporary file, then rename) so a kill never leaves half a file."""
    with atomic_path(path) as temp:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, temp)
    return Path(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a training checkpoint on the CPU; raises WeightsError naming the file if it is not one."""
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError) as exc:
        raise WeightsError(f"{path}: cannot read checkpoint ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise WeightsError(f"{path}: not a maggie training checkpoint (format {CHECKPOINT_FORMAT!r} expected)")
    return payload


@dataclass
class InitReport:
    """Outcome of :func:`load_matching_weights`.

    Attributes:
        loaded: model keys copied from the source.
        new: model keys the source lacks (e.g. the temporal modules when starting video training
            from an image checkpoint); they keep their fresh initialisation.
        mismatched: keys present in both but with different shapes (left initialised).
        ignored: source keys the model does not have.
    """

    loaded: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def load_matching_weights(model: torch.nn.Module, path: str | Path) -> InitReport:
    """Initialise ``model`` from the keys of a checkpoint that it shares (same name and shape).

    Used to start video training from an image checkpoint: the image model's keys load and the
    video-only modules are reported as ``new``. Accepts what :func:`maggie.weights.read_checkpoint`
    reads (a training checkpoint, a state dict, ``.safetensors``) with maggie key names.
    """
    from ..weights import read_checkpoint

    source = read_checkpoint(path)
    target = model.state_dict()
    if not set(source) & set(target):
        raise WeightsError(
            f"{path}: no key matches the model. For a released (reference-named) checkpoint, load it "
            "with maggie.load_reference_weights into build_model('maggie-image') and write it with "
            "maggie.weights.save_weights(model, out, reference_names=False) first"
        )
    report = InitReport()
    matched = {}
    for key, value in target.items():
        if key not in source:
            report.new.append(key)
        elif source[key].shape != value.shape:
            report.mismatched.append(key)
        else:
            matched[key] = source[key]
            report.loaded.append(key)
    report.ignored = sorted(set(source) - set(target))
    model.load_state_dict(matched, strict=False)
    logger.info(
        "init from %s: %d keys loaded, %d new, %d shape-mismatched, %d ignored",
        path,
        len(report.loaded),
        len(report.new),
        len(report.mismatched),
        len(report.ignored),
    )
    for name, keys in (
        ("new", report.new),
        ("shape-mismatched", report.mismatched),
        ("ignored", report.ignored),
    ):
        if keys:
            logger.info("  %s keys: %s", name, ", ".join(keys))
    return report
