"""Model registry: ``build_model(name)`` for the released architectures and test variants."""

from __future__ import annotations

from .config import PRESETS, ModelConfig
from .maggie import MaGGIe

__all__ = ["MaGGIe", "ModelConfig", "build_model", "list_models"]


def list_models() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(PRESETS)


def build_model(name: str | ModelConfig = "maggie-image", *, dense_refinement: bool = False) -> MaGGIe:
    """Build an (untrained) MaGGIe model by preset name or from a :class:`ModelConfig`.

    ``"maggie-image"`` and ``"maggie-video"`` are the released architectures (load their
    checkpoints with :func:`maggie.load_reference_weights`); ``"maggie-tiny"`` and
    ``"maggie-tiny-video"`` are narrow variants for tests and CPU smoke training.
    """
    if isinstance(name, ModelConfig):
        config = name
    else:
        if name not in PRESETS:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(list_models())}")
        config = PRESETS[name]
    return MaGGIe(config=config, dense_refinement=dense_refinement)
