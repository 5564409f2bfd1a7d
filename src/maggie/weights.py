"""Checkpoint loading and saving, in the reference key layout or maggie's own.

The released checkpoints (``chuonghm/maggie-image-him50k-cvpr24``,
``chuonghm/maggie-video-vim2k5-cvpr24``) use the reference implementation's module names; our
modules follow the paper's stages instead. :data:`REFERENCE_PREFIXES` maps one onto the other
(prefix renames only: tensor layouts are kept, including spconv's KRSC weights). The four
``decoder.dummy_downscale.*`` tensors of the reference only ever built sparse indices; they must
be present with the right shapes and are then dropped.

Loading is strict: a missing, unexpected or mis-shaped key raises :class:`WeightsError` naming
the key. Nothing is unpickled: ``.safetensors`` files are read with safetensors and
``.pth``/``.pt``/``.bin`` files with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import WeightsError
from .io.atomic import atomic_path

__all__ = [
    "REFERENCE_PREFIXES",
    "FIXTURE_MULTIPLIERS",
    "load_reference_weights",
    "read_checkpoint",
    "save_weights",
    "reference_state_dict",
    "reference_shapes",
    "synthetic_reference_weights",
]

# (reference prefix, maggie prefix), first match wins.
REFERENCE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("encoder.mask_embed_layer.", "mask_embedding.table."),
    ("encoder.", "encoder."),
    ("aspp.", "aspp."),
    ("decoder.layer1.", "trunk.layer1."),
    ("decoder.layer2.", "trunk.layer2."),
    ("decoder.refine_OS8.", "instance_decoder."),
    ("decoder.os8_temp_module.", "temporal_gru."),
    ("decoder.diff_module.", "temporal_sparsity.layers."),
    ("decoder.", "refiner."),
)
_IGNORED_PREFIX = "decoder.dummy_downscale."

# The fixture recipe's gains (see tests/fixtures/official): they make random weights give
# structured mattes (saturated coarse alpha, a thin band, a refinement that matters).
FIXTURE_MULTIPLIERS: dict[str, float] = {
    "decoder.refine_OS8.decoder_norm.weight": 32.0,
    "decoder.refine_OS8.id_embedding.weight": 3.0,
    "decoder.refine_OS4.3.weight": 32.0,
    "decoder.refine_OS1.3.weight": 8.0,
    "decoder.guidance_layer.3.weight": 4.0,
}


def _to_maggie(key: str) -> str | None:
    for ref, ours in REFERENCE_PREFIXES:
        if key.startswith(ref):
            return ours + key[len(ref) :]
    return None


def _to_reference(key: str) -> str:
    for ref, ours in REFERENCE_PREFIXES:
        if key.startswith(ours):
            return ref + key[len(ours) :]
    raise KeyError(key)


def _ignored_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    c0, c1 = model.config.encoder_channels[:2]
    shapes = [(c0, 3, 3, 3), (c0, 3, 3, c0), (c1, 3, 3, c0), (c1, 3, 3, c1)]
    return {f"{_IGNORED_PREFIX}{i}.weight": s for i, s in enumerate(shapes)}


def reference_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Reference key → shape for ``model``: the manifest of its reference checkpoint."""
    shapes = {_to_reference(k): tuple(v.shape) for k, v in model.state_dict().items()}
    shapes.update(_ignored_shapes(model))
    return shapes


def reference_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model``'s weights under the reference key names (the ignored tensors as zeros)."""
    out = {_to_reference(k): v.detach().clone() for k, v in model.state_dict().items()}
    for key, shape in _ignored_shapes(model).items():
        out[key] = torch.zeros(shape)
    return out


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a tensor dict from ``.safetensors`` or a ``.pth``/``.pt``/``.bin`` file.

    A ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper and a ``module.`` prefix (DDP) are
    unwrapped. Raises :class:`WeightsError` naming the file if it is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            data: Any = load_file(str(path), device="cpu")
        else:
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means the same thing to a user
        raise WeightsError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    for wrapper in ("state_dict", "model"):
        if isinstance(data, Mapping) and wrapper in data and isinstance(data[wrapper], Mapping):
            data = data[wrapper]
    if not isinstance(data, Mapping) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise WeightsError(f"{path}: expected a mapping of parameter names to tensors")
    if data and all(k.startswith("module.") for k in data):
        data = {k[len("module.") :]: v for k, v in data.items()}
    return dict(data)


