"""``manifest.json``: what a run wrote, with which settings and which software.

Layout of the file::

    {
      "format": "maggie-manifest", "format_version": 1,
      "created": "2025-01-01T12:00:00+00:00",
      "versions": {"maggie": "...", "torch": "...", "numpy": "...", "av": "...", "Pillow": "..."},
      "settings": {...},                   # resolved settings of the run (CLI flags and defaults)
      "inputs": {...},                     # input files, sizes, fps, instance names
      "files": [
        {"path": "photo/alpha_00.png", "kind": "alpha", "instance": 0, "instance_id": "1"},
        {"path": "alpha_00/%06d.png", "kind": "alpha_sequence", "instance": 0,
         "instance_id": "person", "frames": [0, 4]},
        ...
      ]
    }

``path`` is relative to the output folder, with ``/`` separators. A sequence is one entry whose
path is a printf pattern and whose ``frames`` is the inclusive ``[first, last]`` frame index
range. Versions of packages that are not installed are ``null``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from importlib import metadata
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import InputError
from .atomic import write_json_atomic
from .layout import MANIFEST_NAME

__all__ = ["FILE_KINDS", "software_versions", "Manifest", "read_manifest"]

FILE_KINDS = (
    "alpha",
    "cutout",
    "preview",
    "label_map",
    "alpha_sequence",
    "cutout_sequence",
    "alpha_video",
    "preview_video",
)

_PACKAGES = ("torch", "numpy", "av", "Pillow", "pymatting")


def software_versions() -> dict[str, str | None]:
    """Versions of maggie and the packages its outputs depend on (``None`` if not installed)."""
    versions: dict[str, str | None] = {"maggie": __version__}
    for package in _PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions


class Manifest:
    """Collects written files during a run; :meth:`write` saves ``<folder>/manifest.json``.

    Args:
        folder: the output folder; file paths are stored relative to it.
        settings: resolved settings of the run (JSON-serialisable).
        inputs: description of the inputs (JSON-serialisable).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        settings: dict[str, Any],
        inputs: dict[str, Any] | None = None,
    ):
        self.folder = Path(folder)
        self.settings = dict(settings)
        self.inputs = dict(inputs or {})
        self.files: list[dict[str, Any]] = []

    def add(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str,
        instance: int | None = None,
        instance_id: str | None = None,
        frames: tuple[int, int] | None = None,
    ) -> None:
        """Record a written file (or a sequence pattern, with its inclusive ``frames`` range)."""
        if kind not in FILE_KINDS:
            raise ValueError(f"unknown file kind {kind!r} (choose from {', '.join(FILE_KINDS)})")
        relative = Path(path)
        if relative.is_absolute():
            relative = relative.relative_to(self.folder)
        entry: dict[str, Any] = {"path": relative.as_posix(), "kind": kind}
        if instance is not None:
            entry["instance"] = int(instance)
        if instance_id is not None:
            entry["instance_id"] = str(instance_id)
        if frames is not None:
            entry["frames"] = [int(frames[0]), int(frames[1])]
        self.files.append(entry)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "maggie-manifest",
            "format_version": 1,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": software_versions(),
            "settings": self.settings,
            "inputs": self.inputs,
            "files": self.files,
        }

    def write(self) -> Path:
        """Write the manifest atomically (last, so its presence means the run finished)."""
        return write_json_atomic(self.folder / MANIFEST_NAME, self.to_dict())


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a manifest (the file, or the output folder that holds it)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such manifest") from exc
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable manifest ({exc})") from exc
    if not isinstance(data, dict) or data.get("format") != "maggie-manifest":
        raise InputError(f"{path}: not a maggie manifest")
    return data
