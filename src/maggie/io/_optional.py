"""Lazy imports of the optional extras, with an install hint when one is missing."""

from __future__ import annotations

import importlib
from types import ModuleType

import torch

from ..errors import MaggieError

__all__ = ["require"]

_EXTRAS = {"av": ("video", "reading and writing videos"), "pymatting": ("cutout", "RGBA cut-outs")}


def require(module: str) -> ModuleType:
    """Import ``module`` (``"av"`` or ``"pymatting"``) or raise :class:`MaggieError` naming the extra."""
    # Importing pymatting (numba) resets torch's intra-op thread count; keep the caller's.
    threads = torch.get_num_threads()
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra, purpose = _EXTRAS[module]
        raise MaggieError(
            f"the optional package {module!r} is needed for {purpose}: pip install 'maggie[{extra}]' ({exc})"
        ) from exc
    finally:
        torch.set_num_threads(threads)
