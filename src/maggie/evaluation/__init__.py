"""Benchmark evaluation: run a matter over HIM2K / M-HIM2K or V-HIM60 and score it.

``maggie.evaluate(matter, root, layout="him2k", out="results/")`` writes ``samples.csv`` and
``summary.csv`` and returns an :class:`EvaluationResult`; ``maggie eval`` is its command line.
"""

from .evaluate import ImageMatterLike, VideoMatterLike, evaluate
from .layouts import LAYOUTS, BadSample, Group
from .report import EvaluationResult, GroupResult

__all__ = [
    "evaluate",
    "EvaluationResult",
    "GroupResult",
    "Group",
    "BadSample",
    "LAYOUTS",
    "ImageMatterLike",
    "VideoMatterLike",
]
