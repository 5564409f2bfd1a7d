"""``maggie image``: alpha mattes for images (a shell over :func:`maggie.process_images`).

The flags shared with ``maggie video`` are defined here as well (:func:`add_job_arguments`),
with the Python API's parameter names.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["add_parser", "add_job_arguments", "job_kwargs", "log_to_stderr", "report"]

_EPILOG = """\
masks (--masks), one binary mask per person:
  folder   a folder of mask PNGs, one per person (white = person), natural name order
  label    one instance-ID PNG: 0 = background, 1, 2, ... = people (8/16-bit or palette)
  coco     a COCO JSON file with RLE or polygon segmentations (SAM, detectron2, ...)
  For a folder of images, --masks is a folder holding <image stem>/ (folder format) or
  <image stem>.png (label format) for each image, or one COCO JSON file for all of them.
  Pixels claimed by several masks go to one person (--overlap-rule, default: the smaller mask).

outputs (--outputs, comma-separated; default alpha,preview), in OUT/<image stem>/:
  alpha    alpha_00.png, alpha_01.png, ...   one grayscale matte per person (--bit-depth 8|16)
  cutout   cutout_00.png, ...                RGBA: estimated foreground colours + alpha
                                             (needs pip install 'maggie[cutout]')
  preview  preview.png                       every person tinted, or over --background
  OUT/manifest.json lists every file with the settings, inputs and software versions.

weights (--weights):
  default   the trained weights installed by `maggie download image` (needs internet), in
            $MAGGIE_HOME or ~/.cache/maggie as maggie-image.safetensors
  PATH      a checkpoint file: the released model.safetensors or a maggie checkpoint
  untrained deterministic random weights, to try the tool: the mattes are NOT meaningful

examples:
  maggie image examples/people.jpg --masks examples/people_masks --weights untrained --out outputs
  maggie image photos/ --masks masks/ --out mattes --outputs alpha,cutout --bit-depth 16
  maggie image photo.jpg --masks sam.json --categories person --out mattes --device cuda
"""


def _short_side(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of pixels >= 0 (0 keeps the size), got {text!r}")
    return value or None


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_job_arguments(parser: argparse.ArgumentParser, *, outputs: str) -> None:
    """The flags that ``maggie image`` and ``maggie video`` share, after the mask flags."""
    model = parser.add_argument_group("model")
    model.add_argument(
        "--weights",
        metavar="PATH|untrained",
        help="checkpoint file, or 'untrained' for random demo weights (default: the "
        "installed trained weights, see below)",
    )
    model.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")
    model.add_argument(
        "--short-side",
        type=_short_side,
        default=576,
        metavar="PX",
        help="network input short side; 0 keeps the input size (default: 576, as the paper)",
    )
    model.add_argument(
        "--band-kernel",
        type=int,
        metavar="PX",
        help="width of the uncertainty band around edges that is refined (default: 30)",
    )
    # For tests and smoke runs: a smaller architecture with --weights untrained.
    model.add_argument("--model", help=argparse.SUPPRESS)

    masks = parser.add_argument_group("mask preparation")
    masks.add_argument("--erode", type=int, default=0, metavar="PX", help="shrink every mask by PX pixels first")
    masks.add_argument(
        "--dilate", type=int, default=0, metavar="PX", help="grow every mask by PX pixels (after --erode)"
    )
    masks.add_argument(
        "--overlap-rule",
        choices=("smaller", "first", "last"),
        default="smaller",
        help="who gets a pixel that several masks claim: the smaller mask (usually the "
        "person in front), or the first / last in mask order (default: smaller)",
    )

    out = parser.add_argument_group("outputs")
    out.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    out.add_argument(
        "--outputs",
        default=outputs,
        metavar="LIST",
        help=f"comma-separated output kinds, see below (default: {outputs})",
    )
    out.add_argument("--bit-depth", type=int, choices=(8, 16), default=8, help="bits per alpha PNG (default: 8)")
    out.add_argument(
        "--background",
        metavar="COLOR",
        help="preview background, a name or #rrggbb (default: tint each person)",
    )
    out.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")


def job_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of the shared flags, for process_images / process_video."""
    names = (
        "weights",
        "model",
        "device",
        "short_side",
        "band_kernel",
        "erode",
        "dilate",
        "overlap_rule",
        "outputs",
        "bit_depth",
        "background",
        "progress",
    )
    return {name: getattr(args, name) for name in names}


class _Formatter(logging.Formatter):
    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command

    def format(self, record: logging.LogRecord) -> str:
        return f"maggie {self.command}: {record.levelname.lower()}: {record.getMessage()}"


@contextmanager
def log_to_stderr(command: str) -> Iterator[None]:
    """Show the library's warnings (e.g. untrained weights) on stderr, like the error lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_Formatter(command))
    logger = logging.getLogger("maggie")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def report(manifest: Any) -> None:
    """One line on stdout: how many outputs were written, and where they are listed."""
    from ..io import read_manifest

    count = len(read_manifest(manifest)["files"])
    sys.stdout.write(f"wrote {count} output{'s' if count != 1 else ''}, listed in {manifest}\n")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "image",
        help="alpha mattes for an image or a folder of images",
        description="Predict one soft alpha matte per person for an image (or every image of a folder),\n"
        "guided by one binary mask per person, and write alpha PNGs, RGBA cut-outs and previews.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="an image file, or a folder of images")
    parser.add_argument(
        "--masks", required=True, metavar="PATH", help="mask folder, label PNG or COCO JSON (see below)"
    )
    parser.add_argument(
        "--mask-format",
        choices=("auto", "folder", "label", "coco"),
        default="auto",
        help="how to read --masks (default: auto, from the path: folder, .json or other file)",
    )
    parser.add_argument(
        "--categories",
        type=_names,
        metavar="A,B",
        help="COCO masks: only these category names or IDs (default: all)",
    )
    add_job_arguments(parser, outputs="alpha,preview")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `maggie --help` stays fast and independent of the model code.
    from ..jobs import process_images

    with log_to_stderr("image"):
        manifest = process_images(
            args.input,
            args.masks,
            args.out,
            mask_format=args.mask_format,
            categories=args.categories,
            **job_kwargs(args),
        )
    report(manifest)
    return 0
