"""Training and test data synthesis: multi-person images and videos from single-person mattes.

* :func:`synthesize_images` — I-HIM50K / HIM2K-style composites (``maggie synth image``).
* :func:`synthesize_videos` — V-HIM2K5 / V-HIM60-style clips at easy, medium and hard
  occlusion levels (``maggie synth video``).
* :func:`write_procedural_sources` — seeded person-like RGBA foregrounds and textured
  backgrounds to feed both when no real mattes are at hand (``maggie synth procedural``).
"""

from .compose_image import Composite, ImageSynthesisConfig, SynthesisRecord, compose_image, synthesize_images
from .compose_video import (
    VideoComposite,
    VideoRecord,
    VideoSynthesisConfig,
    animate_still,
    compose_video,
    occlusion,
    synthesize_videos,
)
from .procedural import procedural_background, procedural_foreground, write_procedural_sources
from .sources import Background, Foreground, find_backgrounds, find_foregrounds

__all__ = [
    "ImageSynthesisConfig",
    "Composite",
    "SynthesisRecord",
    "compose_image",
    "synthesize_images",
    "VideoSynthesisConfig",
    "VideoComposite",
    "VideoRecord",
    "animate_still",
    "compose_video",
    "occlusion",
    "synthesize_videos",
    "procedural_foreground",
    "procedural_background",
    "write_procedural_sources",
    "Foreground",
    "Background",
    "find_foregrounds",
    "find_backgrounds",
]
