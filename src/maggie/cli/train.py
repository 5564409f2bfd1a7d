"""``maggie train``: train or fine-tune a model from a YAML config.

A thin shell over :func:`maggie.training.train`.

Examples::

    maggie train --config configs/tiny.yaml
    maggie train --config configs/maggie_image.yaml data.train.root=data/I-HIM50K
    torchrun --nproc_per_node=4 --no-python maggie train --config configs/maggie_image.yaml ...
    maggie train --config configs/maggie_image.yaml --resume runs/maggie-image/checkpoints/last.pt
"""

from __future__ import annotations

import argparse
import logging
import os


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model from a YAML config",
        description="Train (or fine-tune) a MaGGIe model. Single process by default; launched by "
        "torchrun with several processes it trains with DDP.",
    )
    parser.add_argument("--config", required=True, help="training YAML (see configs/)")
    parser.add_argument("--resume", default=None, metavar="PATH", help="continue from this checkpoint")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="config overrides, e.g. max_steps=100 data.train.root=data",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..training import load_train_config, train

    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        format=f"%(asctime)s [rank {rank}] %(message)s",
        datefmt="%H:%M:%S",
    )
    config = load_train_config(args.config, args.overrides)
    result = train(config, resume=args.resume)
    logging.getLogger("maggie.train").info(
        "finished at step %d; last checkpoint %s; best MAD %s",
        result.step,
        result.last_checkpoint,
        result.best_score,
    )
    return 0
