"""Package-level checks: every module imports, and the public API keeps its names."""

from __future__ import annotations

import importlib
import pkgutil

import maggie

PUBLIC_API = {
    "__version__",
    "build_model",
    "list_models",
    "load_reference_weights",
    "ImageMatter",
    "VideoMatter",
    "evaluate",
    "metrics",
    "load_model",
    "download_weights",
    "process_images",
    "process_video",
}


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(maggie.__path__, prefix="maggie.")]
    assert len(names) > 40
    for name in names:
        importlib.import_module(name)


def test_public_api_names_resolve() -> None:
    assert set(maggie.__all__) == PUBLIC_API
    for name in maggie.__all__:
        assert getattr(maggie, name) is not None, name
    assert maggie.list_models() == ["maggie-image", "maggie-tiny", "maggie-tiny-video", "maggie-video"]
