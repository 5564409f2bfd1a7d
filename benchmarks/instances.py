"""One-pass instance matting versus once per instance, and sparse versus dense refinement.

Prints CPU wall time and peak memory for a 576×1024 input with n = 1, 3, 6, 10 instances:

* (a) the one-pass model (all instances in one forward pass, as MaGGIe does),
* (b) running the model once per instance (the instance-agnostic way),
* the refinement stage alone with the sparse path and with the dense masked path.

The model is the released image architecture with deterministic untrained weights. With
untrained weights the coarse matte is not person-shaped, so the uncertainty band is derived (via
the model's ``band_alpha`` input) from a soft matte of each person, as a trained model's coarse
matte would give: a thin band around each silhouette. The band's share of the image is printed.

Each measurement runs in a fresh subprocess, so "peak RSS" is that process's high-water mark.

    python benchmarks/instances.py [--threads 2] [--repeat 2] [--instances 1,3,6,10]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _scenes import people_scene, soft_alpha  # noqa: E402

H, W = 576, 1024


def _model():
    import maggie
    from maggie.weights import FIXTURE_MULTIPLIERS, synthetic_reference_weights

    model = maggie.build_model("maggie-image")
    maggie.load_reference_weights(model, synthetic_reference_weights(model, seed=3, multipliers=FIXTURE_MULTIPLIERS))
    return model.eval()


def _inputs(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    from maggie.inference.preprocess import Geometry, prepare_image, prepare_masks

    image, masks = people_scene(H, W, n)
    geo = Geometry.for_size(H, W, None)
    x = prepare_image(image, geo)[None, None]
    m = prepare_masks(masks, geo, downscale=False)[None, None]
    return x, m, soft_alpha(m)


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def worker(mode: str, n: int, repeat: int) -> dict[str, float]:
    model = _model()
    x, m, soft = _inputs(n)
    result: dict[str, float] = {}
    with torch.inference_mode():
        if mode == "one-pass":
            out = model(x, m, band_alpha=soft)
            result["band_percent"] = 100 * float(out.uncertainty.float().mean())
            result["seconds"] = _time(lambda: model(x, m, band_alpha=soft), repeat)
        elif mode == "per-instance":
            result["seconds"] = _time(
                lambda: [model(x, m[:, :, i : i + 1], band_alpha=soft[:, :, i : i + 1]) for i in range(n)], repeat
            )
        else:
            captured = {}

            def keep(module, args, kwargs, output):
                captured["args"], captured["kwargs"] = args, kwargs

            handle = model.refiner.register_forward_hook(keep, with_kwargs=True)
            model(x, m, band_alpha=soft)
            handle.remove()
            args = captured["args"]
            result["sites"] = float(args[3].sum())
            result["seconds"] = _time(lambda: model.refiner(*args, dense=(mode == "dense-refine")), repeat)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _spawn(mode: str, n: int, repeat: int, threads: int) -> dict[str, float]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        mode,
        "--n",
        str(n),
        "--repeat",
        str(repeat),
        "--threads",
        str(threads),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,3,6,10")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--worker", choices=["one-pass", "per-instance", "sparse-refine", "dense-refine"])
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.repeat)))
        return
    counts = [int(c) for c in args.instances.split(",")]
    print(f"input {H}×{W}, torch {torch.__version__}, {args.threads} threads, best of {args.repeat}")
    print(
        f"{'n':>3} {'band %':>7} {'one-pass s':>11} {'RSS MB':>7} {'per-inst s':>11} {'RSS MB':>7}"
        f" {'sparse ref s':>13} {'dense ref s':>12}"
    )
    rows = {}
    for n in counts:
        one = _spawn("one-pass", n, args.repeat, args.threads)
        per = _spawn("per-instance", n, args.repeat, args.threads)
        sparse = _spawn("sparse-refine", n, args.repeat, args.threads)
        dense = _spawn("dense-refine", n, args.repeat, args.threads)
        rows[n] = (one, per)
        print(
            f"{n:>3} {one['band_percent']:>7.1f} {one['seconds']:>11.2f} {one['peak_rss_mb']:>7.0f}"
            f" {per['seconds']:>11.2f} {per['peak_rss_mb']:>7.0f} {sparse['seconds']:>13.2f} {dense['seconds']:>12.2f}",
            flush=True,
        )
    if 1 in rows and max(counts) > 1:
        top = max(counts)
        print(
            f"t(n={top})/t(n=1): one-pass {rows[top][0]['seconds'] / rows[1][0]['seconds']:.2f}, "
            f"once per instance {rows[top][1]['seconds'] / rows[1][1]['seconds']:.2f}"
        )


if __name__ == "__main__":
    main()
