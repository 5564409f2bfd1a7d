"""Getting models with weights: the released checkpoints, their local cache, and untrained demo weights.

Where trained weights live: ``$MAGGIE_HOME`` if set, else ``$XDG_CACHE_HOME/maggie``, else
``~/.cache/maggie``, under the names ``maggie-image.safetensors`` and
``maggie-video.safetensors``. :func:`download_weights` (``maggie download image|video``) puts
the released checkpoints there; :func:`load_model` reads them when no ``weights`` are given.

``weights="untrained"`` gives deterministic random weights instead (see
:func:`maggie.weights.synthetic_reference_weights`): the tool then runs end to end, but the
mattes are not meaningful. It exists for trying the tool and for tests. For the released
architectures the golden fixtures' gains are applied so that the coarse matte saturates and the
uncertainty band stays thin, as with trained weights: plain random weights put every pixel in
the band and make the refinement several times slower than a real checkpoint.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import MaggieError, WeightsError
from .inference.preprocess import resolve_device
from .io.atomic import atomic_path
from .models import MaGGIe, build_model
from .weights import FIXTURE_MULTIPLIERS, load_reference_weights, read_checkpoint, synthetic_reference_weights

__all__ = [
    "KINDS",
    "UNTRAINED",
    "UNTRAINED_SEED",
    "UNTRAINED_WARNING",
    "RELEASES",
    "Release",
    "weights_home",
    "installed_weights",
    "load_model",
    "describe_weights",
    "download_weights",
]

logger = logging.getLogger(__name__)

KINDS = ("image", "video")
UNTRAINED = "untrained"
UNTRAINED_SEED = 0
UNTRAINED_WARNING = "UNTRAINED weights: the mattes are not meaningful (random demo weights, seed 0)"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Release:
    """A released checkpoint: where to download it, its cache file name and its architecture."""

    url: str
    filename: str
    architecture: str


RELEASES: dict[str, Release] = {
    "image": Release(
        "https://huggingface.co/chuonghm/maggie-image-him50k-cvpr24/resolve/main/model.safetensors",
        "maggie-image.safetensors",
        "maggie-image",
    ),
    "video": Release(
        "https://huggingface.co/chuonghm/maggie-video-vim2k5-cvpr24/resolve/main/model.safetensors",
        "maggie-video.safetensors",
        "maggie-video",
    ),
}


def _check_kind(kind: str) -> Release:
    if kind not in RELEASES:
        raise MaggieError(f"unknown model kind {kind!r} (choose from {', '.join(KINDS)})")
    return RELEASES[kind]


def weights_home() -> Path:
    """The folder that holds downloaded weights (``$MAGGIE_HOME`` or the user cache, see module doc)."""
    if os.environ.get("MAGGIE_HOME"):
        return Path(os.environ["MAGGIE_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "maggie"


def installed_weights(kind: str) -> Path:
    """Where :func:`download_weights` puts the ``kind`` checkpoint (it may not exist yet)."""
    return weights_home() / _check_kind(kind).filename


def _missing_weights(kind: str) -> WeightsError:
    return WeightsError(
        f"no trained {kind} weights are installed (looked for {installed_weights(kind)}). "
        f"Download them with `maggie download {kind}` (needs internet; Python: "
        f"maggie.download_weights({kind!r})), or pass --weights PATH to a checkpoint; "
        f"--weights {UNTRAINED} runs deterministic random demo weights whose mattes are not meaningful"
    )


def describe_weights(kind: str, weights: str | os.PathLike[str] | None) -> dict[str, Any]:
    """How ``weights`` resolve, for manifests: ``{"source": "file"|"untrained", ...}``.

    Raises:
        WeightsError: ``weights`` is None and no trained weights are installed.
    """
    if weights is not None and os.fspath(weights) == UNTRAINED:
        return {"source": UNTRAINED, "seed": UNTRAINED_SEED, "warning": UNTRAINED_WARNING}
    path = installed_weights(kind) if weights is None else Path(weights)
    if weights is None and not path.is_file():
        raise _missing_weights(kind)
    return {"source": "file", "path": str(path.resolve()), "installed": weights is None}


def load_model(
    kind: str = "image",
    weights: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "auto",
    architecture: str | None = None,
) -> MaGGIe:
    """Build the ``kind`` model (``"image"`` or ``"video"``), load weights, move it to ``device``.

    Args:
        kind: ``"image"`` (``maggie-image``) or ``"video"`` (``maggie-video``).
        weights: None for the installed trained weights (see module doc), a checkpoint path
            (released or maggie-keyed ``.safetensors``/``.pth``), or ``"untrained"`` for
            deterministic random weights (logs a warning: the mattes are not meaningful).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        architecture: another preset than the released one (e.g. ``"maggie-tiny"`` in tests).

    Returns:
        the model in eval mode.

    Raises:
        WeightsError: no installed weights, unreadable file, or a checkpoint that does not fit
            (e.g. video weights for the image model); the message names the file and key.
    """
    release = _check_kind(kind)
    resolved = device if isinstance(device, torch.device) else _device(device)
    description = describe_weights(kind, weights)
    name = architecture or release.architecture
    try:
        model = build_model(name)
    except ValueError as exc:
        raise MaggieError(str(exc)) from exc
    if description["source"] == UNTRAINED:
        logger.warning(UNTRAINED_WARNING)
        # The fixture gains were chosen for the released architectures; other presets keep plain weights.
        gains = FIXTURE_MULTIPLIERS if name == release.architecture else None
        untrained = synthetic_reference_weights(model, seed=UNTRAINED_SEED, multipliers=gains)
        load_reference_weights(model, untrained, source=UNTRAINED)
    else:
        source = os.fspath(weights) if weights is not None else description["path"]
        tensors = read_checkpoint(source)  # a missing or unreadable file is reported as such
        try:
            load_reference_weights(model, tensors, source=source)
        except WeightsError as exc:
            raise WeightsError(f"{exc}; the {kind} model needs {kind} weights (`maggie download {kind}`)") from exc
    return model.to(resolved).eval()


def _device(device: str) -> torch.device:
    try:
        return resolve_device(device)
    except RuntimeError as exc:  # torch.device() rejects unknown names with RuntimeError
        raise MaggieError(f"unknown device {device!r} (use auto, cpu, cuda or cuda:N)") from exc


def _fetch(url: str, target: Path, *, progress: bool) -> None:
    from tqdm.auto import tqdm

    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            with (
                open(target, "wb") as file,
                tqdm(total=total, unit="B", unit_scale=True, desc=Path(url).name, disable=not progress) as bar,
            ):
                while chunk := response.read(_CHUNK):
                    file.write(chunk)
                    bar.update(len(chunk))
    except urllib.error.URLError as exc:  # no connection, unknown host, HTTP errors
        raise MaggieError(
            f"could not download {url} ({exc.reason}); downloading needs internet access. "
            f"Alternatively fetch the file by other means and pass it with --weights PATH"
        ) from exc
    except (OSError, ValueError) as exc:  # dropped connection, timeout, bad URL, full disk
        raise MaggieError(f"could not download {url} to {target.parent} ({exc})") from exc


def download_weights(
    kind: str,
    *,
    to: str | os.PathLike[str] | None = None,
    url: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> Path:
    """Download the released ``kind`` checkpoint and check that it fits the architecture.

    The file is written to a hidden temporary name next to the destination, loaded strictly
    into the ``kind`` model, and only then renamed to ``<to>/maggie-<kind>.safetensors``; a
    failed download or a file that does not fit is deleted and nothing is installed.

    Args:
        kind: ``"image"`` or ``"video"``.
        to: destination folder (default: :func:`weights_home`).
        url: download from here instead of Hugging Face (a mirror, or a ``file://`` URL).
        force: download again even if a file is already installed.
        progress: show a progress bar on stderr.

    Returns:
        the installed checkpoint's path.
    """
    release = _check_kind(kind)
    target = (Path(to).expanduser() if to is not None else weights_home()) / release.filename
    if target.is_file() and not force:
        logger.info("%s is already installed; pass force=True to download it again", target)
        return target
    source = url or release.url
    with atomic_path(target) as temp:
        _fetch(source, temp, progress=progress)
        # Check before the rename, so that a wrong or truncated file never looks installed.
        try:
            tensors = read_checkpoint(temp)
        except WeightsError as exc:
            raise WeightsError(
                f"{source}: the downloaded file is not a readable checkpoint ({exc.__cause__}); nothing was installed"
            ) from exc
        try:
            load_reference_weights(build_model(release.architecture), tensors, source=source)
        except WeightsError as exc:
            raise WeightsError(
                f"{exc}; the downloaded file does not fit the {kind} model, nothing was installed"
            ) from exc
    return target