def _hint(model: nn.Module, keys: set[str]) -> str:
    temporal = any(k.startswith(("decoder.os8_temp_module.", "decoder.diff_module.", "temporal_")) for k in keys)
    if temporal and not model.is_video:
        return " (this looks like a video checkpoint: build the model with build_model('maggie-video'))"
    return ""


def load_reference_weights(
    model: nn.Module,
    weights: str | os.PathLike[str] | Mapping[str, Any],
    *,
    source: str | None = None,
) -> nn.Module:
    """Load weights into ``model`` strictly and return it.

    Args:
        model: a model from :func:`maggie.build_model`.
        weights: a checkpoint path, or a mapping of names to tensors / numpy arrays, keyed either
            like the reference implementation (released checkpoints) or like ``model``'s own
            ``state_dict()`` (maggie checkpoints).
        source: name used in error messages (defaults to the path).

    Raises:
        WeightsError: a key is missing, unexpected or has the wrong shape (the message names it).
    """
    if isinstance(weights, (str, os.PathLike)):
        where = source or str(weights)
        raw = read_checkpoint(weights)
    else:
        where = source or "state dict"
        raw = dict(weights)
    tensors = {k: torch.as_tensor(np.asarray(v)) if not isinstance(v, torch.Tensor) else v for k, v in raw.items()}
    own = model.state_dict()
    if not set(tensors) <= set(own):
        tensors = _from_reference(model, tensors, where)
    missing = sorted(set(own) - set(tensors))
    if missing:
        ref = _to_reference(missing[0])
        image_into_video = model.is_video and "temporal" in missing[0]
        hint = " (an image checkpoint cannot fill a video model)" if image_into_video else ""
        raise WeightsError(
            f"{where}: missing key {ref!r} (maggie name {missing[0]!r}) and {len(missing) - 1} more{hint}"
        )
    for key, value in tensors.items():
        if tuple(value.shape) != tuple(own[key].shape):
            raise WeightsError(
                f"{where}: key {_to_reference(key)!r} has shape {tuple(value.shape)}, "
                f"the model expects {tuple(own[key].shape)}"
            )
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()}, strict=True)
    return model


def _from_reference(model: nn.Module, tensors: dict[str, torch.Tensor], where: str) -> dict[str, torch.Tensor]:
    own = model.state_dict()
    ignored = _ignored_shapes(model)
    out: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        if key.startswith(_IGNORED_PREFIX):
            if key not in ignored or tuple(value.shape) != ignored[key]:
                raise WeightsError(f"{where}: unexpected key {key!r} with shape {tuple(value.shape)}")
            continue
        ours = _to_maggie(key)
        if ours is None or ours not in own:
            raise WeightsError(f"{where}: unexpected key {key!r}{_hint(model, {key})}")
        out[ours] = value
    absent = sorted(set(ignored) - set(tensors))
    if absent:
        raise WeightsError(f"{where}: missing key {absent[0]!r}")
    return out


