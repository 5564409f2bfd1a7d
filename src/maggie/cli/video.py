"""``maggie video``: per-person alpha mattes for a video (a shell over :func:`maggie.process_video`)."""

from __future__ import annotations

import argparse

from .image import add_job_arguments, job_kwargs, log_to_stderr, report

__all__ = ["add_parser"]

_EPILOG = """\
input: a video file (.mp4, .mov, .mkv, .webm, ...; needs pip install 'maggie[video]') or a
folder of frame images, read in natural name order (--fps gives its frame rate, default 25).

masks (--masks), a folder with one binary mask per person for every frame:
  per-frame     MASKS/<frame>/<person>.png    a folder per frame
  per-instance  MASKS/<person>/<frame>.png    a folder per person (as trackers export them)
  label         MASKS/<frame>.png             instance-ID maps: 0 = background, 1, 2, ... people
  <frame> is the frame file's stem for a frame folder, or the frame number for a video file
  (counted from --start-number, default 0). A person may be missing from some frames: their
  alpha is zero there. Pixels claimed by several masks go to one person (--overlap-rule).

outputs (--outputs, comma-separated; default alpha-png,alpha-mov,preview), in OUT/:
  alpha-png   alpha_00/000000.png, ...   8/16-bit alpha PNG sequence per person (--bit-depth)
  alpha-mov   alpha_00.mov, ...          ProRes 4444 with alpha (Premiere, Resolve, AE, FCP)
  alpha-webm  alpha_00.webm, ...         VP9 with alpha (browsers)
  cutout-png  cutout_00/000000.png, ...  RGBA PNG sequence with estimated foreground colours
                                         (needs pip install 'maggie[cutout]'; slow)
  preview     preview.mp4                H.264: every person tinted, or over --background
  The alpha videos carry the frame's colours, so each shows its person cut out.
  OUT/manifest.json lists every file with the settings, inputs and software versions.

resuming: every PNG is complete or absent, so after an interruption run the same command
with --resume: done frames are kept, and the videos are encoded again from the PNGs.

weights (--weights):
  default   the trained weights installed by `maggie download video` (needs internet), in
            $MAGGIE_HOME or ~/.cache/maggie as maggie-video.safetensors
  PATH      a checkpoint file: the released model.safetensors or a maggie checkpoint
  untrained deterministic random weights, to try the tool: the mattes are NOT meaningful

examples:
  maggie video examples/walk --masks examples/walk_masks --weights untrained --out outputs/walk
  maggie video clip.mp4 --masks tracks/ --start-number 1 --out mattes --outputs alpha-png,alpha-webm
  maggie video clip.mp4 --masks tracks/ --out mattes --resume
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "video",
        help="alpha mattes for a video or a folder of frames",
        description="Predict one temporally consistent soft alpha matte per person for every frame of a\n"
        "video, guided by one binary mask per person per frame. Frames are streamed: videos of any\n"
        "length fit in memory.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", help="a video file, or a folder of frame images")
    parser.add_argument("--masks", required=True, metavar="DIR", help="the per-frame mask folder (see below)")
    parser.add_argument(
        "--mask-format",
        choices=("auto", "per-frame", "per-instance", "label"),
        default="auto",
        help="layout of --masks (default: auto, from the folder's contents)",
    )
    parser.add_argument(
        "--start-number",
        type=int,
        default=0,
        metavar="N",
        help="number of the first frame in mask names, for a video file (default: 0)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        metavar="FPS",
        help="frame rate of a frame folder and of its output videos (default: 25)",
    )
    add_job_arguments(parser, outputs="alpha-png,alpha-mov,preview")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run in --out: keep done frames, redo the videos",
    )
    parser.add_argument(
        "--carry-state",
        action="store_true",
        help="carry the temporal (Conv-GRU) state across windows, as the paper describes; "
        "the released evaluation restarts it in every 3-frame window (default)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `maggie --help` stays fast and independent of the model code.
    from ..jobs import process_video

    with log_to_stderr("video"):
        manifest = process_video(
            args.input,
            args.masks,
            args.out,
            mask_format=args.mask_format,
            start_number=args.start_number,
            fps=args.fps,
            resume=args.resume,
            carry_state=args.carry_state,
            **job_kwargs(args),
        )
    report(manifest)
    return 0
