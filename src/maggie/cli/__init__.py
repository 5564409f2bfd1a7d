"""``maggie`` command line: a thin shell over the Python API, one module per subcommand.

Each subcommand module defines ``add_parser(subparsers)`` (which registers its arguments and
sets ``func``) and keeps the Python API's parameter names for its flags. Errors that users can
fix (bad files, bad masks, missing weights) are raised as :class:`maggie.errors.MaggieError`
and printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import MaggieError

__all__ = ["main", "build_parser"]

# Subcommand modules, in the order `maggie --help` lists them.
_SUBCOMMANDS = ("image", "video", "download", "eval", "synth", "train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maggie",
        description="Mask-guided human instance matting (MaGGIe, CVPR 2024): one soft alpha matte per "
        "person, for images and videos, from one binary mask per person.",
    )
    parser.add_argument("--version", action="version", version=f"maggie {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MaggieError as exc:
        print(f"maggie {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"maggie {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