def save_weights(model: nn.Module, path: str | os.PathLike[str], *, reference_names: bool = True) -> Path:
    """Write ``model``'s weights to a ``.safetensors`` file atomically.

    With ``reference_names`` the file is keyed like the released checkpoints (loadable by the
    reference code); otherwise with maggie's own module names.
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = reference_state_dict(model) if reference_names else {k: v.detach() for k, v in model.state_dict().items()}
    state = {k: v.contiguous() for k, v in state.items()}
    with atomic_path(path) as temp:
        save_file(state, str(temp))
    return path


_GOLDEN = 0x9E3779B97F4A7C15
_MASK64 = (1 << 64) - 1
_INVERSE_CONV_KEYS = frozenset({"decoder.layer3.0.weight", "decoder.layer4.0.weight", "decoder.layer5.0.weight"})


def _mix64(z: np.ndarray) -> np.ndarray:
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _symmetric_ints(key: str, seed: int, n: int) -> np.ndarray:
    """Odd integers in (-2^24, 2^24) from splitmix64 of (crc32(key) ^ seed·φ, element index)."""
    base = (zlib.crc32(key.encode("utf-8")) ^ ((seed * _GOLDEN) & _MASK64)) & _MASK64
    with np.errstate(over="ignore"):
        k = _mix64(np.array([base], dtype=np.uint64))
        z = _mix64(k + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(_GOLDEN))
    return 2 * (z >> np.uint64(40)).astype(np.int64) - ((1 << 24) - 1)


def _synthetic_tensor(
    key: str, shape: tuple[int, ...], shapes: Mapping[str, tuple[int, ...]], seed: int, gain: float
) -> np.ndarray:
    n = int(np.prod(shape)) if shape else 1
    prefix, _, leaf = key.rpartition(".")
    module = prefix.rpartition(".")[2]
    if leaf == "num_batches_tracked":
        return np.zeros(shape, dtype=np.int64)
    q = _symmetric_ints(key, seed, n)
    if leaf in ("weight_u", "weight_v"):
        values = q.astype(np.float64) / np.sqrt(float(np.sum(q * q, dtype=np.int64)))
    else:
        if leaf == "running_mean":
            centre, half = 0.0, 0.1
        elif leaf == "running_var":
            centre, half = 1.25, 0.25
        elif leaf == "weight_bar":
            transposed = len(shape) == 4 and shape[2:] == (4, 4)
            fan_in = shape[0] * 16 // 4 if transposed else int(np.prod(shape[1:]))
            centre, half = 0.0, np.sqrt(3.0 / fan_in)
        elif leaf == "in_proj_weight":
            centre, half = 0.0, np.sqrt(3.0 / shape[1])
        elif leaf == "weight" and ("embed" in module or module == "query_feat"):
            centre, half = 0.0, 1.0
        elif leaf == "weight" and len(shape) >= 2:
            fan_in = int(np.prod(shape[1:])) // (4 if key in _INVERSE_CONV_KEYS else 1)
            centre, half = 0.0, np.sqrt(3.0 / fan_in)
        elif leaf == "weight":
            centre, half = 1.0, 0.1
        elif leaf in ("bias", "in_proj_bias"):
            norm = f"{prefix}.running_mean" in shapes or len(shapes.get(f"{prefix}.weight", (0, 0))) == 1
            centre, half = 0.0, (0.1 if leaf == "bias" and norm else 0.05)
        else:
            raise ValueError(f"cannot classify key {key!r}")
        values = centre + (q.astype(np.float64) / float(1 << 24)) * half
    if gain != 1.0:
        values = values * gain
    return values.astype(np.float32).reshape(shape)


def synthetic_reference_weights(
    model: nn.Module, *, seed: int, multipliers: Mapping[str, float] | None = None
) -> dict[str, np.ndarray]:
    """Deterministic **untrained** weights for ``model``, keyed like the reference.

    Bit-identical on every platform: values come from integer hashing only (the recipe of the
    golden fixtures). Conv/linear weights have variance 1/fan_in, norms are near identity.
    They exist for tests and for trying the tool before a trained checkpoint is available; the
    mattes they produce are not meaningful.
    """
    shapes = reference_shapes(model)
    gains = dict(multipliers or {})
    unknown = set(gains) - set(shapes)
    if unknown:
        raise KeyError(f"multipliers for keys not in the model: {sorted(unknown)}")
    return {k: _synthetic_tensor(k, s, shapes, seed, float(gains.get(k, 1.0))) for k, s in shapes.items()}
