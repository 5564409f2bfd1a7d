"""``maggie download``: install the released checkpoints (a shell over :func:`maggie.download_weights`)."""

from __future__ import annotations

import argparse
import sys

from .image import log_to_stderr

__all__ = ["add_parser"]

_EPILOG = """\
The released MaGGIe checkpoints (CVPR 2024) come from Hugging Face. The MaGGIe release is
licensed CC BY-NC 4.0 (non-commercial use only; see the model pages).
  image  chuonghm/maggie-image-him50k-cvpr24  ->  maggie-image.safetensors
  video  chuonghm/maggie-video-vim2k5-cvpr24  ->  maggie-video.safetensors
They are saved in $MAGGIE_HOME if set, else $XDG_CACHE_HOME/maggie or ~/.cache/maggie, where
`maggie image` and `maggie video` look when --weights is not given. A download is checked to
load into the model before it is installed; a bad one is deleted.

Without internet access, fetch model.safetensors elsewhere and either pass it with
--weights PATH, or install it here with --url file:///path/to/model.safetensors.

examples:
  maggie download image
  maggie download video --to ./weights
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download the released image or video weights",
        description="Download the released MaGGIe image or video checkpoint (needs internet), check it,\n"
        "and install it where `maggie image` / `maggie video` find it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("image", "video"), help="which model's weights")
    parser.add_argument("--to", metavar="DIR", help="install into DIR instead of the cache folder")
    parser.add_argument("--url", help="download from URL instead of Hugging Face (a mirror or file:// URL)")
    parser.add_argument("--force", action="store_true", help="download again even if already installed")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..hub import download_weights

    with log_to_stderr("download"):
        path = download_weights(args.kind, to=args.to, url=args.url, force=args.force, progress=args.progress)
    sys.stdout.write(f"{args.kind} weights installed: {path}\n")
    return 0
