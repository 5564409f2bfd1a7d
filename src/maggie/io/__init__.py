"""File input and output for the ``maggie`` tools: pictures, guidance masks and every output format.

Inputs: :func:`read_image` / :func:`list_images` (images), :func:`open_video` (video files and
frame folders), :func:`read_masks` (one image's masks), :func:`open_video_masks` (a video's
masks), then :func:`adjust_masks` and :func:`resolve_overlaps` to prepare them.

Outputs (all written atomically): :func:`write_alpha_png`, :func:`write_cutout_png`,
:func:`composite_preview` + :func:`write_rgb_png`, :func:`write_label_map`,
:func:`open_alpha_video`, :func:`open_preview_video`, :class:`Manifest`; paths from
:class:`ImageOutputs` / :class:`VideoOutputs`; resuming with :func:`completed_frames`.
Readers for checking outputs: :func:`read_alpha`, :func:`read_alpha_video`.

Video needs the extra ``maggie[video]`` (PyAV), cut-outs ``maggie[cutout]`` (pymatting); both
are imported only when used.
"""

from __future__ import annotations

from .atomic import atomic_path, remove_temp_files, write_json_atomic
from .coco import decode_rle, read_coco_masks
from .layout import ImageOutputs, VideoOutputs, instance_tag
from .manifest import Manifest, read_manifest, software_versions
from .mask_files import labels_to_masks, read_binary_mask, read_label_map, write_label_map
from .masks import (
    MASK_FORMATS,
    OVERLAP_RULES,
    InstanceMasks,
    adjust_masks,
    batch_mask_source,
    read_masks,
    resolve_overlaps,
)
from .media import VideoInfo, VideoSource, list_images, natural_key, open_video, read_image
from .outputs import (
    composite_preview,
    estimate_foreground,
    instance_colors,
    parse_color,
    read_alpha,
    write_alpha_png,
    write_cutout_png,
    write_rgb_png,
)
from .resume import completed_frames, read_alpha_frame, resume_from
from .video_masks import VIDEO_MASK_FORMATS, VideoMasks, open_video_masks
from .video_writer import VideoWriter, open_alpha_video, open_preview_video, read_alpha_video

__all__ = [
    "MASK_FORMATS",
    "OVERLAP_RULES",
    "VIDEO_MASK_FORMATS",
    "ImageOutputs",
    "InstanceMasks",
    "Manifest",
    "VideoInfo",
    "VideoMasks",
    "VideoOutputs",
    "VideoSource",
    "VideoWriter",
    "adjust_masks",
    "atomic_path",
    "batch_mask_source",
    "completed_frames",
    "composite_preview",
    "decode_rle",
    "estimate_foreground",
    "instance_colors",
    "instance_tag",
    "labels_to_masks",
    "list_images",
    "natural_key",
    "open_alpha_video",
    "open_preview_video",
    "open_video",
    "open_video_masks",
    "parse_color",
    "read_alpha",
    "read_alpha_frame",
    "read_alpha_video",
    "read_binary_mask",
    "read_coco_masks",
    "read_image",
    "read_label_map",
    "read_manifest",
    "read_masks",
    "remove_temp_files",
    "resolve_overlaps",
    "resume_from",
    "software_versions",
    "write_alpha_png",
    "write_cutout_png",
    "write_json_atomic",
    "write_label_map",
    "write_rgb_png",
]
