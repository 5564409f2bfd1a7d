"""``maggie synth``: write multi-person training/test data from single-person mattes.

Subcommands (each a shell over one function of :mod:`maggie.data.synthesis`)::

    maggie synth procedural OUT                      # person-like RGBA foregrounds + backgrounds
    maggie synth image --fg-dir FG --bg-dir BG --out-dir OUT --num-images 1000
    maggie synth video --fg-dir FG --bg-dir BG --out-dir OUT --num-videos 100 --level hard
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import MaggieError

__all__ = ["add_parser"]


def _pair(kind: type) -> dict[str, Any]:
    return {"nargs": 2, "type": kind}


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fg-dir",
        required=True,
        help="single-person foregrounds: RGBA stills, stills + --alpha-dir, or a folder of frames per video",
    )
    parser.add_argument("--bg-dir", required=True, help="background images and/or folders of background frames")
    parser.add_argument("--out-dir", required=True, help="dataset folder to write")
    parser.add_argument(
        "--alpha-dir",
        help="alpha mattes named like the foregrounds (default: the foregrounds' alpha channel)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed writes identical files")
    parser.add_argument(
        "--start-index", type=int, default=0, help="index of the first sample (to split a run into parts)"
    )
    parser.add_argument("--instances", **_pair(int), metavar=("LOW", "HIGH"), help="people per sample, inclusive")
    parser.add_argument(
        "--size", **_pair(int), metavar=("H", "W"), help="output size (default: each background's size)"
    )
    parser.add_argument("--mask-dir", help="folder name for test-style guidance masks ('' for none)")
    parser.add_argument("--jpeg-quality", type=int, default=95)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="synthesize multi-person matting data",
        description="Write multi-person image (I-HIM50K layout) or video (V-HIM layout) matting data from "
        "single-person foregrounds and backgrounds, reproducibly from a seed.",
    )
    sub = parser.add_subparsers(dest="synth_command", metavar="KIND")
    sub.required = True

    proc = sub.add_parser("procedural", help="write seeded person-like RGBA foregrounds and textured backgrounds")
    proc.add_argument("out_dir", help="writes OUT/fg/*.png and OUT/bg/*.jpg")
    proc.add_argument("--num-foregrounds", type=int, default=8)
    proc.add_argument("--num-backgrounds", type=int, default=4)
    proc.add_argument("--foreground-size", **_pair(int), default=(256, 192), metavar=("H", "W"))
    proc.add_argument("--background-size", **_pair(int), default=(240, 320), metavar=("H", "W"))
    proc.add_argument("--motion-blur-p", type=float, default=0.2)
    proc.add_argument("--seed", type=int, default=0)
    proc.set_defaults(func=_run_procedural)

    image = sub.add_parser("image", help="multi-person image composites (images/, alphas/, masks/)")
    _common(image)
    image.add_argument("--num-images", type=int, required=True)
    image.add_argument("--height", **_pair(float), metavar=("LOW", "HIGH"), help="person height / image height")
    image.add_argument("--min-visible", type=float, help="alpha mass every person keeps when others are pasted on top")
    image.add_argument("--subset", default="", help="sub-folder inside images/, alphas/, masks/ (e.g. comp)")
    image.add_argument("--write-layers", action="store_true", help="also write fg/ (colour layers) and bg/")
    image.set_defaults(func=_run_image)

    video = sub.add_parser("video", help="multi-person video clips at one occlusion level (fgr/, pha/, xmem/)")
    _common(video)
    video.add_argument("--num-videos", type=int, required=True)
    video.add_argument("--level", choices=("easy", "medium", "hard"), required=True)
    video.add_argument("--split", default="train", help="folder under --out-dir (e.g. comp_hard)")
    video.add_argument("--num-frames", type=int, help="frames per clip (default 30)")
    video.add_argument("--motion", type=float, help="motion amplitude of still foregrounds (fraction of size)")
    video.set_defaults(func=_run_video)


def _options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    # Only flags given on the command line override the config dataclass defaults.
    options = {}
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            options[name] = tuple(value) if isinstance(value, list) else value
    return options


def _run_procedural(args: argparse.Namespace) -> int:
    from ..data.synthesis import write_procedural_sources

    fg_dir, bg_dir = write_procedural_sources(
        args.out_dir,
        num_foregrounds=args.num_foregrounds,
        num_backgrounds=args.num_backgrounds,
        seed=args.seed,
        foreground_size=tuple(args.foreground_size),
        background_size=tuple(args.background_size),
        motion_blur_p=args.motion_blur_p,
    )
    counts = f"{args.num_foregrounds} foregrounds to {fg_dir} and {args.num_backgrounds} backgrounds"
    sys.stdout.write(f"wrote {counts} to {bg_dir}\n")
    return 0


def _run_image(args: argparse.Namespace) -> int:
    from ..data.synthesis import ImageSynthesisConfig, synthesize_images

    options = _options(args, ("instances", "height", "min_visible", "size", "subset", "mask_dir", "jpeg_quality"))
    config = ImageSynthesisConfig(write_layers=args.write_layers, **options)
    records = synthesize_images(
        args.fg_dir,
        args.bg_dir,
        args.out_dir,
        num_images=args.num_images,
        seed=args.seed,
        alpha_dir=args.alpha_dir,
        start_index=args.start_index,
        config=config,
    )
    people = sum(r.instances for r in records)
    sys.stdout.write(f"wrote {len(records)} images with {people} people to {args.out_dir}\n")
    return 0


def _run_video(args: argparse.Namespace) -> int:
    from ..data.synthesis import VideoSynthesisConfig, synthesize_videos

    options = _options(args, ("instances", "size", "mask_dir", "jpeg_quality", "num_frames", "motion"))
    records = synthesize_videos(
        args.fg_dir,
        args.bg_dir,
        args.out_dir,
        num_videos=args.num_videos,
        level=args.level,
        seed=args.seed,
        split=args.split,
        alpha_dir=args.alpha_dir,
        start_index=args.start_index,
        config=VideoSynthesisConfig(**options),
    )
    if not records:
        raise MaggieError(f"no {args.level} clip met the occlusion range; try more or different foregrounds")
    skipped = args.num_videos - len(records)
    note = f" ({skipped} skipped: occlusion range not met)" if skipped else ""
    sys.stdout.write(f"wrote {len(records)} {args.level} clips to {args.out_dir}/{args.split}{note}\n")
    return 0
