"""maggie: Mask Guided Gradual Human Instance Matting (MaGGIe, CVPR 2024).

Given an image or a video and one binary mask per person, predict one soft alpha matte per
person, for all people in one forward pass.

Public API::

    model = maggie.build_model("maggie-image")                 # or "maggie-video"
    maggie.load_reference_weights(model, "model.safetensors")  # released or maggie checkpoints
    alphas = maggie.ImageMatter(model).predict(image, masks)   # N×H×W float32
    for index, alphas in maggie.VideoMatter(video_model).stream(frames, masks): ...

    model = maggie.load_model("image")                         # installed weights (maggie download)
    maggie.process_images("photos/", "masks/", "out/")         # files in, files out (= maggie image)
    maggie.process_video("clip.mp4", "clip_masks/", "out/")    # (= maggie video)
    maggie.metrics.image_metrics(pred, gt); maggie.evaluate(matter, root, layout="him2k")
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

__all__ = [
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
]

# Imported on first use so that `import maggie` stays cheap and the CLI starts fast.
_LAZY = {
    "build_model": ("maggie.models", "build_model"),
    "list_models": ("maggie.models", "list_models"),
    "load_reference_weights": ("maggie.weights", "load_reference_weights"),
    "ImageMatter": ("maggie.inference.image", "ImageMatter"),
    "VideoMatter": ("maggie.inference.video", "VideoMatter"),
    "evaluate": ("maggie.evaluation", "evaluate"),
    "metrics": ("maggie.metrics", None),
    "load_model": ("maggie.hub", "load_model"),
    "download_weights": ("maggie.hub", "download_weights"),
    "process_images": ("maggie.jobs", "process_images"),
    "process_video": ("maggie.jobs", "process_video"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'maggie' has no attribute {name!r}")
    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
