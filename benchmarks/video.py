"""Streaming video matting on CPU: frames per second and peak memory over 30 and 300 frames.

Synthetic 1280×720 frames (two people walking across a smooth background) are generated
lazily and streamed through ``maggie.VideoMatter`` at the default short side (576), with the
released video architecture and deterministic untrained weights. Each run is a fresh
subprocess, so peak RSS is that run's high-water mark; equal peaks for 30 and 300 frames show
that memory does not grow with the video's length.

    python benchmarks/video.py [--frames 30,300] [--short-side 576] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scenes import people_scene  # noqa: E402


def _clip(frames: int, height: int, width: int, instances: int) -> tuple[Iterator[np.ndarray], Iterator[np.ndarray]]:
    base, masks = people_scene(height, width, instances)

    def shifted(k: int) -> int:
        return (3 * k) % (width // 4)

    return (np.roll(base, shifted(k), axis=1) for k in range(frames)), (
        np.roll(masks, shifted(k), axis=2) for k in range(frames)
    )


def worker(frames: int, short_side: int, instances: int, height: int, width: int) -> dict[str, float]:
    import maggie
    from maggie.weights import FIXTURE_MULTIPLIERS, synthetic_reference_weights

    model = maggie.build_model("maggie-video")
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=3, multipliers=FIXTURE_MULTIPLIERS))
    matter = maggie.VideoMatter(model, short_side=short_side)
    images, masks = _clip(frames, height, width, instances)
    start = time.perf_counter()
    first = None
    for index, alpha in matter.stream(images, masks):
        if index == 1:
            first = time.perf_counter()  # frames 0 and 1 both come out of the first window
        assert alpha.shape == (instances, height, width)
    end = time.perf_counter()
    steady = (frames - 2) / (end - first) if first is not None and frames > 2 else float("nan")
    return {
        "seconds": end - start,
        "fps": frames / (end - start),
        "steady_fps": steady,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", default="30,300")
    parser.add_argument("--short-side", type=int, default=576)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--size", default="1280x720", help="frame size WIDTHxHEIGHT")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    if args.worker:
        print(json.dumps(worker(args.worker, args.short_side, args.instances, height, width)))
        return
    print(
        f"{width}×{height} frames, short side {args.short_side}, {args.instances} instances, "
        f"torch {torch.__version__}, {args.threads} threads"
    )
    print(f"{'frames':>6} {'seconds':>9} {'fps':>7} {'steady fps':>11} {'peak RSS MB':>12}")
    peaks = []
    for frames in (int(f) for f in args.frames.split(",")):
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            str(frames),
            "--short-side",
            str(args.short_side),
            "--instances",
            str(args.instances),
            "--size",
            args.size,
            "--threads",
            str(args.threads),
        ]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        peaks.append(r["peak_rss_mb"])
        print(
            f"{frames:>6} {r['seconds']:>9.1f} {r['fps']:>7.3f} {r['steady_fps']:>11.3f} {r['peak_rss_mb']:>12.0f}",
            flush=True,
        )
    if len(peaks) > 1:
        print(f"peak RSS ratio (longest / shortest): {peaks[-1] / peaks[0]:.3f}")


if __name__ == "__main__":
    main()
