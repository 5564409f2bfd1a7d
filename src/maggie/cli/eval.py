"""``maggie eval``: score weights on HIM2K / M-HIM2K or V-HIM60 (a shell over :func:`maggie.evaluate`).

Examples::

    maggie eval data/HIM2K_M-HIM2K --layout him2k --weights maggie-image.safetensors --out results/him2k
    maggie eval data/V-HIM60 --layout vhim --weights maggie-video.safetensors --out results/vhim --device cuda
    maggie eval data/HIM2K_M-HIM2K --weights w.safetensors --out r --convention conventional \
        --mask-sources r50_fpn_3x,r101_fpn_3x
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import InputError


def _names(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate weights on a benchmark folder",
        description="Run the image (him2k) or video (vhim) model over a benchmark folder, write samples.csv "
        "and summary.csv, and print the summary table. Bad samples (missing or unreadable files, size "
        "mismatches) are reported and skipped unless --strict.",
    )
    parser.add_argument("root", help="benchmark folder (HIM2K_M-HIM2K or V-HIM60 layout)")
    parser.add_argument(
        "--layout",
        choices=("him2k", "vhim"),
        default="him2k",
        help="him2k: images + masks_matched_<source>; vhim: <split>/fgr, pha, xmem (default: him2k)",
    )
    parser.add_argument(
        "--weights",
        required=True,
        metavar="PATH",
        help="checkpoint: the released MaGGIe weights or a maggie checkpoint",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for samples.csv and summary.csv")
    parser.add_argument(
        "--convention",
        choices=("reference", "conventional"),
        default="reference",
        help="reference: the MaGGIe paper's metric code, quirks included (default); "
        "conventional: Composition-1k / DIM definitions",
    )
    parser.add_argument(
        "--mask-sources",
        type=_names,
        default=None,
        metavar="A,B",
        help="him2k mask sources (masks_matched_<source>); default: all found",
    )
    parser.add_argument(
        "--subsets",
        type=_names,
        default=None,
        metavar="A,B",
        help="comp,natural (him2k) or comp_easy,comp_medium,comp_hard (vhim); default: all found",
    )
    parser.add_argument(
        "--max-instances",
        type=int,
        default=10,
        metavar="N",
        help="instances per sample; more are subsampled as the reference does (default: 10)",
    )
    parser.add_argument("--strict", action="store_true", help="stop at the first bad sample instead of skipping it")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... or auto (default: cpu)")
    parser.add_argument(
        "--short-side",
        type=int,
        default=576,
        metavar="PX",
        help="network input short side (default: 576, as the reference evaluation)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `maggie --help` stays fast and independent of the model code.
    import maggie

    # Fail before the (slow) model build when the folder is wrong.
    if not Path(args.root).is_dir():
        raise InputError(f"{args.root}: no such folder")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    video = args.layout == "vhim"
    model = maggie.build_model("maggie-video" if video else "maggie-image")
    maggie.load_reference_weights(model, args.weights)
    matter_cls = maggie.VideoMatter if video else maggie.ImageMatter
    matter = matter_cls(model, device=args.device, short_side=args.short_side)
    maggie.evaluate(
        matter,
        args.root,
        layout=args.layout,
        out=args.out,
        convention=args.convention,
        mask_sources=args.mask_sources,
        subsets=args.subsets,
        max_instances=args.max_instances,
        strict=args.strict,
        verbose=True,
        progress=args.progress,
    )
    return 0
