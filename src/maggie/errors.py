"""Exceptions for problems a user can fix: bad input files, masks, weights or settings."""

from __future__ import annotations

__all__ = ["MaggieError", "InputError", "WeightsError"]


class MaggieError(Exception):
    """Base class; the CLI prints these as one line and exits with status 2."""


class InputError(MaggieError, ValueError):
    """An input image, video or mask is unreadable or inconsistent. The message names the file."""


class WeightsError(MaggieError, ValueError):
    """A checkpoint is missing, unreadable or does not fit the model. The message names the key."""
