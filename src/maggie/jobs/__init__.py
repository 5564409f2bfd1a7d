"""Whole jobs on the user's files: images or a video plus masks in, mattes and a manifest out.

:func:`process_images` and :func:`process_video` are what ``maggie image`` and ``maggie video``
run; their parameters are the command-line flags. Models and weights come from
:mod:`maggie.hub`.
"""

from .common import SettingsError
from .image import IMAGE_OUTPUTS, process_images
from .video import VIDEO_OUTPUTS, process_video

__all__ = ["IMAGE_OUTPUTS", "VIDEO_OUTPUTS", "SettingsError", "process_images", "process_video"]
