"""What the image and video jobs share: setting checks, model loading, guidance-mask preparation."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MaggieError
from ..hub import RELEASES, describe_weights, load_model
from ..io import OVERLAP_RULES, adjust_masks, parse_color, resolve_overlaps
from ..models import MaGGIe
from ..models.config import PRESETS

__all__ = [
    "SettingsError",
    "Settings",
    "parse_outputs",
    "prepare_guidance",
    "check_model",
    "get_model",
    "output_folder",
]


class SettingsError(MaggieError, ValueError):
    """A job parameter has a value that cannot work (the message names the parameter)."""


@dataclass(frozen=True)
class Settings:
    """The settings both jobs take, checked on construction (see the job functions for meanings)."""

    short_side: int | None
    band_kernel: int | None
    erode: int
    dilate: int
    overlap_rule: str
    bit_depth: int
    background: str | Sequence[int] | None

    def __post_init__(self) -> None:
        for name in ("erode", "dilate"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < 0:
                raise SettingsError(f"{name} must be a pixel radius >= 0, got {value!r}")
        for name in ("short_side", "band_kernel"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, numbers.Integral) or value < 1):
                raise SettingsError(f"{name} must be a positive number of pixels or None, got {value!r}")
        if self.overlap_rule not in OVERLAP_RULES:
            raise SettingsError(f"overlap_rule must be one of {', '.join(OVERLAP_RULES)}, got {self.overlap_rule!r}")
        if self.bit_depth not in (8, 16):
            raise SettingsError(f"bit_depth must be 8 or 16, got {self.bit_depth!r}")
        if self.background is not None:
            parse_color(self.background)  # fail before any work, not at the first preview

    def to_dict(self) -> dict[str, Any]:
        return {
            "short_side": self.short_side,
            "band_kernel": self.band_kernel,
            "erode": self.erode,
            "dilate": self.dilate,
            "overlap_rule": self.overlap_rule,
            "bit_depth": self.bit_depth,
            "background": None if self.background is None else list(parse_color(self.background)),
        }


def parse_outputs(outputs: str | Sequence[str], allowed: Sequence[str]) -> tuple[str, ...]:
    """Check the requested output kinds; a string is read as a comma-separated list."""
    names = outputs.split(",") if isinstance(outputs, str) else list(outputs)
    names = [name.strip() for name in names if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown or not names:
        got = f"unknown {', '.join(map(repr, unknown))}" if unknown else "none given"
        raise SettingsError(f"outputs must be some of {', '.join(allowed)} ({got})")
    return tuple(dict.fromkeys(names))  # unique, in the order given


def output_folder(out: str | os.PathLike[str]) -> Path:
    """The output folder as an absolute path (manifests store paths relative to it)."""
    path = Path(out).absolute()
    if path.exists() and not path.is_dir():
        raise SettingsError(f"{out}: the output location exists and is not a folder")
    return path


def prepare_guidance(masks: np.ndarray, settings: Settings) -> np.ndarray:
    """Erode/dilate, then give every pixel to one instance (dilation makes neighbours overlap)."""
    if settings.erode or settings.dilate:
        masks = adjust_masks(masks, erode=settings.erode, dilate=settings.dilate)
    return resolve_overlaps(masks, settings.overlap_rule)


def _check_kind(kind: str, model: MaGGIe, name: str) -> None:
    if model.is_video != (kind == "video"):
        job = "process_video needs a video" if kind == "video" else "process_images needs an image"
        raise SettingsError(f"{job} model, got {name}")


def check_model(kind: str, model: str | MaGGIe | None) -> None:
    """Fail before any work when a model object of the other kind (image/video) is passed."""
    if isinstance(model, MaGGIe):
        _check_kind(kind, model, _preset_name(model))


def _preset_name(model: MaGGIe) -> str:
    return next((name for name, config in PRESETS.items() if config == model.config), "custom")


def get_model(
    kind: str,
    model: str | MaGGIe | None,
    weights: str | os.PathLike[str] | None,
    device: str,
) -> tuple[MaGGIe, dict[str, Any]]:
    """The job's model, and the manifest's description of it (``{"model": ..., "weights": ...}``).

    ``model`` is None (the released architecture of ``kind``), a preset name, or a model that
    already has its weights (then ``weights`` must be None).
    """
    if isinstance(model, MaGGIe):
        if weights is not None:
            raise SettingsError("pass either a model with its weights loaded or weights, not both")
        return model, {
            "model": _preset_name(model),
            "weights": {"source": "model object passed by the caller"},
        }
    description = describe_weights(kind, weights)
    name = model or RELEASES[kind].architecture
    net = load_model(kind, weights, device=device, architecture=name)
    _check_kind(kind, net, name)
    return net, {"model": name, "weights": description}
